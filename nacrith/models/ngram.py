"""Token n-gram counts: what followed each of the last 1..N tokens, learned while coding.

Each order has its own hash table of fixed size (``2**table_bits`` slots), so memory is
set by the parameters, never by the input. A slot holds a check value of its context and
up to :data:`FOLLOWERS` (token, count) pairs. A context that hashes onto an occupied slot
with another check value takes the slot over; a new follower replaces the one with the
lowest count. When a context's counts reach ``count_limit`` they are halved, so recent
statistics weigh more (text drifts).

The prediction of one order for one lane is sparse: the followers of its context with
probability count / total. Everything is integer arithmetic and one IEEE division, so
encoder and decoder agree on every machine.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NgramModel", "FOLLOWERS", "context_hashes"]

FOLLOWERS = 8
"""Followers remembered per context: measured, more rarely help (the mass is in the top few)."""

_HASH_MULTIPLIER = 0x9E3779B97F4A7C15
_HASH_MASK = (1 << 64) - 1


def context_hashes(history: list[int], orders: int) -> list[int]:
    """64-bit hashes of the last 1..``orders`` tokens of ``history`` (fewer if it is shorter)."""
    out = []
    h = 0
    for n in range(1, min(orders, len(history)) + 1):
        h = ((h ^ (history[-n] + 1)) * _HASH_MULTIPLIER + n) & _HASH_MASK
        out.append(h ^ (h >> 29))
    return out


class NgramModel:
    """Follower counts of token contexts of orders 1..``orders``, in bounded hash tables."""

    def __init__(self, orders: int, table_bits: int, count_limit: int) -> None:
        if not 1 <= orders <= 32 or not 4 <= table_bits <= 26 or not 2 <= count_limit <= 1 << 16:
            raise ValueError(f"bad n-gram parameters: orders {orders}, table bits {table_bits}, count limit {count_limit}")
        self.orders = orders
        self.table_bits = table_bits
        self.count_limit = count_limit
        slots = 1 << table_bits
        self._check = np.zeros((orders, slots), dtype=np.int64)
        self._tokens = np.full((orders, slots, FOLLOWERS), -1, dtype=np.int32)
        self._counts = np.zeros((orders, slots, FOLLOWERS), dtype=np.int32)

    @property
    def nbytes(self) -> int:
        return self._check.nbytes + self._tokens.nbytes + self._counts.nbytes

    def used_slots(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The slots that are not empty, as (flat indices, checks, followers, counts): with :meth:`fill`,
        a learned state costs what it holds to copy, not the whole tables."""
        used = np.flatnonzero(self._check)
        slots = self._check.size
        return used, self._check.reshape(slots)[used], self._tokens.reshape(slots, FOLLOWERS)[used], self._counts.reshape(slots, FOLLOWERS)[used]

    def fill(self, used: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> None:
        """Put the slots of :meth:`used_slots` (of a model of the same parameters) into these tables."""
        index, check, tokens, counts = used
        slots = self._check.size
        self._check.reshape(slots)[index] = check
        self._tokens.reshape(slots, FOLLOWERS)[index] = tokens
        self._counts.reshape(slots, FOLLOWERS)[index] = counts

    def _slot(self, h: int) -> tuple[int, int]:
        return h & ((1 << self.table_bits) - 1), (h >> 32) | 1  # check is never 0, the empty slot's value

    def predict(self, history: list[int]) -> list[tuple[list[int], list[int]]]:
        """For orders 1, 2, ...: (followers, counts) of the context, or an empty pair when unseen.

        The list is as long as the orders the history allows (its length, up to ``orders``).
        """
        out = []
        for order, h in enumerate(context_hashes(history, self.orders)):
            slot, check = self._slot(h)
            if self._check[order, slot] != check:
                out.append(([], []))
                continue
            counts = self._counts[order, slot]
            used = counts > 0
            out.append((self._tokens[order, slot][used].tolist(), counts[used].tolist()))
        return out

    def update(self, history: list[int], token: int) -> None:
        """Count ``token`` as the follower of every context order of ``history`` (before the token)."""
        for order, h in enumerate(context_hashes(history, self.orders)):
            slot, check = self._slot(h)
            tokens, counts = self._tokens[order, slot], self._counts[order, slot]
            if self._check[order, slot] != check:
                self._check[order, slot] = check
                tokens[:] = -1
                counts[:] = 0
            hit = np.flatnonzero(tokens == token)
            if hit.size:
                i = int(hit[0])
            else:
                i = int(np.argmin(counts))  # an empty entry has count 0: filled first, lowest index first
                tokens[i] = token
                counts[i] = 0
            counts[i] += 1
            if counts[i] >= self.count_limit:
                counts //= 2  # followers that drop to 0 free their entry
                tokens[counts == 0] = -1
