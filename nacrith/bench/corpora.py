"""The named benchmark corpora: which files ``--corpus canterbury`` and ``--corpus enwik8`` mean.

Both live beside a source checkout, not in the installed package: the four Canterbury
texts vendored in ``corpora/``, the full eleven-file set in ``$NACRITH_CORPORA/canterbury``
or ``../shared/corpora/canterbury`` when there, and enwik8 through
``corpora/fetch_enwik8.py``, which finds, downloads and verifies it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["NAMES", "CorpusError", "Corpus", "resolve", "fetch_module", "CORPORA_ENV"]

REPO = Path(__file__).resolve().parents[2]
VENDORED = REPO / "corpora"
SHARED = REPO.parent / "shared" / "corpora"
CORPORA_ENV = "NACRITH_CORPORA"
VENDORED_CANTERBURY = ("alice29.txt", "asyoulik.txt", "lcet10.txt", "plrabn12.txt")
NAMES = ("canterbury", "enwik8")


class CorpusError(Exception):
    """A named corpus is not available; the message says what to do."""


class Corpus:
    """The files of a corpus, and a note for anyone reading results made from them."""

    def __init__(self, name: str, files: list[Path], note: str = "", file_notes: dict[Path, str] | None = None) -> None:
        self.name, self.files, self.note = name, files, note
        self.file_notes = file_notes or {}


def _roots() -> list[Path]:
    env = os.environ.get(CORPORA_ENV)
    return ([Path(env).expanduser()] if env else []) + [SHARED]


def canterbury() -> Corpus:
    """The full Canterbury corpus when one is next to the checkout, else the four vendored texts."""
    for root in _roots():
        for folder in (root / "canterbury", root):
            if (folder / "alice29.txt").is_file():
                files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
                return Corpus("canterbury", files, f"the Canterbury corpus, {len(files)} files, from {folder}")
    files = [VENDORED / name for name in VENDORED_CANTERBURY]
    missing = [p for p in files if not p.is_file()]
    if missing:
        raise CorpusError(
            f"the Canterbury texts are not here ({missing[0]}): --corpus needs a source checkout, "
            f"or set {CORPORA_ENV} to a folder holding canterbury/"
        )
    return Corpus("canterbury", files, f"the 4 Canterbury texts vendored in {VENDORED} (the full set: set {CORPORA_ENV})")


def fetch_module() -> ModuleType:
    """corpora/fetch_enwik8.py, imported once (it is a script beside the package, not part of it)."""
    name = "fetch_enwik8"
    module = sys.modules.get(name)
    if module is not None and Path(getattr(module, "__file__", "")).resolve() == VENDORED / "fetch_enwik8.py":
        return module
    script = VENDORED / "fetch_enwik8.py"
    if not script.is_file():
        raise CorpusError(f"{script} is missing: --corpus enwik8 needs a source checkout; or pass the enwik8 file itself")
    spec = importlib.util.spec_from_file_location(name, script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def enwik8(download: bool = True) -> Corpus:
    fetch = fetch_module()
    try:
        found = fetch.locate(download=download)
    except fetch.FetchError as exc:
        raise CorpusError(str(exc)) from None
    where = f"enwik8 from {found.path}" if found.full else f"only a prefix of enwik8, from {found.path}"
    return Corpus("enwik8", [found.path], where, {found.path: found.note} if found.note else None)


def resolve(name: str, *, download: bool = True) -> Corpus:
    if name == "canterbury":
        return canterbury()
    if name == "enwik8":
        return enwik8(download)
    raise CorpusError(f"unknown corpus {name!r}; choose from {', '.join(NAMES)}")
