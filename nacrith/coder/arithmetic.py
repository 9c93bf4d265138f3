"""A 32-bit arithmetic coder (Witten, Neal and Cleary, 1987) with pending underflow bits.

Invariants, checked in the encoder after every symbol (they are what makes the
coder exact):

* ``0 <= low < high <= 2**32 - 1`` after renormalization;
* ``high - low >= 2**30``: the interval spans more than a quarter of the state, so any
  total up to ``2**30`` gives every symbol with frequency >= 1 a non-empty interval.
  That is why the CDF precision must be at most ``STATE_BITS - 2`` bits.

The stream ends with the shortest finish that names a value inside the final
interval (two bits plus pending ones), padded with zero bits to a byte. Every
renormalization shift emits one bit, so a stream of ``s`` shifts is exactly
``ceil((s + 2) / 8)`` bytes, and its decoder, which reads 32 bits ahead, has read
``32 + s`` bits when it ends: a decoder can reject a payload that is too short for
what it decodes as soon as it reads 30 bits past its end (FORMAT.md, "Arithmetic coding").
(Version 1 encoders dropped trailing zero bytes; :class:`ArithmeticDecoder` reads those
with ``strict=False``.)
"""

from __future__ import annotations

from ..constants import STATE_BITS

__all__ = ["ArithmeticEncoder", "ArithmeticDecoder"]

_FULL = (1 << STATE_BITS) - 1
_HALF = 1 << (STATE_BITS - 1)
_QUARTER = 1 << (STATE_BITS - 2)
_THREE_QUARTERS = 3 * _QUARTER


class ArithmeticEncoder:
    """Encodes symbols given as (cumulative low, frequency, total) triples."""

    def __init__(self) -> None:
        self._low = 0
        self._high = _FULL
        self._pending = 0
        self._out = bytearray()
        self._acc = 0  # bits not yet forming a whole byte
        self._nacc = 0
        self._finished = False

    def _emit(self, bit: int) -> None:
        self._acc = (self._acc << 1) | bit
        self._nacc += 1
        if self._nacc == 8:
            self._out.append(self._acc)
            self._acc = 0
            self._nacc = 0
        if self._pending:
            opposite = bit ^ 1
            for _ in range(self._pending):
                self._acc = (self._acc << 1) | opposite
                self._nacc += 1
                if self._nacc == 8:
                    self._out.append(self._acc)
                    self._acc = 0
                    self._nacc = 0
            self._pending = 0

    def encode(self, cum_low: int, freq: int, total: int) -> None:
        """Narrow the interval to ``[cum_low, cum_low + freq)`` out of ``total``."""
        if self._finished:
            raise ValueError("cannot encode() after finish()")
        if not (freq >= 1 and 0 <= cum_low and cum_low + freq <= total <= _QUARTER):
            raise ValueError(
                f"bad symbol interval: cum_low={cum_low} freq={freq} total={total}; "
                f"need freq >= 1, cum_low + freq <= total <= 2**{STATE_BITS - 2}"
            )
        low, high = self._low, self._high
        span = high - low + 1
        high = low + (span * (cum_low + freq)) // total - 1
        low = low + (span * cum_low) // total
        while True:
            if high < _HALF:
                self._emit(0)
            elif low >= _HALF:
                self._emit(1)
                low -= _HALF
                high -= _HALF
            elif low >= _QUARTER and high < _THREE_QUARTERS:
                self._pending += 1
                low -= _QUARTER
                high -= _QUARTER
            else:
                break
            low <<= 1
            high = (high << 1) | 1
        assert 0 <= low < high <= _FULL and high - low >= _QUARTER, (low, high)
        self._low, self._high = low, high

    def finish(self) -> bytes:
        """End the stream and return it. The encoder cannot be used afterwards."""
        if self._finished:
            raise ValueError("cannot finish() twice")
        self._finished = True
        self._pending += 1
        self._emit(0 if self._low < _QUARTER else 1)
        if self._nacc:
            self._out.append(self._acc << (8 - self._nacc))
        return bytes(self._out)


class ArithmeticDecoder:
    """Decodes what :class:`ArithmeticEncoder` wrote, given the same frequency tables.

    ``strict``: the stream is exactly what the encoder wrote, so :meth:`overrun` and :meth:`exact_end`
    can tell a payload too short or too long for its symbols (version 2). Without it, missing
    trailing bytes read as zeros (version 1).
    """

    def __init__(self, data: bytes, *, strict: bool = True) -> None:
        self._data = data
        self.strict = strict
        self._bitpos = 0
        self._low = 0
        self._high = _FULL
        self._value = 0
        for _ in range(STATE_BITS):
            self._value = (self._value << 1) | self._next_bit()

    def _next_bit(self) -> int:
        pos = self._bitpos
        self._bitpos = pos + 1
        byte = pos >> 3
        if byte >= len(self._data):
            return 0
        return (self._data[byte] >> (7 - (pos & 7))) & 1

    @property
    def overrun(self) -> bool:
        """Whether more bits were read than an encoder's stream of this length can make a decoder read."""
        return self.strict and self._bitpos > 8 * len(self._data) + STATE_BITS - 2

    @property
    def exact_end(self) -> bool:
        """After the last symbol: whether the stream has exactly the length its encoder would have written."""
        shifts = self._bitpos - STATE_BITS
        return not self.strict or len(self._data) == (shifts + 2 + 7) // 8

    def target(self, total: int) -> int:
        """The cumulative count the next symbol's interval contains: ``cum_low <= target < cum_low + freq``."""
        span = self._high - self._low + 1
        return ((self._value - self._low + 1) * total - 1) // span

    def consume(self, cum_low: int, freq: int, total: int) -> None:
        """Remove the symbol ``[cum_low, cum_low + freq)`` that :meth:`target` pointed into."""
        low, high, value = self._low, self._high, self._value
        span = high - low + 1
        high = low + (span * (cum_low + freq)) // total - 1
        low = low + (span * cum_low) // total
        while True:
            if high < _HALF:
                pass
            elif low >= _HALF:
                low -= _HALF
                high -= _HALF
                value -= _HALF
            elif low >= _QUARTER and high < _THREE_QUARTERS:
                low -= _QUARTER
                high -= _QUARTER
                value -= _QUARTER
            else:
                break
            low <<= 1
            high = (high << 1) | 1
            value = (value << 1) | self._next_bit()
        self._low, self._high, self._value = low, high, value
