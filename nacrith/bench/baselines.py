"""The general-purpose compressors nacrith is compared with, each at the setting its benchmarks quote.

Each is the library behind the command line tool, set as that tool would be, so sizes
match the tool's within a header's few bytes: ``gzip -9`` (stdlib gzip, no file name in
the header), ``bzip2 -9``, ``xz -9e`` (CRC-64 check, as xz writes), ``zstd -19`` and
``zstd --ultra -22`` (checksum on, as the zstd tool writes), ``brotli -q 11 -w 24``.

A library that cannot be imported makes its compressor *missing*, with the reason and
the fix; callers list it as missing rather than leave it out, so a table never looks
complete when it is not. Libraries are imported when asked for, not at import time.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Baseline", "BASELINES", "load", "select", "NAMES"]

Codec = tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]


@dataclass(frozen=True)
class Baseline:
    key: str
    """What --only takes: gzip, bzip2, xz, zstd-19, zstd-22, brotli."""
    label: str
    """The equivalent command line, as tables show it."""
    module: str
    install: str
    """How to get the module when it is missing."""
    make: Callable[[Any], Codec]
    """(compress, decompress) from the imported module."""


def _gzip(gzip: Any) -> Codec:
    return (lambda data: gzip.compress(data, compresslevel=9, mtime=0)), gzip.decompress


def _bzip2(bz2: Any) -> Codec:
    return (lambda data: bz2.compress(data, 9)), bz2.decompress


def _xz(lzma: Any) -> Codec:
    preset = 9 | lzma.PRESET_EXTREME
    return (lambda data: lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=preset)), lzma.decompress


def _zstd(level: int) -> Callable[[Any], Codec]:
    def make(zstandard: Any) -> Codec:
        compressor = zstandard.ZstdCompressor(level=level, write_checksum=True, write_content_size=True)
        decompressor = zstandard.ZstdDecompressor()
        return compressor.compress, decompressor.decompress

    return make


def _brotli(brotli: Any) -> Codec:
    return (lambda data: brotli.compress(data, quality=11, lgwin=24)), brotli.decompress


BASELINES = (
    Baseline("gzip", "gzip -9", "gzip", "this Python was built without zlib", _gzip),
    Baseline("bzip2", "bzip2 -9", "bz2", "this Python was built without libbz2", _bzip2),
    Baseline("xz", "xz -9e", "lzma", "this Python was built without liblzma", _xz),
    Baseline("zstd-19", "zstd -19", "zstandard", "pip install zstandard", _zstd(19)),
    Baseline("zstd-22", "zstd --ultra -22", "zstandard", "pip install zstandard", _zstd(22)),
    Baseline("brotli", "brotli -q 11 -w 24", "brotli", "pip install 'nacrith[brotli]'", _brotli),
)

NAMES = ("nacrith", *(b.key for b in BASELINES))
"""Every name --only accepts, besides the family names (zstd: both levels)."""


def load(baseline: Baseline) -> Codec | str:
    """(compress, decompress), or why the compressor is missing and how to get it."""
    try:
        module = importlib.import_module(baseline.module)
    except ImportError:
        return f"no module {baseline.module!r}: {baseline.install}"
    return baseline.make(module)


def select(only: str | None) -> list[str]:
    """The compressor keys a comma list names (``zstd`` means both levels); every key when None.

    Raises ValueError naming the unknown names and the known ones.
    """
    if only is None:
        return list(NAMES)
    wanted = [name.strip().lower() for name in only.split(",") if name.strip()]
    chosen: list[str] = []
    unknown = []
    for name in wanted:
        matches = [key for key in NAMES if key == name or key.split("-")[0] == name]
        if not matches:
            unknown.append(name)
        chosen += [key for key in matches if key not in chosen]
    if unknown or not chosen:
        raise ValueError(f"unknown compressor {', '.join(map(repr, unknown)) or '(none given)'}; choose from {', '.join(NAMES)} (zstd: both levels)")
    return [key for key in NAMES if key in chosen]
