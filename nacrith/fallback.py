"""Bytes the model cannot code: the smaller of zstd and xz's LZMA2, or stored when neither is smaller.

A segment's other bytes are one stream (not one per run), so a tar's headers or a file of
binary records share one dictionary, as they would in ``xz`` or ``zstd``. zstd uses a window
as long as the data (up to 2^27 bytes) and its long-distance matcher; LZMA2 is xz's preset
9e, as a raw stream after one byte that says its dictionary size. Each is decoded into at most
the declared length: a damaged size field cannot make a decoder allocate more.
"""

from __future__ import annotations

import io
import lzma

import zstandard

from .constants import FALLBACK_ZSTD_LEVEL
from .container import METHOD_STORED, METHOD_XZ, METHOD_ZSTD
from .errors import CorruptArchiveError

__all__ = ["pack", "encode", "unpack", "xz_dictionary_size"]

ZSTD_MAX_WINDOW_LOG = 27
"""zstd's window: the data's length rounded up to a power of two, at most 2^27 (``zstd --long``'s)."""

XZ_MAX_DICTIONARY = 1 << 26
"""LZMA2's dictionary: the data's length rounded up to an LZMA2 size, at most 64 MiB (``xz -9``'s)."""


def pack(data: bytes, *, xz: bool = True) -> tuple[int, bytes]:
    """(method, payload) for ``data``: the smallest of zstd, LZMA2 (unless ``xz`` is False) and the bytes as they are."""
    best = (METHOD_STORED, data)
    for method in (METHOD_ZSTD, METHOD_XZ) if xz else (METHOD_ZSTD,):
        payload = encode(method, data)
        if len(payload) < len(best[1]):
            best = (method, payload)
    return best


def encode(method: int, data: bytes) -> bytes:
    """``data`` coded by one fallback method, as :func:`unpack` reads it."""
    return {METHOD_STORED: bytes, METHOD_ZSTD: _zstd, METHOD_XZ: _xz}[method](data)


def unpack(method: int, payload: bytes, length: int) -> bytes:
    """The original ``length`` bytes; a payload that does not give exactly that is corrupt."""
    if method == METHOD_STORED:
        return payload
    if method == METHOD_ZSTD:
        return _unzstd(payload, length)
    if method == METHOD_XZ:
        return _unxz(payload, length)
    raise CorruptArchiveError(f"unknown fallback method {method}")


def _zstd(data: bytes) -> bytes:
    window_log = min(ZSTD_MAX_WINDOW_LOG, max(10, (len(data) - 1).bit_length()))
    params = zstandard.ZstdCompressionParameters.from_level(
        FALLBACK_ZSTD_LEVEL,
        source_size=len(data),
        window_log=window_log,
        enable_ldm=len(data) > 1 << 20,
        write_content_size=False,
        write_checksum=False,
    )
    return zstandard.ZstdCompressor(compression_params=params).compress(data)


def _unzstd(payload: bytes, length: int) -> bytes:
    """A zstd frame nacrith would write: it declares no size (python-zstandard would allocate a declared
    size before decoding, and a damaged byte could ask for gigabytes), and the output is read in a
    bounded stream."""
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


def xz_dictionary_size(length: int) -> tuple[int, int]:
    """(LZMA2 dictionary property byte, dictionary size) for ``length`` bytes: the smallest size that
    holds them, from 4 KiB to :data:`XZ_MAX_DICTIONARY`. A decoder accepts no other."""
    want = min(max(length, 1), XZ_MAX_DICTIONARY)
    prop = 0
    while _dictionary(prop) < want:
        prop += 1
    return prop, _dictionary(prop)


def _dictionary(prop: int) -> int:
    return (2 | (prop & 1)) << (prop // 2 + 11)


def _xz(data: bytes) -> bytes:
    prop, size = xz_dictionary_size(len(data))
    filters = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": size}]
    return bytes([prop]) + lzma.compress(data, format=lzma.FORMAT_RAW, filters=filters)


def _unxz(payload: bytes, length: int) -> bytes:
    prop, size = xz_dictionary_size(length)
    if not payload or payload[0] != prop:
        raise CorruptArchiveError(f"xz payload with dictionary property {payload[:1].hex() or 'none'}; {length} bytes use {prop:02x}")
    decompressor = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2, "dict_size": size}])
    try:
        data = decompressor.decompress(payload[1:], max_length=length + 1)
    except lzma.LZMAError as exc:
        raise CorruptArchiveError(f"xz payload does not decompress: {exc}") from None
    if len(data) != length or not decompressor.eof or decompressor.unused_data:
        raise CorruptArchiveError(f"xz payload gave {len(data)} bytes{'' if decompressor.eof else ' and no end'}, the table says {length}")
    return data
