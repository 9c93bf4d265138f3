"""Reversible rewrites of text that the model codes better: for now, CRLF line ends as LF.

A web-trained model rarely sees CRLF; measured on alice29.txt (CRLF throughout), the default
model's own cross-entropy is 1.114 bits per byte as the file is and 1.064 per original byte
with its line ends made LF (8 lanes, window 2048, BENCHMARKS.md).
"""

from __future__ import annotations

__all__ = ["crlf_to_lf", "lf_to_crlf"]


def crlf_to_lf(text: bytes) -> bytes | None:
    """``text`` with the CR of every CRLF removed, when that is exactly undone by :func:`lf_to_crlf`:
    when it has a line feed and every line feed follows a carriage return. Else None."""
    if b"\r\n" not in text or text.count(b"\n") != text.count(b"\r\n"):
        return None
    return text.replace(b"\r\n", b"\n")


def lf_to_crlf(text: bytes) -> bytes:
    return text.replace(b"\n", b"\r\n")
