#!/usr/bin/env python3
"""Find enwik8, or download and verify it: ``python corpora/fetch_enwik8.py [--no-download] [--dest PATH]``.

enwik8 is the first 100,000,000 bytes of an English Wikipedia XML dump (2006), the
Large Text Compression Benchmark's test file. This looks, in order, for:

1. ``$NACRITH_CORPORA/enwik8`` (a file, or a folder holding ``enwik8`` or the prefix below);
2. ``corpora/enwik8`` beside this script, where a download lands;
3. ``../shared/corpora/enwik8/enwik8.prefix-4154399`` next to the checkout: only the first
   4,154,399 bytes of enwik8, and said so wherever it is used;

and otherwise downloads enwik8.zip from the benchmark's site, checks the zip's size and
SHA-256, unzips it and checks enwik8's size and SHA-256 before giving it its name. Every
file found is checked the same way before use. Nothing happens at import. Offline, it
says where to put the file by hand and exits with status 1.

The checksums are the ones published alongside enwik8 by several independent projects
(the benchmark's own page lists none); enwik8's own SHA-256 is the one that decides, since
it is the data.

Standard library only, so it runs before anything is installed; ``nacrith bench --corpus
enwik8`` imports it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

__all__ = ["Found", "FetchError", "locate", "fetch", "verify", "main"]

URL = "http://mattmahoney.net/dc/enwik8.zip"
ZIP_BYTES = 36_445_475
ZIP_SHA256 = "547994d9980ebed1288380d652999f38a14fe291a6247c157c3d33d4932534bc"
ENWIK8_BYTES = 100_000_000
ENWIK8_SHA256 = "2b49720ec4d78c3c9fabaee6e4179a5e997302b3a70029f30f2d582218c024a8"

PREFIX_NAME = "enwik8.prefix-4154399"
PREFIX_BYTES = 4_154_399
PREFIX_SHA256 = "d502ac7ecb9dd47a062e7d19b8dcd3c753b07c142e48b13dcd521cb747116bdd"
"""As listed in ../shared/corpora/SHA256SUMS."""

CORPORA_ENV = "NACRITH_CORPORA"
HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "corpora"
"""The benchmark corpora next to the checkout, when there."""

TIMEOUT = 60
"""Seconds without data before a download counts as failed."""

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
    print(f"fetch_enwik8: {message}", file=sys.stderr)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, size: int, sha256: str) -> str | None:
    """What is wrong with ``path`` (its size first: cheap), or None when it is the expected file."""
    actual = path.stat().st_size
    if actual != size:
        return f"{actual:,} bytes, expected {size:,}"
    digest = sha256_of(path)
    if digest != sha256:
        return f"sha256 {digest}, expected {sha256}"
    return None


def env_root() -> Path | None:
    value = os.environ.get(CORPORA_ENV)
    return Path(value).expanduser() if value else None


def default_destination() -> Path:
    """Where a download goes: $NACRITH_CORPORA/enwik8 when set, else corpora/enwik8 beside this script."""
    root = env_root()
    if root is None:
        return HERE / "enwik8"
    target = root / "enwik8"
    return target / "enwik8" if target.is_dir() else target


def candidates() -> list[tuple[Path, bool]]:
    """(path, is the full file), in the order they are preferred."""
    found: list[tuple[Path, bool]] = []
    root = env_root()
    if root is not None:
        found += [(root / "enwik8", True), (root / "enwik8" / "enwik8", True), (root / "enwik8" / PREFIX_NAME, False)]
    found.append((HERE / "enwik8", True))
    found.append((SHARED / "enwik8" / PREFIX_NAME, False))
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


def _download(url: str, target: Path) -> str:
    """Stream ``url`` into ``target``; the SHA-256 of what arrived."""
    digest = hashlib.sha256()
    with urlopen(url, timeout=TIMEOUT) as response, open(target, "wb") as out:
        for block in iter(lambda: response.read(1 << 20), b""):
            digest.update(block)
            out.write(block)
            if out.tell() > 2 * ZIP_BYTES:
                raise FetchError(f"{url} sent more than {2 * ZIP_BYTES:,} bytes: not enwik8.zip")
    return digest.hexdigest()


def _unzip(archive: Path, target: Path) -> None:
    """enwik8 out of the zip into ``target``, reading no more than enwik8's size plus one byte."""
    try:
        with zipfile.ZipFile(archive) as z, z.open("enwik8") as member, open(target, "wb") as out:
            shutil.copyfileobj(_Bounded(member, ENWIK8_BYTES + 1), out, 1 << 20)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise FetchError(f"the download is not a zip holding enwik8 ({exc})") from None


class _Bounded:
    def __init__(self, stream: Any, limit: int) -> None:
        self._stream, self._left = stream, limit

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._stream.read(n) if n else b""
        self._left -= len(data)
        return data


def fetch(destination: Path) -> Path:
    """Download, verify and unzip enwik8 to ``destination``; partial files never keep its name."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    archive = destination.with_name(destination.name + ".zip.part")
    unpacked = destination.with_name(destination.name + ".part")
    _say(f"downloading {URL} ({ZIP_BYTES:,} bytes) ...")
    try:
        try:
            zip_sha256 = _download(URL, archive)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise FetchError(f"cannot download {URL}: {reason}{instructions(destination)}") from None
        zip_size = archive.stat().st_size
        if (zip_size, zip_sha256) != (ZIP_BYTES, ZIP_SHA256):
            # The zip is only the wrapping: a re-packed one with the right enwik8 inside still passes below.
            _say(f"warning: enwik8.zip is {zip_size:,} bytes with sha256 {zip_sha256}, not the published "
                 f"{ZIP_BYTES:,} / {ZIP_SHA256}; checking the enwik8 inside")
        _unzip(archive, unpacked)
        problem = verify(unpacked, ENWIK8_BYTES, ENWIK8_SHA256)
        if problem:
            raise FetchError(f"the enwik8 in the download is wrong: {problem}")
        os.replace(unpacked, destination)
    finally:
        for leftover in (archive, unpacked):
            leftover.unlink(missing_ok=True)
    _say(f"enwik8 verified: {destination}")
    return destination


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fetch_enwik8.py", description=__doc__.split("\n\n")[0])
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
