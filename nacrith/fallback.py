"""Bytes the model cannot code: zstandard, or stored when that is not smaller.

A zstd payload is one Zstandard frame (RFC 8878) as nacrith writes it: no Frame_Content_Size,
no dictionary, a window of at most 2**27 bytes. Before decoding, :func:`unpack` walks the
frame's header and block headers (FORMAT.md, "Method 1: zstd"): that rejects what the spec
rejects with the reason, and finds a frame cut short, which libzstd's streaming decoder
would not report (it returns what it has when its input ends inside a frame).
"""

from __future__ import annotations

import zstandard

from .constants import FALLBACK_ZSTD_LEVEL
from .container import METHOD_STORED, METHOD_ZSTD
from .errors import CorruptArchiveError

__all__ = ["pack", "unpack"]

_MAGIC = 0xFD2FB528
_SKIPPABLE_MAGIC = 0x184D2A50
"""Skippable frames have the magic numbers 0x184D2A50 to 0x184D2A5F."""
_MAX_WINDOW = 1 << 27
"""libzstd's default limit for a decoder (level 19 writes at most 2**23): bounds a decoder's memory."""
_BLOCK_RAW, _BLOCK_RLE, _BLOCK_COMPRESSED = 0, 1, 2
_READ_PIECE = 1 << 20
"""Output is read in pieces of at most this, so memory follows the bytes the frame really gives."""


def pack(data: bytes) -> tuple[int, bytes]:
    """(method, payload) for ``data``: zstd when it is smaller, else the bytes as they are."""
    packed = zstandard.ZstdCompressor(level=FALLBACK_ZSTD_LEVEL, write_content_size=False, write_checksum=False).compress(data)
    if len(packed) < len(data):
        return METHOD_ZSTD, packed
    return METHOD_STORED, data


def unpack(method: int, payload: bytes, length: int) -> bytes:
    """The original ``length`` bytes; a payload that does not give exactly that is corrupt.

    Never holds more than ``length + 1`` bytes of output, plus the frame's window.
    """
    if method == METHOD_STORED:
        return payload
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
