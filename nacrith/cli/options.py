"""Options that several commands share, defined once so their names and help cannot drift apart."""

from __future__ import annotations

import functools
from typing import Any, Callable

import click

from .. import NacrithCompressor, NacrithError
from ..constants import DEFAULT_LANES, DEFAULT_WINDOW
from ..models.registry import DEFAULT_MODEL_FILE, MODEL_ENV
from .report import Fatal, describe

__all__ = [
    "apply",
    "output_options",
    "verbosity_options",
    "model_options",
    "lanes_option",
    "window_option",
    "ByteSize",
    "memory_option",
    "workers_option",
    "ray_option",
    "gpu_option",
    "backend_options",
    "adapt_option",
    "dictionary_option",
    "load_dictionary",
    "check_coding_options",
]


def apply(*decorators: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Apply click options in reading order (click applies decorators bottom-up)."""
    return lambda command: functools.reduce(lambda f, option: option(f), reversed(decorators), command)


output_options = apply(
    click.option("-o", "--output", metavar="PATH", help="Write to PATH ('-' for stdout). One input only."),
    click.option("-c", "--stdout", "to_stdout", is_flag=True, help="Write to stdout; inputs are kept."),
    click.option("-f", "--force", is_flag=True, help="Overwrite existing outputs; allow compressed data to or from a terminal."),
    click.option("-k", "--keep/--rm", default=True, help="Keep each input (default), or remove it once its output is complete."),
)

verbosity_options = apply(
    click.option("-q", "--quiet", count=True, help="No progress bar or warnings; errors only."),
    click.option("-v", "--verbose", count=True, help="A summary line per file on stderr."),
)

model_options = apply(
    click.option(
        "--model",
        metavar="GGUF",
        type=click.Path(dir_okay=False),
        help=f"Model file or preset name (default: ${MODEL_ENV}, else the embedded {DEFAULT_MODEL_FILE}). Decoding needs the same model.",
    ),
    click.option(
        "-T",
        "--threads",
        type=click.IntRange(min=0),
        default=0,
        help="llama.cpp threads (0: every core this process may use). Use fewer when other work shares the "
        "cores: llama.cpp's threads spin and slow down badly when oversubscribed.",
    ),
)


def lanes_option(default: int | None = None) -> Callable[[Any], Any]:
    return click.option("--lanes", type=click.IntRange(min=1), default=default, help=f"Chunks coded side by side  [default: {DEFAULT_LANES}]")


def window_option(default: int | None = None) -> Callable[[Any], Any]:
    return click.option("--window", type=click.IntRange(min=1), default=default, help=f"Tokens of context the model sees  [default: {DEFAULT_WINDOW}]")


class ByteSize(click.ParamType):
    """A size in bytes: ``65536``, ``64K``, ``64KiB``, ``1M``, ``1MB`` (powers of 1024, as zstd's sizes)."""

    name = "BYTES"
    _UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().upper().removesuffix("IB").removesuffix("B")
        unit = text[-1:] if text[-1:] in self._UNITS and text[-1:] else ""
        number = text[: len(text) - len(unit)]
        if not number.isdigit():
            self.fail(f"{value!r} is not a size (e.g. 65536, 64K, 1M)", param, ctx)
        return int(number) * self._UNITS[unit]


def _positive(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise click.BadParameter("give a size of at least 1 byte (e.g. 512M, 8G)")
    return value


memory_option = click.option(
    "--memory",
    "memory_limit",
    metavar="LIMIT",
    type=ByteSize(),
    callback=_positive,
    help="Refuse an archive whose decoding needs more memory than LIMIT (e.g. 512M, 8G), before allocating it  "
    "[default: half the memory, at most 4G]. With -j, each worker has the limit.",
)

workers_option = click.option(
    "-j",
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes that code segments side by side, each with its own model; -T threads are split among them. "
    "The archive is the same for any number.",
)

ray_option = click.option(
    "--ray",
    metavar="ADDRESS",
    help="Code segments on a Ray cluster (pip install \"nacrith[ray]\"): its address, 'auto' for the cluster this "
    "machine is in, 'local' to start one here. --workers sets the actors (default: one per CPU of the cluster).",
)

gpu_option = click.option(
    "--gpu", is_flag=True, help="Run the model on CUDA GPUs (worker i on GPU i; needs llama-cpp-python built with CUDA). "
    "An archive made on a GPU decodes only on a GPU."
)


def backend_options(decoding: bool) -> Callable[[Any], Any]:
    """--backend and --device: what runs the model (to decode, the archive's backend unless one is named)."""
    default = "the archive's" if decoding else "llama"
    return apply(
        click.option(
            "--backend",
            type=click.Choice(["llama", "torch"]),
            default=None,
            help=f"Run the model with llama.cpp or with PyTorch (pip install \"nacrith[torch]\"): the same model, other "
            f"logits, so an archive decodes only with the backend that made it  [default: {default}]",
        ),
        click.option(
            "--device",
            metavar="DEVICE",
            help="torch's device: cpu (default), cuda or cuda:N. An archive made on a GPU decodes only on a GPU.",
        ),
    )


adapt_option = click.option(
    "--adapt",
    is_flag=True,
    default=None,
    help="With --backend torch: the model keeps learning the text as it codes it (dynamic evaluation), and the "
    "decoder learns the same. Slower; on a short text it saved nothing (BENCHMARKS.md).",
)


dictionary_option = click.option(
    "-D",
    "--dictionary",
    "dictionary",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="A dictionary made by 'nacrith train' for this family of documents. An archive made with one "
    "decodes only with the same one.",
)


def load_dictionary(path: str | None) -> Any:
    """The -D file, loaded once for all the command's files; a bad one ends the command (exit 1)."""
    if path is None:
        return None
    from ..dictionary import Dictionary

    try:
        return Dictionary.load(path)
    except (NacrithError, OSError) as exc:
        raise Fatal(describe(exc)) from None


def check_coding_options(**chosen: Any) -> None:
    """Fail once, before any file, for settings no file could be coded with or a model that is not there:
    a bad value is a usage error (exit 2), a missing model a failure (exit 1)."""
    chosen = {key: value for key, value in chosen.items() if value is not None and key not in ("workers", "gpu")}
    try:
        NacrithCompressor(**chosen)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except NacrithError as exc:
        raise Fatal(describe(exc)) from None
