"""The named benchmark corpora: which files ``--corpus canterbury`` and ``--corpus enwik8`` mean.

Nothing here depends on a source checkout, so an installed nacrith benchmarks as a
checkout does. The four public-domain Canterbury texts ship inside the package
(``nacrith/bench/canterbury/``, with their SHA-256 list); the full eleven-file set is
used instead when ``$NACRITH_CORPORA/canterbury`` holds it. enwik8 is found, or
downloaded and verified, by :mod:`.enwik8`.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import enwik8 as enwik8_files
from .enwik8 import CORPORA_ENV

__all__ = ["NAMES", "CorpusError", "Corpus", "resolve", "CORPORA_ENV", "PACKAGED", "PACKAGED_CANTERBURY"]

PACKAGED = Path(__file__).resolve().with_name("canterbury")
"""The Canterbury texts installed with the package (as pip installs it: unpacked, so they are files)."""
PACKAGED_CANTERBURY = ("alice29.txt", "asyoulik.txt", "lcet10.txt", "plrabn12.txt")
NAMES = ("canterbury", "enwik8")


class CorpusError(Exception):
    """A named corpus is not available; the message says what to do."""


class Corpus:
    """The files of a corpus, and a note for anyone reading results made from them."""

    def __init__(self, name: str, files: list[Path], note: str = "", file_notes: dict[Path, str] | None = None) -> None:
        self.name, self.files, self.note = name, files, note
        self.file_notes = file_notes or {}


def canterbury() -> Corpus:
    """The full Canterbury corpus from ``$NACRITH_CORPORA`` when it is there, else the four packaged texts."""
    env = os.environ.get(CORPORA_ENV)
    if env:
        root = Path(env).expanduser()
        for folder in (root / "canterbury", root):
            if (folder / "alice29.txt").is_file():
                files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
                return Corpus("canterbury", files, f"the Canterbury corpus, {len(files)} files, from {folder}")
    files = [PACKAGED / name for name in PACKAGED_CANTERBURY]
    missing = [p for p in files if not p.is_file()]
    if missing:
        raise CorpusError(f"{missing[0]} is missing from the installed package: reinstall nacrith, or set {CORPORA_ENV} to a folder holding canterbury/")
    return Corpus("canterbury", files, f"the 4 Canterbury texts packaged in {PACKAGED} (the full set: set {CORPORA_ENV})")


def enwik8(download: bool = True) -> Corpus:
    try:
        found = enwik8_files.locate(download=download)
    except enwik8_files.FetchError as exc:
        raise CorpusError(str(exc)) from None
    where = f"enwik8 from {found.path}" if found.full else f"only a prefix of enwik8, from {found.path}"
    return Corpus("enwik8", [found.path], where, {found.path: found.note} if found.note else None)


def resolve(name: str, *, download: bool = True) -> Corpus:
    if name == "canterbury":
        return canterbury()
    if name == "enwik8":
        return enwik8(download)
    raise CorpusError(f"unknown corpus {name!r}; choose from {', '.join(NAMES)}")
