"""Bytes the model cannot code: zstandard, or stored when that is not smaller."""

from __future__ import annotations

import io

import zstandard

from .constants import FALLBACK_ZSTD_LEVEL
from .container import METHOD_STORED, METHOD_ZSTD
from .errors import CorruptArchiveError

__all__ = ["pack", "unpack"]


def pack(data: bytes) -> tuple[int, bytes]:
    """(method, payload) for ``data``: zstd when it is smaller, else the bytes as they are."""
    packed = zstandard.ZstdCompressor(level=FALLBACK_ZSTD_LEVEL, write_content_size=False, write_checksum=False).compress(data)
    if len(packed) < len(data):
        return METHOD_ZSTD, packed
    return METHOD_STORED, data


def unpack(method: int, payload: bytes, length: int) -> bytes:
    """The original ``length`` bytes; a payload that does not give exactly that is corrupt.

    A zstd frame declares its own size, and python-zstandard would allocate it before
    decoding: a damaged byte could ask for gigabytes. Frames nacrith writes declare none,
    so one that does is rejected, and the output is read in a bounded stream.
    """
    if method == METHOD_STORED:
        return payload
    try:
        if zstandard.get_frame_parameters(payload).content_size != zstandard.CONTENTSIZE_UNKNOWN:
            raise CorruptArchiveError("zstd chunk declares its size; nacrith never writes one")
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(payload)) as reader:
            data = reader.read(length + 1)
    except zstandard.ZstdError as exc:
        raise CorruptArchiveError(f"zstd chunk does not decompress: {exc}") from None
    if len(data) != length:
        raise CorruptArchiveError(f"zstd chunk gave {len(data)} bytes or more, the table says {length}")
    return data
