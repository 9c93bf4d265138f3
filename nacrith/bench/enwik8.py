"""Find enwik8, or download and verify it: ``python -m nacrith.bench.enwik8 [--no-download] [--dest PATH]``.

enwik8 is the first 100,000,000 bytes of an English Wikipedia XML dump (2006), the
Large Text Compression Benchmark's test file. This looks, in order, for:

1. ``$NACRITH_CORPORA/enwik8``: a file, or a folder holding ``enwik8`` or
   ``enwik8.prefix-4154399``, only the first 4,154,399 bytes of enwik8, and said so
   wherever it is used;
2. ``enwik8`` in the user's cache (``$XDG_CACHE_HOME/nacrith/corpora``), where a download lands;

and otherwise downloads enwik8.zip from the benchmark's site, checks the zip's size and
SHA-256, unzips it and checks enwik8's size and SHA-256 before the file gets its name
(:func:`nacrith.atomic.atomic_output`: a failed or interrupted download leaves nothing).
Every file found is checked the same way before use. Nothing happens at import. Offline,
it says where to put the file by hand and exits with status 1.

The checksums are the ones published alongside enwik8 by several independent projects
(the benchmark's own page lists none); enwik8's own SHA-256 is the one that decides, since
it is the data. ``nacrith bench --corpus enwik8`` calls :func:`locate`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable

from ..atomic import atomic_output, sha256_file
from ..models.registry import cache_dir

__all__ = ["Found", "FetchError", "locate", "fetch", "verify", "main", "CORPORA_ENV"]

URL = "http://mattmahoney.net/dc/enwik8.zip"
ZIP_BYTES = 36_445_475
ZIP_SHA256 = "547994d9980ebed1288380d652999f38a14fe291a6247c157c3d33d4932534bc"
ENWIK8_BYTES = 100_000_000
ENWIK8_SHA256 = "2b49720ec4d78c3c9fabaee6e4179a5e997302b3a70029f30f2d582218c024a8"

PREFIX_NAME = "enwik8.prefix-4154399"
PREFIX_BYTES = 4_154_399
PREFIX_SHA256 = "d502ac7ecb9dd47a062e7d19b8dcd3c753b07c142e48b13dcd521cb747116bdd"
"""As listed in the shared benchmark corpora's SHA256SUMS."""

CORPORA_ENV = "NACRITH_CORPORA"

TIMEOUT = 60
"""Seconds without data before a download counts as failed."""

_BLOCK = 1 << 20
"""Bytes copied at a time: neither the zip nor enwik8 is ever held in memory whole."""

urlopen: Callable[..., Any] = urllib.request.urlopen
"""The opener downloads go through; tests replace it, so no test ever touches the network."""


class FetchError(Exception):
    """enwik8 is neither here nor downloadable; the message says what to do."""


@dataclass(frozen=True)
class Found:
    path: Path
    full: bool
    """False for the 4 MB prefix."""

    @property
    def note(self) -> str:
        if self.full:
            return ""
        return f"{self.path.name}: the first {PREFIX_BYTES:,} bytes of enwik8, not the full {ENWIK8_BYTES:,}"


def _say(message: str) -> None:
    print(f"nacrith.bench.enwik8: {message}", file=sys.stderr)


def verify(path: Path, size: int, sha256: str) -> str | None:
    """What is wrong with ``path`` (its size first: cheap), or None when it is the expected file."""
    actual = path.stat().st_size
    if actual != size:
        return f"{actual:,} bytes, expected {size:,}"
    digest = sha256_file(path)
    if digest != sha256:
        return f"sha256 {digest}, expected {sha256}"
    return None


def env_root() -> Path | None:
    value = os.environ.get(CORPORA_ENV)
    return Path(value).expanduser() if value else None


def default_destination() -> Path:
    """Where a download goes: enwik8 in the user's cache (the corpora folder may be shared, or read-only)."""
    return cache_dir() / "corpora" / "enwik8"


def candidates() -> list[tuple[Path, bool]]:
    """(path, is the full file), in the order they are preferred."""
    found: list[tuple[Path, bool]] = []
    root = env_root()
    if root is not None:
        found += [(root / "enwik8", True), (root / "enwik8" / "enwik8", True), (root / "enwik8" / PREFIX_NAME, False)]
    found.append((default_destination(), True))
    return found


def instructions(destination: Path) -> str:
    """What to do by hand when this machine cannot download (lines after the first, indented)."""
    return (
        "\n  To benchmark on enwik8, by hand:"
        f"\n  1. where a network allows, download {URL} ({ZIP_BYTES:,} bytes, sha256 {ZIP_SHA256});"
        f"\n  2. unzip it and copy enwik8 ({ENWIK8_BYTES:,} bytes, sha256 {ENWIK8_SHA256})"
        f"\n     to {destination}, or to $NACRITH_CORPORA/enwik8 with {CORPORA_ENV} set to a folder of your choice."
        "\n  It is verified before use."
    )


def locate(*, download: bool = True, destination: Path | None = None) -> Found:
    """The best enwik8 available, verified; downloads it only when there is none and ``download``."""
    for path, full in candidates():
        if not path.is_file():
            continue
        problem = verify(path, ENWIK8_BYTES, ENWIK8_SHA256) if full else verify(path, PREFIX_BYTES, PREFIX_SHA256)
        if problem:
            raise FetchError(f"{path} is not {'enwik8' if full else PREFIX_NAME}: {problem}; remove or replace it")
        return Found(path, full)
    destination = destination or default_destination()
    if not download:
        raise FetchError(f"enwik8 not found{instructions(destination)}")
    return Found(fetch(destination), True)


def _copy(source: Any, target: IO[bytes], limit: int) -> tuple[int, str]:
    """(bytes copied, their SHA-256), stopping after ``limit + 1`` bytes: an oversized source shows
    without being read whole."""
    digest = hashlib.sha256()
    size = 0
    while size <= limit:
        block = source.read(min(_BLOCK, limit + 1 - size))
        if not block:
            break
        digest.update(block)
        target.write(block)
        size += len(block)
    return size, digest.hexdigest()


def _download(archive: IO[bytes], destination: Path) -> None:
    """enwik8.zip into ``archive``; a zip that is not the published one is only warned about, since
    the zip is only the wrapping: a re-packed one with the right enwik8 inside still passes."""
    try:
        with urlopen(URL, timeout=TIMEOUT) as response:
            size, digest = _copy(response, archive, 2 * ZIP_BYTES)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise FetchError(f"cannot download {URL}: {reason}{instructions(destination)}") from None
    if size > 2 * ZIP_BYTES:
        raise FetchError(f"{URL} sent more than {2 * ZIP_BYTES:,} bytes: not enwik8.zip")
    if (size, digest) != (ZIP_BYTES, ZIP_SHA256):
        _say(f"warning: enwik8.zip is {size:,} bytes with sha256 {digest}, not the published "
             f"{ZIP_BYTES:,} / {ZIP_SHA256}; checking the enwik8 inside")


def fetch(destination: Path) -> Path:
    """Download, verify and unzip enwik8 to ``destination``; it gets its name only once verified."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    _say(f"downloading {URL} ({ZIP_BYTES:,} bytes) ...")
    with tempfile.TemporaryFile(dir=destination.parent) as archive:  # unnamed: gone however this ends
        _download(archive, destination)
        archive.seek(0)
        with atomic_output(destination) as out:
            try:
                with zipfile.ZipFile(archive) as z, z.open("enwik8") as member:
                    size, digest = _copy(member, out, ENWIK8_BYTES)
            except (zipfile.BadZipFile, KeyError) as exc:
                raise FetchError(f"the download is not a zip holding enwik8 ({exc})") from None
            if size != ENWIK8_BYTES:
                got = f"more than {ENWIK8_BYTES:,}" if size > ENWIK8_BYTES else f"{size:,}"
                raise FetchError(f"the enwik8 in the download is wrong: {got} bytes, expected {ENWIK8_BYTES:,}")
            if digest != ENWIK8_SHA256:
                raise FetchError(f"the enwik8 in the download is wrong: sha256 {digest}, expected {ENWIK8_SHA256}")
    _say(f"enwik8 verified: {destination}")
    return destination


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nacrith.bench.enwik8", description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-download", action="store_true", help="only look for it; fail rather than download")
    parser.add_argument("--dest", type=Path, default=None, help=f"where to download it (default: {default_destination()})")
    args = parser.parse_args(argv)
    try:
        found = locate(download=not args.no_download, destination=args.dest)
    except FetchError as exc:
        _say(f"error: {exc}")
        return 1
    if found.note:
        _say(f"note: {found.note}")
    print(found.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
