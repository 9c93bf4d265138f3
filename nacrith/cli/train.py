"""``nacrith train``: sample files in, a dictionary file out (:mod:`nacrith.dictionary.train` does the work)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .. import NacrithError
from ..atomic import TargetExists, atomic_output
from ..constants import DEFAULT_WINDOW
from ..dictionary.train import DEFAULT_PRIMER_BYTES, learn
from .options import ByteSize, check_coding_options, model_options, verbosity_options, window_option
from .report import Fatal, describe, interruptible, say

__all__ = ["train_command"]

MAX_SAMPLE_BYTES = 1 << 20
"""A sample is one small document; a bigger file is not what a dictionary is for (and would be one lane alone)."""


def _sample_files(paths: tuple[str, ...]) -> list[Path]:
    """The files named, and the files under the folders named (sorted, hidden ones left out)."""
    out: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
        else:
            out.append(path)
    return out


def _read(files: list[Path]) -> list[bytes]:
    samples = []
    for path in files:
        try:
            size = path.stat().st_size
            if size > MAX_SAMPLE_BYTES:
                raise Fatal(f"{path}: {size:,} bytes; a sample is one small document (at most {MAX_SAMPLE_BYTES:,} bytes)")
            samples.append(path.read_bytes())
        except OSError as exc:
            raise Fatal(describe(exc)) from None
    return samples


@click.command(name="train")
@click.argument("samples", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("-o", "--output", metavar="FILE", required=True, type=click.Path(dir_okay=False), help="The dictionary file to write (e.g. family.nacrd).")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output.")
@click.option(
    "--primer-bytes",
    type=ByteSize(),
    default=DEFAULT_PRIMER_BYTES,
    show_default=True,
    help="Budget of the primer, typical samples every lane starts from (0: none). Training measures a few "
    "primers within it and keeps the best.",
)
@click.option("--ensemble/--no-ensemble", default=True, show_default=True, help="Learn the ensemble's start too, or a primer alone.")
@window_option(DEFAULT_WINDOW)
@model_options
@verbosity_options
@interruptible
def train_command(
    samples: tuple[str, ...],
    output: str,
    force: bool,
    primer_bytes: int,
    ensemble: bool,
    window: int,
    model: str | None,
    threads: int,
    quiet: int,
    verbose: int,
) -> None:
    """Make a dictionary from SAMPLES, documents of one family (files, or folders of them).

    Small documents of one kind (records, mails, tickets, log lines) share most of what a
    model must learn of them, and a short one is over before the ensemble has learned it.
    A dictionary holds it once: a primer (typical samples, chosen by measuring a few on
    held-out samples) that every lane starts from, and the ensemble's tables learned by
    coding the samples. Archives made with it (-D) record its identity and decode only
    with it, and with the model it was trained for. A few hundred samples are plenty;
    training codes each once with the model.

    \b
    Examples:
      nacrith train samples/ -o records.nacrd
      nacrith compress -D records.nacrd new/*.bib
      nacrith decompress -D records.nacrd new/*.bib.nacr
    """
    threads_or_none = threads or None
    check_coding_options(window=window, model=model, threads=threads_or_none)  # a bad --model fails before the reading
    if os.path.exists(output) and not force:
        raise Fatal(f"{output} already exists; use -f to overwrite it")
    data = _read(_sample_files(samples))
    report = say if verbose - quiet >= 1 else None
    try:
        trained = learn(data, model=model, primer_bytes=primer_bytes, ensemble=ensemble, window=window, threads=threads_or_none, report=report)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except NacrithError as exc:
        raise Fatal(describe(exc)) from None
    try:
        with atomic_output(output, replace=force) as stream:
            stream.write(trained.data)
    except TargetExists:
        raise Fatal(f"{output} appeared while training; use -f to overwrite it") from None
    except OSError as exc:
        raise Fatal(describe(exc)) from None
    if verbose - quiet >= 0:
        left_out = f", {trained.skipped} left out (not text the model codes)" if trained.skipped else ""
        say(
            f"{output}: {len(trained.data):,} bytes from {trained.samples} samples{left_out}; "
            f"primer: {trained.primer} ({trained.primer_tokens} tokens)"
        )
