"""How the CLI speaks: one ``nacrith: ...`` line on stderr per problem, and the exit status.

Exit status follows gzip and zstd: 0 when every file succeeded, 1 when any failed (the
others still run), 2 for a usage error (click's own), 130 after Ctrl-C.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
from types import FrameType
from typing import Callable, Iterable, TypeVar

import click

from ..errors import NacrithError
from .files import Job, Refused

__all__ = ["Fatal", "Terminated", "say", "describe", "run_each", "interruptible"]

PROG = "nacrith"

F = TypeVar("F", bound=Callable[..., object])


class Fatal(click.ClickException):
    """A failure that ends the whole command (a missing model, say): ``nacrith: message``, exit 1."""

    def show(self, file: object = None) -> None:
        say(self.format_message())


def say(message: str) -> None:
    """A diagnostic on stderr, prefixed with the program name so it is clear who is speaking in a pipeline."""
    click.echo(f"{PROG}: {message}", err=True)


def describe(exc: BaseException) -> str:
    """One line for an expected failure: the OS's words for OSError, the API's own message otherwise."""
    if isinstance(exc, OSError) and exc.strerror:
        if exc.filename is not None:
            return f"{os.fsdecode(exc.filename)}: {exc.strerror}"
        return exc.strerror
    return str(exc) or type(exc).__name__


def run_each(jobs: Iterable[Job], action: Callable[[Job], None]) -> bool:
    """Run ``action`` on every job, reporting each failure against its file; True when all succeeded.

    A broken pipe is not one file's problem (the reader went away), so it ends the command;
    click then exits 1 quietly, as a filter should.
    """
    ok = True
    for job in jobs:
        try:
            action(job)
        except BrokenPipeError:
            raise
        except (NacrithError, OSError, Refused) as exc:
            ok = False
            message = describe(exc)
            prefix = f"{job.name}: "
            say(message if message.startswith(prefix) else prefix + message)
    return ok


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwinds like Ctrl-C, so partial outputs are removed on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_TERMINATING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
"""Signals that end a command the way Ctrl-C does (``kill``, a closed terminal)."""


_CALLBACKS = frozenset({"_silent_log"})
"""Python functions llama.cpp calls back through ctypes, which swallows any exception raised in them."""


def _swallowed_there(signum: int, frame: FrameType | None) -> bool:
    """Whether the signal landed inside a ctypes callback, where its exception would be printed and
    dropped (and the command would go on, then exit 0); if so, it is sent again in a moment."""
    if frame is None or frame.f_code.co_name not in _CALLBACKS:
        return False
    threading.Timer(0.02, os.kill, (os.getpid(), signum)).start()
    return True


def _terminate(signum: int, frame: FrameType | None) -> None:
    if not _swallowed_there(signum, frame):
        raise Terminated(signum)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    if not _swallowed_there(signum, frame):
        raise KeyboardInterrupt


def interruptible(command: F) -> F:
    """Turn Ctrl-C into exit status 130 (128 + SIGINT), not click's "Aborted!" and 1; SIGTERM and SIGHUP
    into 128 + their number, after the same clean-up.

    Partial outputs are already gone by then: files.output_stream removes them on any exception.
    """

    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> object:
        main_thread = threading.current_thread() is threading.main_thread()
        handlers = {s: _terminate for s in _TERMINATING}
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when started with SIGINT ignored
            handlers[signal.SIGINT] = _interrupt
        previous = {s: signal.signal(s, h) for s, h in handlers.items()} if main_thread else {}
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            say("interrupted")
            raise click.exceptions.Exit(130) from None
        except Terminated as exc:
            say(f"terminated by {signal.Signals(exc.signum).name}")
            raise click.exceptions.Exit(128 + exc.signum) from None
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    return wrapper  # type: ignore[return-value]
