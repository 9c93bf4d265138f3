"""Equal-info windows: the 32-bit arithmetic coder of :mod:`.arithmetic`, ended inside exactly ``bits`` bits.

An encoder codes tokens into a window while it can still finish it within ``bits`` bits, then
pads it with zero bits to exactly ``bits``; a decoder reads the window and zeros past its end
(FORMAT.md, "Equal-info windows").

The finish. After a symbol, the interval's state is ``low < HALF <= high`` (renormalization
guarantees it) with ``pending`` deferred bits, and ``settled`` bits are known for good. The
value ``HALF`` names a point of the interval, and written out it is a 1 bit, then ``pending``
zero bits (the deferred bits, resolved), then zeros: with zero padding the window needs only
its settled bits and that 1 bit. When nothing is pending and ``low == 0``, the value 0 is in
the interval and even that bit is not needed. So a window's size, were it ended now, is

    settled + (0 if pending == 0 and low == 0 else 1)

which :meth:`WindowEncoder.fits` computes for a candidate symbol before it is coded: the
encoder knows whether the window can still be finished. (The classic finish spends two bits
because it must survive any bits that follow; a window's bits are followed by zeros.)

Progress. From the empty window's state a symbol of frequency ``f >= 2**k`` out of ``2**P``
costs at most ``P - k`` bits (DESIGN.md, "Equal-info windows"), so any symbol fits a
window of ``P`` bits or more, and in a smaller window a symbol of frequency at least
:func:`first_token_floor` does. :func:`floor_table` raises the byte tokens of a window's first
table to that floor, so every window codes at least one byte.
"""

from __future__ import annotations

import numpy as np

from ..constants import STATE_BITS

__all__ = ["WindowEncoder", "WindowDecoder", "first_token_floor", "floor_table", "MIN_WINDOW_BITS", "MAX_WINDOW_BITS"]

MIN_WINDOW_BITS = 16
"""Smallest window: 16 bits leave room for a byte token at the floor of 2**(P-16) (P = 24: 1/65536)."""

MAX_WINDOW_BITS = 65536
"""Largest window: 8 KiB of code, some 30 KB of text; beyond it a window is just a long chunk."""

_FULL = (1 << STATE_BITS) - 1
_HALF = 1 << (STATE_BITS - 1)
_QUARTER = 1 << (STATE_BITS - 2)
_THREE_QUARTERS = 3 * _QUARTER


def check_window_bits(bits: int) -> None:
    if not (MIN_WINDOW_BITS <= bits <= MAX_WINDOW_BITS and bits % 8 == 0):
        raise ValueError(f"window bits must be a multiple of 8 from {MIN_WINDOW_BITS} to {MAX_WINDOW_BITS}, got {bits}")


def _narrow(low: int, high: int, pending: int, cum_low: int, freq: int, total: int) -> tuple[int, int, int, list[tuple[int, int]]]:
    """The state after a symbol, and what renormalization settled: (bit, pending bits released) per E1/E2 shift."""
    span = high - low + 1
    high = low + (span * (cum_low + freq)) // total - 1
    low = low + (span * cum_low) // total
    settled: list[tuple[int, int]] = []
    while True:
        if high < _HALF:
            settled.append((0, pending))
            pending = 0
        elif low >= _HALF:
            settled.append((1, pending))
            pending = 0
            low -= _HALF
            high -= _HALF
        elif low >= _QUARTER and high < _THREE_QUARTERS:
            pending += 1
            low -= _QUARTER
            high -= _QUARTER
        else:
            break
        low <<= 1
        high = (high << 1) | 1
    return low, high, pending, settled


def _finish_bits(low: int, pending: int) -> int:
    """Bits the finish adds to the settled ones: the 1 of the value HALF, or none when 0 is in the interval."""
    return 0 if pending == 0 and low == 0 else 1


class WindowEncoder:
    """Codes symbols into one window of exactly ``bits`` bits; :meth:`fits` says whether a symbol still can be.

    Invariants after every symbol: ``0 <= low < HALF <= high <= 2**32 - 1``, ``high - low >= 2**30``,
    and ``settled + finish <= bits`` (a symbol that would break the last is refused).
    """

    def __init__(self, bits: int) -> None:
        check_window_bits(bits)
        self.bits = bits
        self._low = 0
        self._high = _FULL
        self._pending = 0
        self._acc = 0  # the settled bits, most significant first
        self.settled = 0
        self.symbols = 0
        self._finished = False

    @property
    def used(self) -> int:
        """The window's size were it finished now (0 while empty)."""
        return self.settled + _finish_bits(self._low, self._pending)

    def cost(self, cum_low: int, freq: int, total: int) -> int:
        """The window's size were it finished after this symbol."""
        _check_symbol(cum_low, freq, total)
        low, _, pending, settled = _narrow(self._low, self._high, self._pending, cum_low, freq, total)
        return self.settled + sum(1 + p for _, p in settled) + _finish_bits(low, pending)

    def fits(self, cum_low: int, freq: int, total: int) -> bool:
        """Whether the window can still be finished within its bits after this symbol."""
        return self.cost(cum_low, freq, total) <= self.bits

    def encode(self, cum_low: int, freq: int, total: int) -> None:
        """Code a symbol that :meth:`fits` (ValueError otherwise: the window would overflow)."""
        if self._finished:
            raise ValueError("cannot encode() after finish()")
        if not self.fits(cum_low, freq, total):
            raise ValueError(f"the symbol does not fit the window's {self.bits} bits (ask fits() first)")
        self._low, self._high, self._pending, settled = _narrow(self._low, self._high, self._pending, cum_low, freq, total)
        for bit, pending in settled:
            n = 1 + pending
            self._acc = (self._acc << n) | (bit << pending) | (0 if bit else (1 << pending) - 1)
            self.settled += n
        assert 0 <= self._low < _HALF <= self._high <= _FULL and self._high - self._low >= _QUARTER
        assert self.used <= self.bits
        self.symbols += 1

    def finish(self) -> bytes:
        """The window: its settled bits, the finish, zero bits to exactly ``bits``. The encoder is spent."""
        if self._finished:
            raise ValueError("cannot finish() twice")
        self._finished = True
        acc, n = self._acc, self.settled
        if _finish_bits(self._low, self._pending):
            acc, n = (acc << 1) | 1, n + 1
        return (acc << (self.bits - n)).to_bytes(self.bits // 8, "big")


class WindowDecoder:
    """Decodes one window: its ``bits`` bits, then zeros. :meth:`check_end` checks it is exactly what an encoder writes."""

    def __init__(self, window: bytes, bits: int) -> None:
        check_window_bits(bits)
        if len(window) * 8 != bits:
            raise ValueError(f"a window of {bits} bits is {bits // 8} bytes, got {len(window)}")
        self.bits = bits
        self._word = int.from_bytes(window, "big")
        self._pos = 0  # bits read so far
        self._low = 0
        self._high = _FULL
        self._pending = 0
        self._value = 0
        for _ in range(STATE_BITS):
            self._value = (self._value << 1) | self._next_bit()

    def _next_bit(self) -> int:
        pos = self._pos
        self._pos = pos + 1
        return (self._word >> (self.bits - 1 - pos)) & 1 if pos < self.bits else 0

    def target(self, total: int) -> int:
        """The cumulative count the next symbol's interval contains: ``cum_low <= target < cum_low + freq``."""
        span = self._high - self._low + 1
        return ((self._value - self._low + 1) * total - 1) // span

    def consume(self, cum_low: int, freq: int, total: int) -> None:
        """Remove the symbol ``[cum_low, cum_low + freq)`` that :meth:`target` pointed into."""
        low, high, value, pending = self._low, self._high, self._value, self._pending
        span = high - low + 1
        high = low + (span * (cum_low + freq)) // total - 1
        low = low + (span * cum_low) // total
        while True:
            if high < _HALF:
                pending = 0
            elif low >= _HALF:
                pending = 0
                low -= _HALF
                high -= _HALF
                value -= _HALF
            elif low >= _QUARTER and high < _THREE_QUARTERS:
                pending += 1
                low -= _QUARTER
                high -= _QUARTER
                value -= _QUARTER
            else:
                break
            low <<= 1
            high = (high << 1) | 1
            value = (value << 1) | self._next_bit()
        self._low, self._high, self._value, self._pending = low, high, value, pending

    @property
    def used(self) -> int:
        """The size of the window an encoder would have written for the symbols decoded so far."""
        settled = self._pos - STATE_BITS - self._pending
        return settled + _finish_bits(self._low, self._pending)

    def check_end(self) -> str | None:
        """After the window's last symbol: None if the window is exactly the encoder's (its settled bits, the
        finish, zeros), else what is wrong with it."""
        settled = self._pos - STATE_BITS - self._pending
        used = self.used
        if used > self.bits:
            return f"its symbols need {used} bits, more than its {self.bits}"
        tail_bits = self.bits - settled
        expected = 1 << (tail_bits - 1) if used > settled else 0
        if self._word & ((1 << tail_bits) - 1) != expected:
            return "its bits after its code are not the finish and zero padding"
        return None


def _check_symbol(cum_low: int, freq: int, total: int) -> None:
    if not (freq >= 1 and 0 <= cum_low and cum_low + freq <= total <= _QUARTER):
        raise ValueError(
            f"bad symbol interval: cum_low={cum_low} freq={freq} total={total}; "
            f"need freq >= 1, cum_low + freq <= total <= 2**{STATE_BITS - 2}"
        )


def first_token_floor(bits: int, precision_bits: int) -> int:
    """The least frequency that makes a symbol fit an empty window of ``bits`` bits: ``2**(P - bits)``, or 1
    when every symbol fits (``bits >= P``)."""
    return 1 << max(0, precision_bits - bits)


def floor_table(freq: np.ndarray, byte_tokens: np.ndarray, minimum: int) -> np.ndarray:
    """``freq`` (one row summing to ``T``, every entry >= 1) with each of ``byte_tokens`` raised to at least
    ``minimum``, the others scaled to make room; the total stays ``T`` (FORMAT.md, "Progress").

    ``g[i] = base[i] + (f[i] - 1) * K2 // K``, where ``base`` is ``minimum`` for a byte token and 1 for
    the others, ``K = T - V`` and ``K2 = K - len(byte_tokens) * (minimum - 1)``; what is left of ``T``
    goes to the lowest index of the largest ``f``.
    """
    f = np.asarray(freq, dtype=np.int64)
    if minimum <= 1:
        return f
    total = int(f.sum())
    spare = total - len(f)
    spare2 = spare - len(byte_tokens) * (minimum - 1)
    if spare2 < 0 or spare <= 0:
        raise ValueError(f"a table of {len(f)} symbols summing to {total} has no room for {len(byte_tokens)} byte tokens of {minimum}")
    g = np.ones_like(f)
    g[byte_tokens] = minimum
    g += (f - 1) * spare2 // spare  # (f - 1) * spare2 < 2**30 * 2**30: int64 holds it
    g[int(np.argmax(f))] += total - int(g.sum())
    return g
