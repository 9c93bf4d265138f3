"""The match model: find where the last few tokens occurred before, predict what came next there.

An LLM with a window of W tokens forgets everything older; repeated boilerplate (XML
headers, licence texts, tables) is where a long memory wins. All tokens coded so far,
of every lane and every group of the frame, live in one ring buffer of
``2**history_bits`` tokens. Each group reserves one contiguous region per lane (its token
count is known to encoder and decoder alike), so a lane's tokens stay contiguous while
lanes advance side by side. A hash table maps the last ``min_length`` tokens of a
context to the position that followed them.

A lane that has a match predicts the token at its pointer; when the prediction is right
the pointer advances and the match grows, when it is wrong the match is dropped and a
new one is looked up (verified token by token, so hash collisions cost nothing).
"""

from __future__ import annotations

import numpy as np

from .ngram import context_hashes

__all__ = ["MatchModel", "MAX_COUNTED_LENGTH"]

MAX_COUNTED_LENGTH = 64
"""A new match's length is counted back this far at most: longer all predict about as well."""

_UNFILLED = -1


class MatchModel:
    """Longest-recent-match prediction over every lane's history."""

    def __init__(self, min_length: int, table_bits: int, history_bits: int) -> None:
        if not 1 <= min_length <= 32 or not 4 <= table_bits <= 26 or not 10 <= history_bits <= 28:
            raise ValueError(f"bad match parameters: min length {min_length}, table bits {table_bits}, history bits {history_bits}")
        self.min_length = min_length
        self.table_bits = table_bits
        self._size = 1 << history_bits
        self._buffer = np.full(self._size, _UNFILLED, dtype=np.int64)
        self._table = np.zeros(1 << table_bits, dtype=np.int64)
        """Absolute position + 1 of the token after a context; 0 = none."""
        self._end = 0
        """Absolute positions reserved so far: the next group's regions start here."""
        self._next: list[int] = []
        """Per lane: absolute position of its next token."""
        self._pointer: list[int] = []
        self._length: list[int] = []

    @property
    def nbytes(self) -> int:
        return self._buffer.nbytes + self._table.nbytes

    def used_cells(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """What differs from a new model, to copy a learned state cheaply: (positions reserved, filled ring
        cells and their tokens, filled table entries and their positions)."""
        cells = np.flatnonzero(self._buffer != _UNFILLED)
        entries = np.flatnonzero(self._table)
        return self._end, cells, self._buffer[cells], entries, self._table[entries]

    def fill(self, used: tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> None:
        """Take the state of :meth:`used_cells` (of a model of the same parameters), before any group."""
        self._end, cells, tokens, entries, positions = used
        self._buffer[cells] = tokens
        self._table[entries] = positions

    def begin_group(self, counts: list[int]) -> None:
        """Reserve a region per lane for a group whose lanes code ``counts`` tokens."""
        total = sum(counts)
        # The ring's cells about to be reused are no predictions any more. (A group longer than
        # the ring overwrites its own start: matches into it fail their check, nothing worse.)
        self._buffer[(self._end + np.arange(min(total, self._size))) % self._size] = _UNFILLED
        self._next = []
        for count in counts:
            self._next.append(self._end)
            self._end += count
        self._pointer = [-1] * len(counts)
        self._length = [0] * len(counts)

    def _token_at(self, position: int) -> int:
        if position < 0 or position <= self._end - self._size:
            return _UNFILLED  # overwritten by the ring
        return int(self._buffer[position % self._size])

    def predict(self, lane: int) -> tuple[int, int]:
        """(predicted token, match length) for ``lane``, or (-1, 0) when it has no match."""
        pointer = self._pointer[lane]
        if pointer < 0:
            return -1, 0
        token = self._token_at(pointer)
        return (token, self._length[lane]) if token != _UNFILLED else (-1, 0)

    def update(self, lane: int, history: list[int], token: int) -> None:
        """Record ``token``, which followed ``history`` (the lane's tokens before it)."""
        here = self._next[lane]
        self._buffer[here % self._size] = token
        self._next[lane] = here + 1
        pointer = self._pointer[lane]
        if pointer >= 0 and self._token_at(pointer) == token:
            self._pointer[lane] = pointer + 1
            self._length[lane] += 1
        else:
            self._pointer[lane] = -1
            self._length[lane] = 0
        if len(history) + 1 < self.min_length:
            return
        context = history[len(history) + 1 - self.min_length :] + [token]
        key = context_hashes(context, self.min_length)[-1] & ((1 << self.table_bits) - 1)
        if self._pointer[lane] < 0:
            candidate = int(self._table[key]) - 1
            if candidate >= 0:
                length = self._verify(candidate, history, token)
                if length:
                    self._pointer[lane] = candidate
                    self._length[lane] = length
        self._table[key] = here + 2  # the token after this context will be at here + 1

    def _verify(self, candidate: int, history: list[int], token: int) -> int:
        """How many tokens before ``candidate`` equal the lane's latest (0 unless at least min_length)."""
        if self._token_at(candidate - 1) != token:
            return 0
        length = 1
        while length < min(len(history) + 1, MAX_COUNTED_LENGTH):
            if self._token_at(candidate - 1 - length) != history[-length]:
                break
            length += 1
        return length if length >= self.min_length else 0
