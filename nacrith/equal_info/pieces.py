"""A vocabulary seen as byte strings: which tokens spell a prefix of the text, and one token per byte value.

An equal-info window may end inside what the tokenizer would make one token: its encoder is
free to spell the text with any tokens whose pieces follow it (the decoder only concatenates
pieces). This module answers the two questions that freedom asks: which tokens are prefixes
of the text at a position (longest first), and which token stands for each single byte, the
tokens a window's first table raises to the progress floor (FORMAT.md, "Progress").
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from ..errors import NacrithError

__all__ = ["Pieces"]


class Pieces:
    """The pieces of a vocabulary, indexed for prefix look-ups. Tokens of no bytes are never offered."""

    def __init__(self, pieces: Sequence[bytes]) -> None:
        self.pieces = list(pieces)
        self.lengths = np.array([len(p) for p in self.pieces], dtype=np.int64)
        self._by_piece: dict[bytes, list[int]] = {}
        for token, piece in enumerate(self.pieces):
            if piece:
                self._by_piece.setdefault(piece, []).append(token)
        self.longest = max((len(p) for p in self._by_piece), default=0)
        missing = [b for b in range(256) if bytes([b]) not in self._by_piece]
        self._missing = missing
        self.byte_tokens = np.array([self._by_piece[bytes([b])][0] for b in range(256)] if not missing else [], dtype=np.int64)
        """Byte value b -> the lowest token whose piece is that one byte (FORMAT.md, "Progress")."""

    def check_bytes(self) -> None:
        """Raise NacrithError unless every byte value has a token of its own (every input can then be spelled)."""
        if self._missing:
            raise NacrithError(
                f"the model has no token for byte 0x{self._missing[0]:02x} ({len(self._missing)} byte values lack one); "
                "equal-info windows need a token for each of the 256 byte values"
            )

    def prefixes(self, data: bytes | memoryview, pos: int) -> Iterator[int]:
        """The tokens whose piece starts ``data`` at ``pos``, longest first (equal pieces: lowest token first)."""
        end = min(len(data), pos + self.longest)
        view = bytes(data[pos:end])
        for n in range(len(view), 0, -1):
            tokens = self._by_piece.get(view[:n])
            if tokens:
                yield from tokens

    def matches(self, token: int, data: bytes | memoryview, pos: int) -> bool:
        piece = self.pieces[token]
        return bool(piece) and data[pos : pos + len(piece)] == piece
