"""A window's symbols as byte strings: the model's tokens, then one symbol for each byte value no token spells.

An equal-info window may end inside what the tokenizer would make one token: its encoder is
free to spell the text with any symbols whose pieces follow it (the decoder only concatenates
pieces). This module answers what that freedom asks: which symbols spell a prefix of the text
at a position (longest first), and which symbol stands for each single byte.

A vocabulary need not spell every byte: SmolLM2's has no token for 21 byte values (0x04,
0xC0, 0xF5 to 0xFF among them), which valid UTF-8 text never holds. So the symbols are the
``V`` tokens followed by one **byte symbol** per missing byte value, in increasing byte order
(FORMAT.md, "Symbols"); every table gives each of those the frequency 1, so any input can be
spelled, and a window's first table raises every byte value's symbol to the progress floor.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

__all__ = ["Pieces"]


class Pieces:
    """The symbols of a vocabulary, indexed for prefix look-ups. Tokens of no bytes are never offered."""

    def __init__(self, pieces: Sequence[bytes]) -> None:
        self.vocab_size = len(pieces)
        spelled = {p for p in pieces if len(p) == 1}
        self.extra_bytes = [b for b in range(256) if bytes([b]) not in spelled]
        """Byte values no token spells, each a symbol after the tokens, in this order."""
        self.pieces = list(pieces) + [bytes([b]) for b in self.extra_bytes]
        """Symbol -> its bytes: the tokens', then the byte symbols'."""
        self.size = len(self.pieces)
        self.lengths = np.array([len(p) for p in self.pieces], dtype=np.int64)
        self._by_piece: dict[bytes, list[int]] = {}
        for symbol, piece in enumerate(self.pieces):
            if piece:
                self._by_piece.setdefault(piece, []).append(symbol)
        self.longest = max((len(p) for p in self._by_piece), default=0)
        self.byte_symbols = np.array([self._by_piece[bytes([b])][0] for b in range(256)], dtype=np.int64)
        """Byte value b -> the lowest symbol whose piece is that one byte (FORMAT.md, "Progress")."""

    def prefixes(self, data: bytes | memoryview, pos: int) -> Iterator[int]:
        """The symbols whose piece starts ``data`` at ``pos``, longest first (equal pieces: lowest first)."""
        end = min(len(data), pos + self.longest)
        view = bytes(data[pos:end])
        for n in range(len(view), 0, -1):
            symbols = self._by_piece.get(view[:n])
            if symbols:
                yield from symbols

    def matches(self, symbol: int, data: bytes | memoryview, pos: int) -> bool:
        piece = self.pieces[symbol]
        return bool(piece) and data[pos : pos + len(piece)] == piece

    def extend(self, freq: np.ndarray) -> np.ndarray:
        """Tables over the tokens (rows summing to ``T``) as tables over the symbols: each byte symbol 1, taken
        from the row's largest entry (its lowest index)."""
        extra = len(self.extra_bytes)
        if not extra:
            return freq
        rows = np.atleast_2d(freq)
        out = np.empty((len(rows), rows.shape[1] + extra), dtype=rows.dtype)
        out[:, : rows.shape[1]] = rows
        out[:, rows.shape[1] :] = 1
        out[np.arange(len(rows)), np.argmax(rows, axis=1)] -= extra
        return out if np.ndim(freq) == 2 else out[0]

    def fed(self, symbol: int, start_token: int) -> int:
        """The token the model is fed for a symbol: itself, or the start token for a byte symbol."""
        return symbol if symbol < self.vocab_size else start_token
