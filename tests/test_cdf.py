"""The quantization contract of nacrith.coder.cdf."""

from __future__ import annotations

import decimal

import numpy as np
import pytest

from nacrith.coder.cdf import check_frequencies, exp_table, quantize

P = 24


@pytest.mark.parametrize("vocab", [1, 2, 3, 300, 49152])
def test_rows_sum_to_total_and_every_symbol_has_a_count(vocab: int) -> None:
    rng = np.random.default_rng(vocab)
    logits = rng.normal(0, 5, size=(4, vocab)).astype(np.float32)
    freq = quantize(logits, P)
    assert freq.shape == (4, vocab) and freq.dtype == np.int64
    check_frequencies(freq, P)


def test_extreme_logits_still_give_every_symbol_at_least_one() -> None:
    logits = np.full((1, 1000), -1e30, dtype=np.float32)
    logits[0, 7] = 1e30
    freq = quantize(logits, P)
    check_frequencies(freq, P)
    assert freq[0, 7] == (1 << P) - 999
    assert set(np.unique(np.delete(freq[0], 7))) == {1}


def test_uniform_logits_split_evenly_with_remainder_to_lowest_index() -> None:
    freq = quantize(np.zeros(3, dtype=np.float32), 4)  # T=16, K=13: floor(13/3)=4 -> 5,5,5 and 1 left
    assert freq.tolist() == [6, 5, 5]


def test_rule_matches_its_written_definition() -> None:
    import math

    rng = np.random.default_rng(0)
    z = rng.normal(0, 4, size=500).astype(np.float32)
    total, spare = 1 << P, (1 << P) - 500
    m = int(np.argmax(z))
    table = exp_table()
    k = [round((float(z[m]) - float(v)) * 256) for v in z]  # Python's round is half-to-even, like rint
    w = [int(table[j]) if j < len(table) else 0 for j in k]
    expected = [1 + wi * spare // sum(w) for wi in w]
    expected[m] += total - sum(expected)
    assert quantize(z, P).tolist() == expected
    assert table[0] == 1 << 32 and abs(table[256] / 2**32 - math.exp(-1)) < 1e-9


def test_table_is_exact_and_machine_independent() -> None:
    table = exp_table()
    with decimal.localcontext(prec=50):  # the reference's own precision, not the process's
        for k in (1, 100, 1000, len(table) - 1):
            exact = decimal.Decimal(2) ** 32 * (decimal.Decimal(-k) / 256).exp()
            assert int(exact.to_integral_value()) == table[k]
        assert int((decimal.Decimal(2) ** 32 * (decimal.Decimal(-len(table)) / 256).exp()).to_integral_value()) == 0


def _decimal_state() -> tuple:
    c = decimal.getcontext()
    return (c, c.prec, c.rounding, c.Emin, c.Emax, c.capitals, c.clamp, dict(c.traps), dict(c.flags))


def test_building_the_table_leaves_the_process_decimal_context_alone() -> None:
    with decimal.localcontext():  # whatever happens, the next test gets the context it had
        decimal.getcontext().clear_flags()
        before = _decimal_state()
        exp_table.__wrapped__()  # the real computation, not lru_cache's stored result
        quantize(np.zeros((2, 5), dtype=np.float32), P)
        assert _decimal_state() == before


@pytest.mark.parametrize("setting", ["prec", "rounding"])
def test_table_does_not_depend_on_the_callers_decimal_precision_or_rounding(setting: str) -> None:
    caller = {"prec": dict(prec=3), "rounding": dict(rounding=decimal.ROUND_FLOOR)}[setting]
    with decimal.localcontext(**caller):
        table = exp_table.__wrapped__()
    assert np.array_equal(table, exp_table())


def test_table_does_not_depend_on_the_callers_decimal_traps() -> None:
    with decimal.localcontext(traps=[decimal.Inexact]):
        table = exp_table.__wrapped__()
    assert np.array_equal(table, exp_table())


def test_batch_equals_rows_one_by_one() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 3, size=(8, 777)).astype(np.float32)
    batch = quantize(logits, P)
    for row in range(8):
        assert np.array_equal(batch[row], quantize(logits[row], P))


def test_probabilities_are_close_to_the_model() -> None:
    rng = np.random.default_rng(5)
    z = rng.normal(0, 2, size=2000)
    p = np.exp(z - z.max())
    p /= p.sum()
    q = quantize(z, P) / (1 << P)
    assert np.max(np.abs(p - q)) < 2000 / (1 << P) + 1e-6
    assert np.sum(p * np.log2(p / q)) < 1e-3  # KL divergence in bits: the quantization costs almost nothing


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.array([[np.nan, 0.0]]), "NaN"),
        (np.zeros((2, 2, 2)), "shape"),
        (np.zeros((1, 0)), "shape"),
        (np.zeros((1, 20)), "precision"),
    ],
)
def test_bad_input_is_refused_with_the_reason(bad: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        quantize(bad, 4)


def test_check_frequencies_names_the_broken_condition() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        check_frequencies(np.array([[0, 16]]), 4)
    with pytest.raises(ValueError, match="sums to 15"):
        check_frequencies(np.array([[5, 10]]), 4)
