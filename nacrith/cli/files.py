"""Where a command reads and writes: file names, stdio, and output that is never left half-written.

The conventions are gzip's and zstd's. ``-`` (or no FILE) is stdin, whose result goes to
stdout. ``FILE`` compresses to ``FILE.nacr`` and back. An existing output is refused, and
left untouched, unless ``--force``. Output gets its name only when complete, so a failure
or a signal leaves the old state behind. This module decides nothing about coding; it never
imports the API.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import click

from ..atomic import TargetExists, atomic_output

__all__ = [
    "SUFFIX",
    "STDIO",
    "Refused",
    "Job",
    "plan",
    "is_terminal",
    "open_source",
    "check_job",
    "output_stream",
    "binary_stdio",
    "hold_closed_stdio",
]

SUFFIX = ".nacr"
"""The archive suffix that ``compress`` appends and ``decompress`` strips."""

STDIO = "-"
"""The name that means stdin as an input and stdout as an output, as in every Unix filter."""

class Refused(Exception):
    """A file the CLI will not process; the message says why and what to do instead."""


@dataclass(frozen=True)
class Job:
    """One input and where its result goes: a path, ``-`` for stdout, or None to discard it (``test``)."""

    source: str
    target: str | None

    @property
    def name(self) -> str:
        """How messages name the input."""
        return "<stdin>" if self.source == STDIO else self.source

    @property
    def target_name(self) -> str:
        return "<stdout>" if self.target == STDIO else str(self.target)


def plan(sources: tuple[str, ...], output: str | None, to_stdout: bool, command: str) -> list[Job]:
    """Pair every input with its output for ``command`` (compress, decompress or test).

    Raises click.UsageError for combinations no file could satisfy (exit status 2); a problem
    with one file's name is left for that file's turn, so the other files still get done.
    """
    sources = sources or (STDIO,)
    if output is not None and to_stdout:
        raise click.UsageError("-o/--output and -c/--stdout are exclusive: choose one destination")
    if output is not None and len(sources) > 1:
        raise click.UsageError(f"-o/--output names one file, but {len(sources)} inputs were given")
    if sources.count(STDIO) > 1:
        raise click.UsageError("stdin ('-') can be read only once")
    jobs = []
    for source in sources:
        if command == "test":
            target = None
        elif output is not None:
            target = output
        elif to_stdout or source == STDIO:
            target = STDIO
        else:
            target = _default_target(source, command)
        jobs.append(Job(source, target))
    return jobs


def _default_target(source: str, command: str) -> str:
    """FILE -> FILE.nacr, FILE.nacr -> FILE; an empty string marks a name to refuse at its turn."""
    if command == "compress":
        return source + SUFFIX
    head, base = os.path.split(source)
    if not base.endswith(SUFFIX) or base == SUFFIX:
        return ""
    return os.path.join(head, base[: -len(SUFFIX)])


def is_terminal(stream: str) -> bool:
    """Whether ``stdin``, ``stdout`` or ``stderr`` is a terminal (one place, so tests can pretend)."""
    handle = getattr(sys, stream)
    try:
        return bool(handle.isatty())
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def binary_stdio(name: str) -> BinaryIO:
    """stdin or stdout as a binary stream; Refused when the process was started with it closed (``<&-``)."""
    try:
        return click.get_binary_stream(name)  # type: ignore[arg-type]
    except RuntimeError:  # sys.stdin or sys.stdout is None: Python found the descriptor closed
        raise Refused(f"cannot {'read from stdin' if name == 'stdin' else 'write to stdout'}: it is closed") from None


def hold_closed_stdio() -> None:
    """Give descriptors 0 to 2, if the process started with them closed, to /dev/null in the wrong direction.

    Otherwise the next file opened would take a closed one's number, and anything written to
    stdout (a worker process's, say) would land in it. Opened the wrong way round, as xz does,
    they fail every read or write instead: sys.stdin and sys.stdout stay None, and
    :func:`binary_stdio` says so.
    """
    for fd, flags in ((0, os.O_WRONLY), (1, os.O_RDONLY), (2, os.O_RDONLY)):
        try:
            os.fstat(fd)
        except OSError:
            with suppress(OSError):
                os.open(os.devnull, flags)  # the lowest free number: this one, as the lower ones are open


@contextmanager
def open_source(source: str) -> Iterator[tuple[BinaryIO, os.stat_result | None]]:
    """The input as a binary stream, with its stat when it is a regular file (size and metadata to keep)."""
    if source == STDIO:
        yield _buffered(binary_stdio("stdin")), None
        return
    with open(source, "rb") as stream:
        info = os.fstat(stream.fileno())
        yield stream, info if stat.S_ISREG(info.st_mode) else None


def _buffered(stream: BinaryIO) -> BinaryIO:
    """A standard stream that reads and writes whole buffers.

    click (8.2 on) hands out the raw descriptor, whose write() may take only part of the bytes
    (a pipe whose reader left, a signal) and say so only in its return value: a caller that
    writes and moves on would lose the rest without a word. A buffered layer writes all or raises.
    """
    if isinstance(stream, io.RawIOBase):
        return io.BufferedWriter(stream) if stream.writable() else io.BufferedReader(stream)  # type: ignore[return-value]
    return stream


def check_job(job: Job, *, command: str, force: bool) -> None:
    """Refuse, before any work, an output that exists (without --force) or that would be unwise.

    Like gzip, an input already named .nacr is not compressed again unless forced (it is most
    likely an archive already). Like zstd, compressed bytes are not written to a terminal unless
    forced: they would only garble it. An output that is the input itself is refused even with
    --force, since --rm would then delete the result.
    """
    if command == "compress" and job.source.endswith(SUFFIX) and not force:
        raise Refused(f"already has the {SUFFIX} suffix; left unchanged (use -f to compress it again)")
    if command != "compress" and job.source == STDIO and not force and is_terminal("stdin"):
        raise Refused("refusing to read compressed data from a terminal; redirect stdin, or use -f to force")
    if job.target is None:
        return
    if job.target == "":
        raise Refused(f"the name does not end in {SUFFIX}; give the output name with -o, or use -c")
    if job.target == STDIO:
        if command == "compress" and not force and is_terminal("stdout"):
            raise Refused("refusing to write compressed data to a terminal; redirect stdout, or use -f to force")
        return
    if os.path.isdir(job.target):
        raise Refused(f"cannot write {job.target}: it is a directory")
    if not os.path.lexists(job.target):
        return
    if job.source != STDIO and os.path.exists(job.target) and os.path.samefile(job.source, job.target):
        raise Refused(f"the output {job.target} is the input itself")
    if not force:
        raise Refused(f"{job.target} already exists; use -f to overwrite it")


@contextmanager
def output_stream(target: str, *, force: bool, like: os.stat_result | None = None) -> Iterator[BinaryIO]:
    """A stream whose bytes appear under ``target`` only when the block ends without an exception.

    For a path, the bytes go to a file with no name yet in the target's directory
    (:func:`nacrith.atomic.atomic_output`), which gets the target's name on success: a failure,
    Ctrl-C, SIGTERM, even SIGKILL leave nothing behind. Without ``force`` an existing target is
    never replaced, even one that appeared meanwhile. ``like``'s permission bits and times are
    copied, as gzip does. No fsync: a compressor is not a database, and gzip and zstd skip it too.
    For ``-`` it is stdout, which cannot be taken back.
    """
    if target == STDIO:
        stdout = _buffered(binary_stdio("stdout"))
        yield stdout
        stdout.flush()
        return
    try:
        with atomic_output(target, replace=force, mode=stat.S_IMODE(like.st_mode) if like else None) as stream:
            yield stream
            stream.flush()
            if like is not None:
                os.utime(stream.fileno(), ns=(like.st_atime_ns, like.st_mtime_ns))
    except TargetExists:
        raise Refused(f"{target} appeared while writing it; not overwritten (use -f to overwrite)") from None
