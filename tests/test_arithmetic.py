"""The 32-bit arithmetic coder: exact round trips and a cost within 0.01% of the ideal code length."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nacrith.coder.arithmetic import ArithmeticDecoder, ArithmeticEncoder
from nacrith.coder.cdf import quantize

P = 24
TOTAL = 1 << P


def _encode(symbols: list[int], tables: list[np.ndarray]) -> bytes:
    enc = ArithmeticEncoder()
    for s, f in zip(symbols, tables):
        enc.encode(int(f[:s].sum()), int(f[s]), int(f.sum()))
    return enc.finish()


def _decode(data: bytes, tables: list[np.ndarray]) -> list[int]:
    """Each symbol through target() and consume(), as the lanes decode; the stream must end exactly."""
    dec = ArithmeticDecoder(data)
    out = []
    for f in tables:
        cumulative = np.concatenate([[0], np.cumsum(f)])
        total = int(cumulative[-1])
        s = int(np.searchsorted(cumulative, dec.target(total), side="right")) - 1
        dec.consume(int(cumulative[s]), int(f[s]), total)
        assert not dec.overrun
        out.append(s)
    assert dec.exact_end
    return out


def _ideal_bits(symbols: list[int], tables: list[np.ndarray]) -> float:
    return sum(-math.log2(f[s] / f.sum()) for s, f in zip(symbols, tables))


def test_empty_stream_finishes_in_one_byte() -> None:
    assert len(ArithmeticEncoder().finish()) == 1  # the two bits of the finish, padded
    assert ArithmeticDecoder(ArithmeticEncoder().finish()).exact_end


def test_a_payload_too_short_for_its_symbols_is_overrun_within_30_bits_of_its_end() -> None:
    """A strict decoder has read at most 30 bits past the end of a whole payload: more means it was cut."""
    rng = np.random.default_rng(3)
    table = quantize(rng.normal(0, 2, 64), 16)
    symbols = rng.integers(0, 64, 400).tolist()
    data = _encode(symbols, [table] * len(symbols))
    cumulative = np.concatenate([[0], np.cumsum(table)])
    for cut in (len(data) - 1, len(data) // 2, 1):
        dec = ArithmeticDecoder(data[:cut])
        seen = []
        for _ in symbols:
            s = int(np.searchsorted(cumulative, dec.target(1 << 16), side="right")) - 1
            dec.consume(int(cumulative[s]), int(table[s]), 1 << 16)
            seen.append(dec.overrun)
            if dec.overrun:
                break
        assert any(seen), cut
        assert ArithmeticDecoder(data[:cut], strict=False).overrun is False  # version 1 reads zeros past the end


def test_a_payload_longer_than_its_symbols_is_not_an_exact_end() -> None:
    table = np.array([TOTAL // 2, TOTAL // 2])
    data = _encode([0, 1, 1, 0], [table] * 4)
    dec = ArithmeticDecoder(data + b"\x00")
    for s in [0, 1, 1, 0]:
        dec.consume(s * TOTAL // 2, TOTAL // 2, TOTAL)
    assert not dec.exact_end


def test_one_symbol_alphabet_costs_nothing() -> None:
    table = np.array([TOTAL])
    data = _encode([0] * 1000, [table] * 1000)
    assert len(data) <= 1
    assert _decode(data, [table] * 1000) == [0] * 1000


@pytest.mark.parametrize("seed", range(5))
def test_random_distributions_round_trip(seed: int) -> None:
    rng = np.random.default_rng(seed)
    tables, symbols = [], []
    for _ in range(400):
        vocab = int(rng.integers(2, 600))
        f = quantize(rng.normal(0, rng.uniform(0.1, 8), size=vocab), P)
        tables.append(f)
        symbols.append(int(rng.choice(vocab, p=f / TOTAL)))
    data = _encode(symbols, tables)
    assert _decode(data, tables) == symbols


def test_extreme_probabilities_both_ways() -> None:
    sure = np.array([TOTAL - 1, 1])  # the likely symbol, then the one-in-2**24 symbol
    symbols = [0] * 300 + [1] * 50 + [0] * 300 + [1, 0] * 40
    tables = [sure] * len(symbols)
    data = _encode(symbols, tables)
    assert _decode(data, tables) == symbols
    assert len(data) * 8 <= _ideal_bits(symbols, tables) + 16


def test_underflow_heavy_stream_round_trips() -> None:
    # Two nearly equal halves drive low and high toward the middle: many pending bits.
    table = np.array([TOTAL // 2 - 1, 2, TOTAL // 2 - 1])
    symbols = [1, 0, 2] * 200 + [1] * 300
    assert _decode(_encode(symbols, [table] * len(symbols)), [table] * len(symbols)) == symbols


def test_all_symbols_of_a_full_24_bit_table() -> None:
    f = quantize(np.linspace(-3, 3, 4096), P)
    symbols = list(range(4096))
    assert _decode(_encode(symbols, [f] * 4096), [f] * 4096) == symbols


def test_cost_within_a_hundredth_of_a_percent_of_ideal() -> None:
    rng = np.random.default_rng(42)
    base = [quantize(rng.normal(0, s, size=256), P) for s in (0.5, 1, 2, 4, 8)]
    n = 100_000
    which = rng.integers(0, len(base), size=n)
    tables = [base[i] for i in which]
    symbols = [int(rng.choice(256, p=t / TOTAL)) for t in tables]
    data = _encode(symbols, tables)
    ideal = _ideal_bits(symbols, tables)
    assert len(data) * 8 <= ideal * 1.0001, (len(data) * 8, ideal)
    assert _decode(data, tables) == symbols


def test_finished_encoder_cannot_be_reused() -> None:
    enc = ArithmeticEncoder()
    enc.finish()
    with pytest.raises(ValueError, match="after finish"):
        enc.encode(0, 1, 2)
    with pytest.raises(ValueError, match="twice"):
        enc.finish()


@pytest.mark.parametrize("args", [(0, 0, 16), (10, 7, 16), (-1, 1, 16), (0, 1, 1 << 31)])
def test_bad_intervals_are_refused(args: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="bad symbol interval"):
        ArithmeticEncoder().encode(*args)


@pytest.mark.parametrize("precision", [24, 29, 30])
def test_one_symbol_narrows_the_interval_by_less_than_precision_plus_two_bits(precision: int) -> None:
    """What makes the container's neural payload bound (precision + 2 bits a token) a guarantee.

    From any state, a symbol of frequency 1 shrinks the interval by at most a factor of
    ``span / (span // total)`` (the coder's integer rounding), which is below ``2**(precision + 2)``
    since the span exceeds 2**30. Measured on the encoder itself: the bits it emits plus what is
    left of the interval. The largest factor seen exceeds ``2**precision``: rounding is real,
    so ``precision`` bits a token would not be a bound.
    """
    total = 1 << precision
    rng = np.random.default_rng(precision)
    worst = 0.0
    for _ in range(5000):
        span = int(rng.integers((1 << 30) + 1, (1 << 32) + 1))
        enc = ArithmeticEncoder()
        enc._low, enc._high = 0, span - 1
        enc.encode(int(rng.integers(0, total)), 1, total)
        emitted = 8 * len(enc._out) + enc._nacc + enc._pending
        left = enc._high - enc._low + 1
        worst = max(worst, math.log2(span) + emitted - math.log2(left))
    assert precision < worst < precision + 2

