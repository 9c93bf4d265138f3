"""The window coder: exact sizes, the shortest finish, the progress floor's bound, strict ends."""

from __future__ import annotations

import numpy as np
import pytest

from nacrith.coder.cdf import quantize
from nacrith.coder.window import WindowDecoder, WindowEncoder, first_token_floor, floor_table

P = 24
T = 1 << P


def _fill(bits: int, rng: np.random.Generator, vocab: int) -> tuple[bytes, list[int], list[np.ndarray], int]:
    """Symbols coded while they fit; the window, the symbols, their tables, the bits used."""
    enc = WindowEncoder(bits)
    symbols, tables = [], []
    while True:
        f = quantize(rng.normal(0, rng.uniform(0.1, 6), vocab), P)
        s = int(rng.integers(0, vocab)) if rng.random() < 0.5 else int(np.argmax(f))
        if not enc.fits(int(f[:s].sum()), int(f[s]), T):
            return enc.used, symbols, tables, enc.finish()  # type: ignore[return-value]
        enc.encode(int(f[:s].sum()), int(f[s]), T)
        symbols.append(s)
        tables.append(f)


def _decode(window: bytes, bits: int, tables: list[np.ndarray]) -> tuple[list[int], WindowDecoder]:
    dec = WindowDecoder(window, bits)
    out = []
    for f in tables:
        c = np.concatenate([[0], np.cumsum(f)])
        s = int(np.searchsorted(c, dec.target(T), side="right")) - 1
        dec.consume(int(c[s]), int(f[s]), T)
        out.append(s)
    return out, dec


@pytest.mark.parametrize("bits", [16, 24, 32, 64, 128, 1024])
def test_windows_filled_to_the_last_symbol_that_fits_decode_exactly(bits: int) -> None:
    rng = np.random.default_rng(bits)
    for _ in range(150):
        used, symbols, tables, window = _fill(bits, rng, int(rng.integers(2, 300)))  # type: ignore[misc]
        assert len(window) * 8 == bits and used <= bits
        decoded, dec = _decode(window, bits, tables)
        assert decoded == symbols and dec.used == used and dec.check_end() is None


def test_the_finish_is_one_bit_or_none() -> None:
    empty = WindowEncoder(16)
    assert empty.used == 0 and empty.finish() == b"\x00\x00"
    enc = WindowEncoder(16)
    enc.encode(0, T // 2, T)  # the lower half: one settled 0 bit, and low is 0 again
    assert (enc.settled, enc.used) == (1, 1) and enc.finish() == b"\x00\x00"
    enc = WindowEncoder(16)
    enc.encode(T // 2, T // 2, T)  # the upper half: a settled 1 bit, low 0
    assert enc.used == 1 and enc.finish() == b"\x80\x00"
    enc = WindowEncoder(16)
    enc.encode(T // 4, T // 2, T)  # the middle half: a pending bit, resolved by the finish's 1 (then a 0)
    assert (enc.settled, enc.used) == (0, 1) and enc.finish() == b"\x80\x00"


@pytest.mark.parametrize("bits", range(16, 33))
def test_a_symbol_at_the_floor_fits_an_empty_window_wherever_it_lies(bits: int) -> None:
    floor = first_token_floor(bits, P)
    assert floor == (1 << (P - bits) if bits < P else 1)
    rng = np.random.default_rng(bits)
    worst = 0
    empty = WindowEncoder(1024)  # a symbol's cost does not depend on the window's size
    for cum_low in [0, T - floor, T // 2 - floor // 2, *rng.integers(0, T - floor, 3000).tolist()]:
        worst = max(worst, empty.cost(int(cum_low), floor, T))
    assert worst <= bits
    if bits < P:
        assert empty.cost(0, floor // 2, T) > bits  # and the floor is the least that does


def test_the_floor_raises_byte_tokens_and_keeps_the_total() -> None:
    rng = np.random.default_rng(0)
    f = quantize(rng.normal(0, 4, 1000), P)
    bytes_ = np.arange(100, 356)
    g = floor_table(f, bytes_, 256)
    assert g.sum() == T and g.min() >= 1 and g[bytes_].min() >= 256
    assert floor_table(f, bytes_, 1) is not None and np.array_equal(floor_table(f, bytes_, 1), f)
    with pytest.raises(ValueError, match="no room"):
        floor_table(f, bytes_, T)


def test_a_symbol_that_does_not_fit_is_refused_and_a_finished_window_cannot_be_reused() -> None:
    enc = WindowEncoder(16)
    assert not enc.fits(0, 1, T)  # 24 bits
    with pytest.raises(ValueError, match="does not fit"):
        enc.encode(0, 1, T)
    enc.finish()
    with pytest.raises(ValueError, match="after finish"):
        enc.encode(0, T, T)
    with pytest.raises(ValueError, match="multiple of 8"):
        WindowEncoder(20)


def test_a_window_whose_padding_is_not_zero_is_not_an_encoder_s() -> None:
    enc = WindowEncoder(32)
    enc.encode(T // 2, T // 4, T)
    window = enc.finish()
    _, dec = _decode(window, 32, [np.array([T // 2, T // 4, T // 4])])
    assert dec.check_end() is None
    bad = (int.from_bytes(window, "big") | 1).to_bytes(4, "big")
    _, dec = _decode(bad, 32, [np.array([T // 2, T // 4, T // 4])])
    assert "padding" in dec.check_end()
