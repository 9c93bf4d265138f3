"""Bytes the model cannot code: the smaller of zstd and xz's LZMA2, or stored when neither is smaller.

A segment's other bytes are one stream (not one per run), so a tar's headers or a file of
binary records share one dictionary, as they would in ``xz`` or ``zstd``. zstd uses a window
as long as the data (up to 2^27 bytes) and its long-distance matcher; LZMA2 is xz's preset
9e, as a raw stream after one byte that says its dictionary size. Each is decoded into at most
the declared length: a damaged size field cannot make a decoder allocate more.
"""

from __future__ import annotations

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

_MAGIC = 0xFD2FB528
_SKIPPABLE_MAGIC = 0x184D2A50
"""Skippable frames have the magic numbers 0x184D2A50 to 0x184D2A5F."""
_MAX_WINDOW = 1 << ZSTD_MAX_WINDOW_LOG
"""libzstd's default limit for a decoder (level 19 writes at most 2**23): bounds a decoder's memory."""
_BLOCK_RAW, _BLOCK_RLE, _BLOCK_COMPRESSED = 0, 1, 2
_READ_PIECE = 1 << 20
"""Output is read in pieces of at most this, so memory follows the bytes the frame really gives."""


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
    """A zstd frame as nacrith writes it: no Frame_Content_Size (python-zstandard would allocate a
    declared size before decoding), no dictionary, a window of at most 2**27 bytes. The frame's header
    and block headers are walked first (:func:`_frame_size`): that rejects what the spec rejects, with
    the reason, and finds a frame cut short, which libzstd's streaming decoder would not report. The
    output is read in bounded pieces, never more than ``length + 1`` bytes plus the window."""
    size = _frame_size(payload)
    parts, got = [], 0
    try:
        decompressor = zstandard.ZstdDecompressor(max_window_size=_MAX_WINDOW)
        with decompressor.stream_reader(memoryview(payload)[:size]) as reader:  # bytes after the frame are ignored
            while got <= length:  # one byte past the length: a frame that gives more is caught
                piece = reader.read(min(length + 1 - got, _READ_PIECE))
                if not piece:  # the end of the frame, its checksum (if any) verified
                    break
                parts.append(piece)
                got += len(piece)
    except zstandard.ZstdError as exc:
        raise CorruptArchiveError(f"zstd chunk does not decompress: {exc}") from None
    if got != length:
        raise CorruptArchiveError(f"zstd chunk gave {'more than ' if got > length else ''}{min(got, length)} bytes, the table says {length}")
    return b"".join(parts)


def _frame_size(payload: bytes) -> int:
    """The size of the frame ``payload`` begins with; reject, with the reason, one FORMAT.md does not allow."""
    view = memoryview(payload)

    def field(start: int, size: int, what: str) -> int:
        if start + size > len(view):
            raise CorruptArchiveError(f"zstd chunk is cut short: its frame ends inside {what}")
        return int.from_bytes(view[start : start + size], "little")

    if len(view) < 4 or int.from_bytes(view[:4], "little") != _MAGIC:
        if len(view) >= 4 and int.from_bytes(view[:4], "little") & ~0xF == _SKIPPABLE_MAGIC:
            raise CorruptArchiveError("zstd chunk begins with a skippable frame, not a Zstandard frame")
        raise CorruptArchiveError("zstd chunk is not a Zstandard frame (bad magic number)")
    descriptor = field(4, 1, "the frame header")
    single_segment = descriptor >> 5 & 1
    if descriptor & 0x08:
        raise CorruptArchiveError("zstd chunk's frame header has its reserved bit set")
    if descriptor >> 6 or single_segment:
        raise CorruptArchiveError("zstd chunk's frame declares its Frame_Content_Size; nacrith never writes one")
    window = field(5, 1, "the frame header")  # present: the frame is not single-segment
    window_log = 10 + (window >> 3)
    window_size = (1 << window_log) + ((1 << window_log) >> 3) * (window & 7)
    if window_size > _MAX_WINDOW:
        raise CorruptArchiveError(f"zstd chunk's frame needs a window of {window_size} bytes, over 2**27")
    dictionary_bytes = (0, 1, 2, 4)[descriptor & 3]
    dictionary = field(6, dictionary_bytes, "the frame header") if dictionary_bytes else 0
    if dictionary:
        raise CorruptArchiveError(f"zstd chunk's frame needs dictionary {dictionary}; nacrith never uses one")
    pos, last = 6 + dictionary_bytes, False
    while not last:
        header = field(pos, 3, "a block header")
        last, kind, size = bool(header & 1), header >> 1 & 3, header >> 3
        if kind not in (_BLOCK_RAW, _BLOCK_RLE, _BLOCK_COMPRESSED):
            raise CorruptArchiveError("zstd chunk's frame has a block of the reserved type 3")
        content = 1 if kind == _BLOCK_RLE else size
        if pos + 3 + content > len(view):
            raise CorruptArchiveError("zstd chunk is cut short: its frame ends inside a block")
        pos += 3 + content
        if not last and pos == len(view):
            raise CorruptArchiveError("zstd chunk is cut short: its frame ends before its last block")
    if descriptor & 0x04:
        field(pos, 4, "its Content_Checksum")
        pos += 4
    return pos


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
