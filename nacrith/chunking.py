"""Cutting input into chunks: where to cut, and which bytes are text worth giving to the model.

Only the encoder uses this module. The decoder never re-derives a cut: it reads each
chunk's length from the chunk table, so these rules can improve without a format change.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

__all__ = ["Piece", "split_text_runs", "mostly_binary", "chunk_count", "cut_points", "safe_cut"]

MIN_TEXT_RUN = 128
"""Valid UTF-8 shorter than this between binary bytes is not worth a model restart; it stays binary."""

MAX_BINARY_SHARE = 0.1
"""Data where more than this share of bytes are invalid UTF-8 or control codes goes to the fallback
whole: it is binary, not text with a few damaged bytes."""

_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\r\x0b\x0c\x1b")
"""Control bytes that text rarely holds (tab, line ends, form feed and escape are common in text)."""

_CUT_SEARCH = 4096
"""How far back from an ideal cut to look for a line end or space, so no token or character straddles a cut."""


@dataclass(frozen=True)
class Piece:
    start: int
    end: int
    is_text: bool


def split_text_runs(data: bytes) -> list[Piece]:
    """Split ``data`` into maximal valid-UTF-8 runs and the bytes between them.

    Text runs shorter than MIN_TEXT_RUN join the binary around them. When binary bytes are
    more than MAX_BINARY_SHARE of the data, the whole is one binary piece.
    """
    if not data:
        return []
    limit = int(len(data) * MAX_BINARY_SHARE)
    if len(data) - len(data.translate(None, _CONTROL)) > limit:
        return [Piece(0, len(data), False)]
    pieces: list[Piece] = []
    pos = 0
    binary_bytes = 0
    view = memoryview(data)  # slices without copies: each decode stops at the next bad byte
    while pos < len(data):
        try:
            codecs.utf_8_decode(view[pos:], "strict", True)
            pieces.append(Piece(pos, len(data), True))
            break
        except UnicodeDecodeError as exc:
            bad_start, bad_end = pos + exc.start, pos + exc.end
        if bad_start > pos:
            pieces.append(Piece(pos, bad_start, True))
        pieces.append(Piece(bad_start, bad_end, False))
        binary_bytes += bad_end - bad_start
        if binary_bytes > limit:
            return [Piece(0, len(data), False)]
        pos = bad_end
    return _merge(pieces)


def mostly_binary(data: bytes) -> bool:
    """Whether less than half of ``data`` lies in text runs: data to size segments for the fallback."""
    text = sum(p.end - p.start for p in split_text_runs(data) if p.is_text)
    return 2 * text < len(data)


def _merge(pieces: list[Piece]) -> list[Piece]:
    """Demote short text runs between binary bytes to binary, then join neighbours of the same kind."""
    if len(pieces) == 1:
        return pieces
    out: list[Piece] = []
    for piece in pieces:
        is_text = piece.is_text and piece.end - piece.start >= MIN_TEXT_RUN
        if out and out[-1].is_text == is_text:
            out[-1] = Piece(out[-1].start, piece.end, is_text)
        else:
            out.append(Piece(piece.start, piece.end, is_text))
    return out


def chunk_count(size: int, lanes: int, chunk_bytes: int, min_chunk_bytes: int) -> int:
    """How many chunks a text of ``size`` bytes becomes.

    As many as fill the lanes, but none shorter than ``min_chunk_bytes`` (a cold start costs
    bits) and none longer than ``chunk_bytes``. When it takes more than one group, the count
    is rounded up to a whole number of groups if the chunks stay at least ``min_chunk_bytes``
    long: a last group of 2 chunks beside groups of 8 would run at a fraction of the speed
    (measured: 8 lanes step about twice as many tokens per second as 2).
    """
    if size <= 0:
        return 0
    needed = -(-size // (chunk_bytes - chunk_bytes // 8))  # room for cuts moved back to a safe place
    wanted = max(1, min(lanes, size // max(1, min_chunk_bytes)))
    count = max(needed, wanted)
    if count > lanes:
        full_groups = -(-count // lanes) * lanes
        if size // full_groups >= min_chunk_bytes:
            count = full_groups
    return count


def safe_cut(data: bytes, ideal: int, lowest: int, search: int = _CUT_SEARCH) -> int:
    """A cut at or before ``ideal`` (but after ``lowest``, at most ``search`` bytes back) just after
    a line end, else a space, else at an ASCII byte, else at the first byte of a character;
    ``ideal`` itself if none is there (a run of continuation bytes, which is no UTF-8 anyway)."""
    if ideal >= len(data):
        return len(data)
    floor = max(lowest + 1, ideal - search)
    for separator in (b"\n", b" "):
        at = data.rfind(separator, floor, ideal)
        if at >= 0:
            return at + 1
    for at in range(ideal, floor - 1, -1):
        if data[at] < 0x80:  # never inside a UTF-8 sequence
            return at
    for at in range(ideal, floor - 1, -1):
        if data[at] & 0xC0 != 0x80:  # the first byte of a character (or a byte that is no UTF-8): not inside one
            return at
    return ideal


def cut_points(data: bytes, count: int, max_length: int) -> list[int]:
    """End offsets of about ``count`` nearly equal chunks of ``data``, none longer than ``max_length``.

    A cut moves back to a safe place by at most an eighth of ``max_length``; when that leaves
    the rest too long for the chunks left, one more chunk is added.
    """
    ends: list[int] = []
    start = 0
    while start < len(data):
        left = len(data) - start
        chunks_left = max(1, count - len(ends))
        if left <= max_length and chunks_left == 1:
            ends.append(len(data))
            break
        ideal = start + min(max_length, -(-left // chunks_left))
        end = safe_cut(data, ideal, start, min(_CUT_SEARCH, max_length // 8))
        ends.append(end)
        start = end
    return ends
