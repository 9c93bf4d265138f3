"""``nacrith windows``: text to equal-info windows as a token array (.npy + .json), and back.

It wires options to :mod:`nacrith.equal_info`: encode writes ``X.npy`` and ``X.json`` (never over
existing files without -f, never half-written), decode reads them and writes the text.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from .. import NacrithError
from ..constants import MAGIC
from ..atomic import TargetExists, atomic_output
from . import files
from .options import model_options
from .report import Fatal, describe, interruptible

__all__ = ["windows_command"]


@click.command(name="windows")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--bits", type=int, default=128, show_default=True, help="W: bits per window (16 to 65536, a multiple of 8).")
@click.option("--token-bits", type=click.Choice(["8", "16"]), default=None, help="Bits per exported token  [default: 16 when it divides W, else 8]")
@click.option("-d", "--decode", is_flag=True, help="Read FILE (X.npy, its X.json beside it) and write the text back.")
@click.option("--range", "byte_range", metavar="START:END", help="With --decode: only the text bytes START to END, from the windows that hold them.")
@click.option("-o", "--output", metavar="PATH", help="Encode: the .npy to write (default FILE.windows.npy); decode: the text ('-' for stdout).")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing outputs.")
@click.option("--lanes", type=click.IntRange(1, 256), default=8, show_default=True, help="Windows coded side by side.")
@model_options
@interruptible
def windows_command(
    file: str, bits: int, token_bits: str | None, decode: bool, byte_range: str | None, output: str | None, force: bool, lanes: int, model: str | None, threads: int
) -> None:
    """Cut FILE into equal-info windows of exactly --bits bits each, or (--decode) turn windows back into text.

    Every window decodes alone (the model starts each one from the same state), so the
    windows are tokens a second model can be trained on: X.npy holds one row per window,
    X.json the model, the settings, and the text offset of every window. FILE may also be
    an archive made with 'compress --equal-info W': its windows are exported as they are.

    \b
    Examples:
      nacrith windows notes.txt --bits 16 --token-bits 16 -o notes.windows.npy
      nacrith windows --decode notes.windows.npy -o notes.txt
      nacrith windows --decode notes.windows.npy --range 1000:2000 -o -
      nacrith windows notes.txt.nacr -o notes.windows.npy   # an --equal-info archive's windows
    """
    import nacrith.equal_info as ei

    try:
        if decode:
            windows = ei.Windows.load(file)
            select = windows.covering(*_range(byte_range)) if byte_range else None
            data = ei.decode(windows, select=select, model=model, threads=threads or None)
            if select is not None:
                start, end = _range(byte_range)
                data = data[start - windows.offsets[select[0]] : end - windows.offsets[select[0]]]
            target = output or (str(Path(file).with_suffix("")).removesuffix(".windows") if file.endswith(".windows.npy") else None)
            if target is None:
                raise click.UsageError("give the text's name with -o (or -o - for stdout)")
            _write(target, data, force)
            return
        if byte_range:
            raise click.UsageError("--range goes with --decode")
        if output == "-" or (file == "-" and output is None):
            raise click.UsageError("windows are two files, X.npy and X.json: give -o X.npy")
        target = Path(output or f"{file}.windows.npy")
        if target.suffix != ".npy":
            raise click.UsageError(f"{target}: the token array's name ends in .npy (its JSON goes beside it)")
        for path in (target, target.with_suffix(".json")):
            if path.exists() and not force:
                raise Fatal(f"{path} already exists; use -f to overwrite it")
        with files.open_source(file) as (stream, _):
            data = stream.read()
        if data.startswith(MAGIC):  # an archive of windows already: export them as they are, no model needed
            result = ei.from_archive(data)
        else:
            result = ei.encode(data, bits=bits, token_bits=int(token_bits) if token_bits else None, model=model, lanes=lanes, threads=threads or None)
        _save(result, target)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except (NacrithError, OSError) as exc:
        raise Fatal(describe(exc)) from None


def _range(text: str | None) -> tuple[int, int]:
    start, _, end = (text or "").partition(":")
    if not (start.isdigit() and end.isdigit()) or int(start) >= int(end):
        raise click.UsageError(f"--range {text}: give START:END, two byte offsets with START < END")
    return int(start), int(end)


def _save(windows, target: Path) -> None:  # windows: nacrith.equal_info.Windows
    """X.npy and X.json, each written under another name first and renamed when complete."""
    with tempfile.TemporaryDirectory(dir=target.parent or ".") as scratch:
        meta = windows.save(Path(scratch) / target.name)
        os.replace(Path(scratch) / target.name, target)
        os.replace(meta, target.with_suffix(".json"))


def _write(target: str, data: bytes, force: bool) -> None:
    if target == files.STDIO:
        click.get_binary_stream("stdout").write(data)
        return
    try:
        with atomic_output(target, replace=force) as stream:
            stream.write(data)
    except TargetExists:
        raise Fatal(f"{target} already exists; use -f to overwrite it") from None
