"""Equal-info windows with the real model (SmolLM2): round trips at W = 16, 32 and 128 on text, random bytes
and long rare tokens, and windows that decode alone, in another lane or in a context of other lanes.

These load the model: run them under the machine's model lock.
"""

from __future__ import annotations

import numpy as np
import pytest

import nacrith
import nacrith.equal_info as ei

INPUTS = {
    "text": b"Alice was beginning to get very tired of sitting by her sister on the bank, and of having nothing to do: "
    b"once or twice she had peeped into the book her sister was reading.\n",
    "random bytes": np.random.default_rng(0).integers(0, 256, 160, dtype=np.uint8).tobytes(),
    # SmolLM2's longest tokens (80 '#', 66 '=', 81 spaces after a newline), among words it finds unlikely
    "long rare tokens": b"zq" + b"#" * 80 + b"xj\n" + b" " * 80 + b"|" + b" " + b"=" * 65 + b"\xc0\xff end",
}


@pytest.mark.parametrize("bits", [16, 32, 128])
@pytest.mark.parametrize("kind", sorted(INPUTS))
def test_equal_info_archives_of_the_real_model_round_trip(bits: int, kind: str) -> None:
    data = INPUTS[kind]
    archive = nacrith.compress(data, equal_info=bits, lanes=4)
    info = nacrith.inspect(archive).frames[0]
    assert info.layout == "equal-info windows" and info.params.equal_info.bits == bits
    assert info.params.equal_info.primer == 0  # the default: the start token alone, a base shorter than the lanes
    assert nacrith.decompress(archive) == data


def test_a_window_decodes_alone_in_any_lane_and_with_other_lanes() -> None:
    data = INPUTS["text"] * 3
    windows = ei.encode(data, bits=64, lanes=3)  # coded as 3 pieces side by side
    assert ei.decode(windows) == data
    k = len(windows) - 2
    alone = ei.decode(windows, select=[k])
    assert alone == data[windows.offsets[k] : windows.offsets[k + 1]]
    backwards = ei.decode(windows, select=list(reversed(range(len(windows)))))
    assert backwards == b"".join(data[windows.offsets[i] : windows.offsets[i + 1]] for i in reversed(range(len(windows))))


@pytest.mark.parametrize("lanes", [1, 4])
def test_a_warm_start_from_primer_1_round_trips(lanes: int) -> None:
    """Primer 1: the base is the start token and the primer, its KV cache copied into each window's lane."""
    data = INPUTS["text"]
    archive = nacrith.compress(data, equal_info=32, primer=1, lanes=lanes)
    assert nacrith.inspect(archive).frames[0].params.equal_info.primer == 1
    assert nacrith.decompress(archive) == data
