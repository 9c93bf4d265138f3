"""Equal-info windows coded in lanes: exact sizes, progress on any input, windows that decode alone."""

from __future__ import annotations

import numpy as np
import pytest

from nacrith.equal_info.lanes import LaneText, WindowFailed, WindowSetup, decode_windows, encode_lanes
from nacrith.equal_info.pieces import Pieces
from tests.conftest import FakeWindowModel

TEXT = (
    b"Alice was beginning to get very tired of sitting by her sister on the bank, and of having nothing to do: "
    b"once or twice she had peeped into the book her sister was reading, but it had no pictures or conversations "
    b"in it, 'and what is the use of a book,' thought Alice 'without pictures or conversations?'\n\n"
)
RARE = FakeWindowModel.RARE
INPUTS = {
    "text": TEXT,
    "random bytes": np.random.default_rng(5).integers(0, 256, 300, dtype=np.uint8).tobytes(),
    "long rare tokens": (RARE + b" " + RARE + RARE + b". the " + RARE) * 2,
}


def _setup(model: FakeWindowModel, kv_window: int = 64) -> WindowSetup:
    return WindowSetup((model.start_token, 84, 104, 101), 24, kv_window, kv_window * 3 // 4)


def _roundtrip(model: FakeWindowModel, data: bytes, bits: int, *, fill: bool = True, lanes: int = 3, kv_window: int = 64):
    pieces = Pieces(model.pieces)
    setup = _setup(model, kv_window)
    [result] = encode_lanes(model, pieces, model.tokenize, setup, [LaneText(data, bits, fill)])
    windows = [(w.code, w.length) for w in result.windows]
    decoded = decode_windows(model, pieces, setup, bits, windows, lanes)
    return result, decoded, pieces


@pytest.mark.parametrize("bits", [16, 32, 128])
@pytest.mark.parametrize("kind", sorted(INPUTS))
@pytest.mark.parametrize("fill", [True, False])
def test_every_window_is_exactly_its_bits_and_the_text_comes_back(bits: int, kind: str, fill: bool) -> None:
    model = FakeWindowModel()
    data = INPUTS[kind]
    result, decoded, pieces = _roundtrip(model, data, bits, fill=fill)
    assert all(len(w.code) * 8 == bits and 1 <= w.used <= bits for w in result.windows)
    assert result.end == len(data) and sum(w.length for w in result.windows) == len(data)
    assert b"".join(b"".join(pieces.pieces[t] for t in tokens) for tokens in decoded) == data
    assert [len(t) for t in decoded] == [w.tokens for w in result.windows]


def test_a_rare_token_that_fits_no_window_of_16_bits_is_spelled_by_shorter_tokens() -> None:
    model = FakeWindowModel()
    result, decoded, _ = _roundtrip(model, RARE, 16)
    assert model.rare_token not in [t for tokens in decoded for t in tokens]
    result, decoded, _ = _roundtrip(model, RARE, 64)
    assert decoded == [[model.rare_token]]  # about 24 bits: it fits 64


def test_bytes_no_token_spells_are_byte_symbols_anywhere_in_a_window() -> None:
    model = FakeWindowModel()
    data = bytes([0xFF, 0xC0]) + b"the" + bytes([0xF7]) * 3 + b" and"
    result, decoded, pieces = _roundtrip(model, data, 256)  # five byte symbols of about 24 bits each
    symbols = [s for tokens in decoded for s in tokens]
    assert len(result.windows) == 1 and sum(s >= model.vocab_size for s in symbols) == 5
    fed = [c for c in model.calls if c[0] == "step"]
    assert model.start_token in [t for c in fed for t in c[1][1]]  # a byte symbol is fed as the start token


def test_a_window_decodes_alone_and_in_any_lane() -> None:
    model = FakeWindowModel()
    result, decoded, pieces = _roundtrip(model, TEXT * 3, 64, kv_window=16)  # small caches: windows slide
    setup = _setup(model, 16)
    for k in (0, len(result.windows) // 2, len(result.windows) - 1):
        w = result.windows[k]
        assert decode_windows(model, pieces, setup, 64, [(w.code, w.length)], 1) == [decoded[k]]
    backwards = [(w.code, w.length) for w in reversed(result.windows)]
    assert decode_windows(model, pieces, setup, 64, backwards, 5) == decoded[::-1]


def test_lanes_of_other_texts_and_sizes_code_each_as_if_alone() -> None:
    model = FakeWindowModel()
    pieces = Pieces(model.pieces)
    setup = _setup(model)
    jobs = [LaneText(TEXT, 32), LaneText(INPUTS["random bytes"], 128), LaneText(TEXT[:50], 16)]
    together = encode_lanes(model, pieces, model.tokenize, setup, jobs)
    for job, result in zip(jobs, together):
        [alone] = encode_lanes(model, pieces, model.tokenize, setup, [job])
        assert alone.windows == result.windows


def test_a_deadline_stops_lanes_at_a_window_boundary_and_the_rest_codes_the_same_later() -> None:
    model = FakeWindowModel()
    pieces = Pieces(model.pieces)
    setup = _setup(model)
    [whole] = encode_lanes(model, pieces, model.tokenize, setup, [LaneText(TEXT, 32)])
    [first] = encode_lanes(model, pieces, model.tokenize, setup, [LaneText(TEXT, 32)], deadline=0.0)
    assert first.windows == [] and first.end == 0
    # stop after three windows' worth: start again from the end of the third
    cut = sum(w.length for w in whole.windows[:3])
    [rest] = encode_lanes(model, pieces, model.tokenize, setup, [LaneText(TEXT[cut:], 32)])
    assert rest.windows == whole.windows[3:]


def test_damaged_windows_are_rejected_naming_the_window() -> None:
    model = FakeWindowModel()
    result, decoded, pieces = _roundtrip(model, TEXT, 64)
    setup = _setup(model)
    windows = [(w.code, w.length) for w in result.windows]
    code, length = windows[2]
    with pytest.raises(WindowFailed, match="window 2"):
        decode_windows(model, pieces, setup, 64, windows[:2] + [(code, length + 1)] + windows[3:], 2)
    with pytest.raises(WindowFailed, match="window 0"):
        decode_windows(model, pieces, setup, 64, [(code, length - 1)], 1)
    # A flipped bit may make another valid window (the archive's checksums catch those), or an invalid one.
    rng = np.random.default_rng(1)
    caught = 0
    for k, (code, length) in enumerate(windows):
        bit = int(rng.integers(0, 64))
        flipped = (int.from_bytes(code, "big") ^ (1 << bit)).to_bytes(8, "big")
        try:
            assert decode_windows(model, pieces, setup, 64, [(flipped, length)], 1) != [decoded[k]]
        except WindowFailed:
            caught += 1
    assert caught > len(windows) // 4


def test_tokens_of_no_bytes_are_never_chosen_and_are_rejected_when_decoded() -> None:
    model = FakeWindowModel()
    result, decoded, _ = _roundtrip(model, TEXT, 128)
    assert model.start_token not in [t for tokens in decoded for t in tokens]
