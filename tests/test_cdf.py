"""The quantization contract of nacrith.coder.cdf."""

from __future__ import annotations

import numpy as np
import pytest

from nacrith.coder.cdf import check_frequencies, quantize

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
    rng = np.random.default_rng(0)
    z = rng.normal(0, 4, size=500).astype(np.float32)
    total, spare = 1 << P, (1 << P) - 500
    z64 = z.astype(np.float64)
    e = np.exp(z64 - z64.max())
    expected = 1 + np.floor(e / e.sum() * spare).astype(np.int64)
    expected[int(np.argmax(z64))] += total - expected.sum()
    assert np.array_equal(quantize(z, P), expected)


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
