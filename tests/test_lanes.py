"""The lockstep driver: decoder batches identical to the encoder's, windows sliding in place."""

from __future__ import annotations

import numpy as np
import pytest

from nacrith.container import CodingParams
from nacrith.neural.lanes import decode_group, encode_group
from tests.conftest import FakePredictor

SETTINGS = CodingParams(precision_bits=24, lanes=8, window=16, slide_keep=12, chunk_bytes=1 << 16, start_token=299)


def _random_lanes(seed: int, lengths: list[int], vocab: int = 300) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, vocab - 1, size=n).tolist() for n in lengths]


@pytest.mark.parametrize("lengths", [[1], [5], [40, 3, 17, 40, 1], [100, 100], [16, 17, 32, 33]])
def test_round_trip_and_identical_batches(lengths: list[int]) -> None:
    tokens = _random_lanes(len(lengths), lengths)
    enc_model, dec_model = FakePredictor(), FakePredictor()
    payloads = encode_group(enc_model, tokens, SETTINGS)
    decoded = decode_group(dec_model, payloads, lengths, SETTINGS)
    assert decoded == tokens
    assert enc_model.calls == dec_model.calls  # the decoder evaluated exactly what the encoder did


def test_lanes_leave_the_batch_when_done_and_positions_slide() -> None:
    model = FakePredictor()
    encode_group(model, _random_lanes(0, [20, 2]), SETTINGS)
    steps = [args for kind, args in model.calls if kind == "step"]
    assert steps[0] == ((0, 1), (299, 299), (0, 0))  # both lanes start from the start token
    assert [s[0] for s in steps[:3]] == [(0, 1), (0, 1), (0,)]
    positions = [s[2][0] for s in steps]
    assert positions[:16] == list(range(16))
    assert positions[16:20] == [12, 13, 14, 15]  # slid: 16 cached, the oldest 4 dropped
    slides = [args for kind, args in model.calls if kind == "slide"]
    assert slides == [(0, 4, 16)]


def test_slides_repeat_every_window_minus_keep_tokens() -> None:
    model = FakePredictor()
    encode_group(model, _random_lanes(1, [40]), SETTINGS)
    steps = [args for kind, args in model.calls if kind == "step"]
    assert len([c for c in model.calls if c[0] == "slide"]) == (40 - 16 + 3) // 4
    assert max(s[2][0] for s in steps) == 15


def test_a_different_model_does_not_decode_to_the_same_tokens() -> None:
    tokens = _random_lanes(7, [50, 50])
    payloads = encode_group(FakePredictor(seed=1), tokens, SETTINGS)
    assert decode_group(FakePredictor(seed=2), payloads, [50, 50], SETTINGS) != tokens


def test_progress_reports_every_token_and_its_cost() -> None:
    seen = []
    tokens = _random_lanes(3, [30, 10])
    payloads = encode_group(FakePredictor(), tokens, SETTINGS, progress=lambda lanes, coded, bits: seen.append((coded, bits)))
    assert sum(len(c) for c, _ in seen) == 40
    assert seen[0][0] == [tokens[0][0], tokens[1][0]]
    ideal = sum(bits for _, bits in seen)
    coded = 8 * sum(len(p) for p in payloads)
    assert ideal <= coded + 1e-9 and coded <= ideal + 2 * 8 + 2


def test_empty_lane_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one token"):
        encode_group(FakePredictor(), [[1], []], SETTINGS)
