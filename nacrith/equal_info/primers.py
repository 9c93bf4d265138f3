"""The primers: text every equal-info window's model context starts from, after the start token.

A window decodes alone, so its model starts from the same state every time; a cold start (the
start token alone) leaves the model guessing what kind of text follows, and the first tokens
of every window pay for it. A primer is a fixed text evaluated once; its KV cache is copied
into each window's lane, so a window starts warm at no cost in bits and little in time
(BENCHMARKS.md, "Equal-info windows": what it buys per W). The bytes are part of the format
(FORMAT.md, "Primer"): changing one is a new number.
"""

from __future__ import annotations

import hashlib

__all__ = ["PRIMERS", "primer_bytes", "primer_digest", "DEFAULT_PRIMER", "FILL"]

PRIMERS: dict[int, bytes] = {
    0: b"",
    1: (
        b"The following is ordinary written English, of the kind found in books, encyclopedia "
        b"articles, news reports, letters and web pages: sentences and paragraphs with their usual "
        b"punctuation, names, numbers and dates.\n\n"
    ),
}
"""Primer number -> its bytes. 0 is none: the window's context is the start token alone."""

DEFAULT_PRIMER = 0
"""Chosen by measurement (BENCHMARKS.md, "Equal-info windows"): on 3.9 KB of recent English the start
token alone beat primer 1 at every W from 16 to 128 (3.30 against 2.98 at W = 128), since most
windows begin inside a sentence, which a primer that ends a paragraph leads the model away from."""
FILL = False
"""Whether the encoder fills a window's end with a prefix of the token that does not fit. Measured
on the same text: no gain at W = 16, 64 and 128, and 5% less at W = 32 (the prefix tokens cost
more than the padding they save), so windows end at whole tokens. An encoder's choice alone."""


def primer_bytes(number: int) -> bytes:
    if number not in PRIMERS:
        raise ValueError(f"unknown primer {number} (known: {', '.join(map(str, PRIMERS))})")
    return PRIMERS[number]


def primer_digest(number: int) -> str:
    """The SHA-256 of a primer's bytes, as FORMAT.md lists it."""
    return hashlib.sha256(primer_bytes(number)).hexdigest()
