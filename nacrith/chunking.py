"""Cutting input into chunks: where to cut, and which bytes are text worth giving to the model.

Only the encoder uses this module. The decoder never re-derives a cut: it reads each
chunk's length from the chunk table, so these rules can improve without a format change.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Piece", "split_text_runs", "mostly_binary", "chunk_count", "cut_points", "safe_cut"]

MIN_TEXT_RUN = 64
"""Text characters fewer than this in a row, between bytes that are not text, are not given to the model.

Such islands are names and numbers inside binary structures (a tar header's fields, an
executable's symbols), which the fallback codes with the structure around them for less.
Measured: DESIGN.md, "Text runs inside any input"."""

MAX_ABSORBED = 2
"""A gap of at most this many control bytes (not NUL) inside text, or at its start or end, stays text.

Measured: the model spends 20 to 32 bits on a lone control byte (alice29.txt's closing ^Z: 21),
while moving it to the other bytes costs two runs and the byte in the stream, and 10 bytes
more when they are the segment's only other bytes."""

_TEXT_CHAR = (
    rb"[\t\n\x0c\r\x1b\x20-\x7e]"  # printable ASCII, tab, line ends, form feed, escape (terminal colours)
    rb"|\xc2[\xa0-\xbf]|[\xc3-\xdf][\x80-\xbf]"  # two bytes, without the C1 controls U+0080..U+009F
    rb"|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"  # three, no surrogates
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"  # four, up to U+10FFFF
)
_TEXT_RUN = re.compile(b"(?:" + _TEXT_CHAR + b")+")
"""A maximal run of text characters: valid UTF-8 (RFC 3629: shortest forms, no surrogates), no C0 or C1 controls but these."""

_ABSORBED = bytes(b for b in range(1, 32) if b not in b"\t\n\x0c\r\x1b") + b"\x7f"
"""Control bytes a short gap in text may hold and stay text: every C0 control that is not a text character, but NUL."""

_NOT_TEXT_ASCII = bytes(b for b in range(32) if b not in b"\t\n\x0c\r\x1b") + b"\x7f"
_C1 = re.compile("[\x80-\x9f]")

_CUT_SEARCH = 4096
"""How far back from an ideal cut to look for a line end or space, so no token or character straddles a cut."""


@dataclass(frozen=True)
class Piece:
    start: int
    end: int
    is_text: bool


def split_text_runs(data: bytes) -> list[Piece]:
    """Split ``data`` into the runs of text worth giving to the model and the bytes between them.

    Text is printable UTF-8 with tab, line ends, form feed and escape, in runs of at least
    MIN_TEXT_RUN bytes; a gap of at most MAX_ABSORBED control bytes other than NUL inside a
    run, or at either end of the data, joins it. Everything else (NUL, other control bytes,
    invalid UTF-8, shorter runs) is for the fallback. Text alone is one piece, whatever its length.
    """
    if not data:
        return []
    if _plain_text(data):
        return [Piece(0, len(data), True)]
    runs: list[list[int]] = []
    for match in _TEXT_RUN.finditer(data):
        start, end = match.span()
        if runs and _absorbed(data, runs[-1][1], start):
            runs[-1][1] = end
        elif not runs and _absorbed(data, 0, start):
            runs.append([0, end])
        else:
            runs.append([start, end])
    if runs and _absorbed(data, runs[-1][1], len(data)):
        runs[-1][1] = len(data)
    pieces: list[Piece] = []
    at = 0
    for start, end in runs:
        if end - start < MIN_TEXT_RUN:
            continue
        if start > at:
            pieces.append(Piece(at, start, False))
        pieces.append(Piece(start, end, True))
        at = end
    if at < len(data):
        pieces.append(Piece(at, len(data), False))
    return pieces


def mostly_binary(data: bytes) -> bool:
    """Whether less than half of ``data`` lies in text runs: data to size segments for the fallback."""
    text = sum(p.end - p.start for p in split_text_runs(data) if p.is_text)
    return 2 * text < len(data)


def _plain_text(data: bytes) -> bool:
    """Whether all of ``data`` is text characters (the common case, without a scan by the regex)."""
    if len(data.translate(None, _NOT_TEXT_ASCII)) != len(data):
        return False
    if data.isascii():
        return True
    try:
        return not _C1.search(data.decode("utf-8"))
    except UnicodeDecodeError:
        return False


def _absorbed(data: bytes, start: int, end: int) -> bool:
    """Whether ``data[start:end]``, a gap beside text, is short enough and of control bytes that may stay text."""
    return 0 < end - start <= MAX_ABSORBED and not data[start:end].translate(None, _ABSORBED)


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


def cut_points(data: bytes, count: int, max_length: int, seams: Sequence[int] = ()) -> list[int]:
    """End offsets of about ``count`` nearly equal chunks of ``data``, none longer than ``max_length``.

    A cut goes to the nearest of ``seams`` (sorted offsets where text runs that were apart meet)
    within an eighth of ``max_length`` either way, else back to a safe place (:func:`safe_cut`)
    by at most that; when that leaves the rest too long for the chunks left, one more chunk is added.
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
        search = min(_CUT_SEARCH, max_length // 8)
        end = _nearest(seams, ideal, max(start + 1, ideal - search), min(start + max_length, ideal + search))
        if end is None:
            end = safe_cut(data, ideal, start, search)
        ends.append(end)
        start = end
    return ends


def _nearest(seams: Sequence[int], ideal: int, lowest: int, highest: int) -> int | None:
    """The seam nearest to ``ideal`` from ``lowest`` to ``highest`` (the earlier of two as near), or None."""
    at = bisect.bisect_left(seams, ideal)
    near = [s for s in seams[max(0, at - 1) : at + 1] if lowest <= s <= highest]
    return min(near, key=lambda s: (abs(s - ideal), s)) if near else None
