"""The ensemble and its models: exact frequencies, identical evolution in encoder and decoder, learning."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nacrith.coder.cdf import check_frequencies, quantize
from nacrith.neural.ensemble import Ensemble
from nacrith.neural.params import MAX_MEMORY, EnsembleParams
from nacrith.container import CodingParams
from nacrith.neural.lanes import decode_group, encode_group
from nacrith.models.bias import BiasHead
from nacrith.models.match import MatchModel
from nacrith.models.mixer import Mixer
from nacrith.models.ngram import FOLLOWERS, NgramModel
from tests.conftest import FakePredictor

SMALL = EnsembleParams(ngram_orders=4, ngram_table_bits=10, match_min_length=3, match_table_bits=10, history_bits=12)
SETTINGS = CodingParams(precision_bits=24, lanes=8, window=16, slide_keep=12, chunk_bytes=1 << 16, start_token=299)


def _repetitive_lanes(seed: int, lengths: list[int], vocab: int = 299) -> list[list[int]]:
    """Text-like token streams: a few phrases, repeated in a random order."""
    rng = np.random.default_rng(seed)
    phrases = [rng.integers(0, vocab, size=rng.integers(3, 9)).tolist() for _ in range(12)]
    lanes = []
    for n in lengths:
        out: list[int] = []
        while len(out) < n:
            out += phrases[int(rng.integers(0, len(phrases)))]
        lanes.append(out[:n])
    return lanes


def _cost(predictor: FakePredictor, tokens: list[list[int]], ensemble: Ensemble | None) -> float:
    bits = []
    encode_group(predictor, tokens, SETTINGS, progress=lambda lanes, coded, b: bits.append(b), ensemble=ensemble)
    return sum(bits)


def test_frequencies_keep_the_cdf_contract() -> None:
    ensemble = Ensemble(SMALL, 300, 24)
    ensemble.begin_group([50, 50])
    rng = np.random.default_rng(0)
    tokens = _repetitive_lanes(1, [50, 50])
    for i in range(50):
        logits = rng.normal(0, 8, size=(2, 300)).astype(np.float32)
        logits[1, 5] = 1e30  # an extreme logit must not break the contract
        freq = ensemble.frequencies([0, 1], logits)
        check_frequencies(freq, 24)
        ensemble.update([0, 1], [tokens[0][i], tokens[1][i]])


def test_nonfinite_logits_are_rejected() -> None:
    ensemble = Ensemble(SMALL, 300, 24)
    ensemble.begin_group([1])
    with pytest.raises(ValueError, match="NaN"):
        ensemble.frequencies([0], np.full((1, 300), np.nan, dtype=np.float32))


@pytest.mark.parametrize("lengths", [[1], [40, 3, 17], [120, 120, 60]])
def test_round_trip_with_every_model_on(lengths: list[int]) -> None:
    tokens = _repetitive_lanes(len(lengths), lengths)
    enc, dec = Ensemble(SMALL, 300, 24), Ensemble(SMALL, 300, 24)
    payloads = encode_group(FakePredictor(), tokens, SETTINGS, ensemble=enc)
    assert decode_group(FakePredictor(), payloads, lengths, SETTINGS, ensemble=dec) == tokens
    assert np.array_equal(enc.bias.bias, dec.bias.bias)  # the two evolved identically, bit for bit
    assert enc.mixer.weights == dec.mixer.weights


def test_state_carries_over_groups_identically() -> None:
    groups = [_repetitive_lanes(seed, [80, 50]) for seed in (1, 1, 2)]
    enc, dec = Ensemble(SMALL, 300, 24), Ensemble(SMALL, 300, 24)
    for tokens in groups:
        payloads = encode_group(FakePredictor(), tokens, SETTINGS, ensemble=enc)
        assert decode_group(FakePredictor(), payloads, [len(t) for t in tokens], SETTINGS, ensemble=dec) == tokens


def test_a_decoder_with_other_parameters_does_not_decode() -> None:
    tokens = _repetitive_lanes(3, [200])
    payloads = encode_group(FakePredictor(), tokens, SETTINGS, ensemble=Ensemble(SMALL, 300, 24))
    other = Ensemble(EnsembleParams(**{**SMALL.__dict__, "mixer_rate": SMALL.mixer_rate + 1}), 300, 24)
    assert decode_group(FakePredictor(), payloads, [200], SETTINGS, ensemble=other) != tokens


def test_the_ensemble_learns_repetitive_text() -> None:
    tokens = _repetitive_lanes(5, [400, 400])
    alone = _cost(FakePredictor(), tokens, None)
    mixed = _cost(FakePredictor(), tokens, Ensemble(SMALL, 300, 24))
    assert mixed < 0.5 * alone


def test_on_random_tokens_the_ensemble_costs_little() -> None:
    rng = np.random.default_rng(9)
    tokens = [rng.integers(0, 299, size=300).tolist()]
    alone = _cost(FakePredictor(), tokens, None)
    mixed = _cost(FakePredictor(), tokens, Ensemble(SMALL, 300, 24))
    assert mixed < 1.05 * alone


def test_bias_only_ensemble_matches_plain_quantization_before_learning() -> None:
    params = EnsembleParams(ngram_orders=0, match_min_length=0, bias_rate=1)
    ensemble = Ensemble(params, 300, 24)
    ensemble.begin_group([1])
    logits = np.random.default_rng(4).normal(0, 3, size=(1, 300)).astype(np.float32)
    assert np.array_equal(ensemble.frequencies([0], logits), quantize(logits, 24))


def test_ngram_counts_followers_and_stays_bounded() -> None:
    model = NgramModel(orders=3, table_bits=6, count_limit=8)
    size = model.nbytes
    history = [1, 2, 3]
    for _ in range(3):
        model.update(history, 7)
    model.update(history, 9)
    followers, counts = model.predict(history)[2]
    assert dict(zip(followers, counts)) == {7: 3, 9: 1}
    for t in range(5000):  # far more contexts than slots
        model.update([t, t + 1, t + 2], t % 50)
    assert model.nbytes == size
    for _ in range(20):  # counts are halved at the limit: recent followers take over
        model.update([5, 5, 5], 11)
    counts = model.predict([5, 5, 5])[2][1]
    assert max(counts) < 8


def test_ngram_keeps_at_most_its_followers() -> None:
    model = NgramModel(orders=1, table_bits=4, count_limit=255)
    for token in range(3 * FOLLOWERS):
        model.update([1], token)
    followers, _ = model.predict([1])[0]
    assert len(followers) == FOLLOWERS
    assert 3 * FOLLOWERS - 1 in followers  # the newest replaced an old one


def test_match_model_finds_a_repeat_in_another_lane() -> None:
    model = MatchModel(min_length=3, table_bits=8, history_bits=10)
    phrase = [10, 11, 12, 13, 14, 15]
    model.begin_group([6, 6])
    histories: list[list[int]] = [[], []]
    for i in range(6):  # lane 0 writes the phrase, lane 1 something else
        for lane, token in ((0, phrase[i]), (1, 90 + i)):
            model.update(lane, histories[lane], token)
            histories[lane].append(token)
    model.begin_group([4])
    history: list[int] = []
    for token in phrase[:3]:
        model.update(0, history, token)
        history.append(token)
    assert model.predict(0) == (13, 3)
    model.update(0, history, 99)  # a miss drops the match
    assert model.predict(0) == (-1, 0)


def test_bias_head_raises_what_occurs() -> None:
    head = BiasHead(10, rate=0.1, limit=2.0)
    weights = np.full((1, 10), 1 << 20, dtype=np.int64)
    for _ in range(100):
        head.update(weights, weights.sum(axis=1), [3])
    assert head.bias[3] == 2.0  # clipped at the limit
    assert all(head.bias[i] < 0 for i in range(10) if i != 3)


def test_mixer_moves_weight_to_the_better_input() -> None:
    mixer = Mixer(inputs=2, contexts=1, rate=0.05, first_weight=0.5)
    for _ in range(200):
        shares = mixer.mix(0, [0, 1])
        mixer.update(0, [0, 1], [0.1, 0.9], 0.1 * shares[0] + 0.9 * shares[1])
    assert mixer.mix(0, [0, 1])[1] > 0.9
    assert math.isclose(sum(mixer.weights[0]), 1.0)


def test_parameters_out_of_range_are_named() -> None:
    assert EnsembleParams().problems() == []
    assert any("ngram orders" in p for p in EnsembleParams(ngram_orders=99).problems())
    big = EnsembleParams(ngram_orders=16, ngram_table_bits=22)
    assert big.memory_bytes > MAX_MEMORY
    assert any("MiB" in p for p in big.problems())
