"""Reversible rewrites of the input that code better: CRLF line ends as LF, base64 as the bytes it stands for.

A web-trained model rarely sees CRLF; measured on alice29.txt (CRLF throughout), the default
model's own cross-entropy is 1.114 bits per byte as the file is and 1.064 per original byte
with its line ends made LF (8 lanes, window 2048, BENCHMARKS.md).

Base64 costs the model more than the 6 bits per character that its decoded bytes cost at most,
stored (measured: BENCHMARKS.md, "Text inside any input"); a block is taken out of the text only
when :func:`base64_text` gives it back byte for byte.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass

__all__ = [
    "crlf_to_lf",
    "lf_to_crlf",
    "Base64Block",
    "base64_text",
    "base64_length",
    "find_base64",
    "BASE64_CRLF",
    "BASE64_LAST_LINE_END",
    "BASE64_PADDED",
    "BASE64_FLAGS",
]


def crlf_to_lf(text: bytes) -> bytes | None:
    """``text`` with the CR of every CRLF removed, when that is exactly undone by :func:`lf_to_crlf`:
    when it has a line feed and every line feed follows a carriage return. Else None."""
    if b"\r\n" not in text or text.count(b"\n") != text.count(b"\r\n"):
        return None
    return text.replace(b"\r\n", b"\n")


def lf_to_crlf(text: bytes) -> bytes:
    return text.replace(b"\n", b"\r\n")


# --- base64 ---------------------------------------------------------------------------------------------

BASE64_CRLF = 0x01
"""Flag of a base64 run: its line ends are CR LF (else LF)."""
BASE64_LAST_LINE_END = 0x02
"""Flag of a base64 run: its last line ends with a line end too."""
BASE64_PADDED = 0x04
"""Flag of a base64 run: padded with '=' to a multiple of 4 characters."""
BASE64_FLAGS = BASE64_CRLF | BASE64_LAST_LINE_END | BASE64_PADDED

MIN_BASE64 = 256
"""Base64 characters fewer than this in a block stay text: the run and table entry cost about 6 bytes."""

MIN_BASE64_SYMBOLS = 40
"""A block that uses fewer of the 64 symbols is probably not base64 (hex, DNA, a long word): the model
codes such text for less than the 6 bits per character its decoded bytes cost the fallback. Base64 of
random or compressed bytes uses all 64 in 256 characters; of ASCII text, about 50."""

_REGION = re.compile(rb"[A-Za-z0-9+/=\r\n]{%d,}" % MIN_BASE64)
_LINE = re.compile(rb"([A-Za-z0-9+/]*)(={0,2})(\r\n|\n|)")


@dataclass(frozen=True)
class Base64Block:
    """Bytes ``start`` to ``end`` of a text, which are exactly ``base64_text(decoded, line_length, flags)``."""

    start: int
    end: int
    decoded: bytes
    line_length: int
    flags: int


def base64_text(data: bytes, line_length: int, flags: int) -> bytes:
    """``data`` in base64 (RFC 4648's alphabet, '=' padding with BASE64_PADDED), in lines of ``line_length``
    characters (the last line may be shorter), each but the last ended by LF or, with BASE64_CRLF, CR LF;
    the last too with BASE64_LAST_LINE_END. What a base64 run of the other bytes places (FORMAT.md)."""
    chars = binascii.b2a_base64(data, newline=False)
    if not flags & BASE64_PADDED:
        chars = chars.rstrip(b"=")
    end = b"\r\n" if flags & BASE64_CRLF else b"\n"
    text = end.join(chars[i : i + line_length] for i in range(0, len(chars), line_length))
    return text + end if flags & BASE64_LAST_LINE_END else text


def base64_length(size: int, line_length: int, flags: int) -> int:
    """len(base64_text(data, line_length, flags)) for ``size`` bytes of data, at least 1."""
    chars = 4 * -(-size // 3) if flags & BASE64_PADDED else -(-4 * size // 3)
    lines = -(-chars // line_length)
    ends = lines - 1 + (1 if flags & BASE64_LAST_LINE_END else 0)
    return chars + ends * (2 if flags & BASE64_CRLF else 1)


def find_base64(text: bytes) -> list[Base64Block]:
    """The blocks of ``text``, in order, apart, of at least MIN_BASE64 characters, that are exactly the
    base64 of some bytes in lines of one length: what :func:`base64_text` gives back byte for byte."""
    blocks: list[Base64Block] = []
    for region in _REGION.finditer(text):
        lines = [m for m in _LINE.finditer(text, region.start(), region.end()) if m.end() > m.start()]
        i = 0
        while i < len(lines):
            block, used = _fit(text, lines, i)
            if block:
                blocks.append(block)
            i += used
    return blocks


def _fit(text: bytes, lines: list[re.Match[bytes]], first: int) -> tuple[Base64Block | None, int]:
    """The block that begins with ``lines[first]`` and the lines it takes (1 when there is none)."""
    head = lines[first]
    length, end = len(head[1]) + len(head[2]), head[3]
    last = first
    if not head[2] and end:  # full lines: one length, one line end, no padding
        while last + 1 < len(lines) and len(lines[last + 1][1]) == length and not lines[last + 1][2] and lines[last + 1][3] == end:
            last += 1
        after = lines[last + 1] if last + 1 < len(lines) else None
        if after and 0 < len(after[1]) + len(after[2]) <= length and after[3] in (end, b""):
            last += 1  # a last line, shorter or padded, with the same line end or none
    chars = b"".join(m[1] + m[2] for m in lines[first : last + 1])
    used = last - first + 1
    if length == 0 or len(chars) < MIN_BASE64 or len(set(chars) - {61}) < MIN_BASE64_SYMBOLS:
        return None, used
    flags = (BASE64_CRLF if end == b"\r\n" or lines[last][3] == b"\r\n" else 0) | (BASE64_LAST_LINE_END if lines[last][3] else 0)
    if len(chars) % 4 == 0:
        flags |= BASE64_PADDED
    try:
        decoded = binascii.a2b_base64(chars + b"=" * (-len(chars) % 4), strict_mode=True)
    except binascii.Error:
        return None, used
    start, stop = head.start(), lines[last].end()
    if base64_text(decoded, length, flags) != text[start:stop]:
        return None, used  # not canonical (bits past the data, a line end of another kind): not reproducible
    return Base64Block(start, stop, decoded, length, flags), used
