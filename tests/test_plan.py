"""What the encoder plans for a segment: one text across the bytes between runs, its chunks, the runs that place it.

A byte-level stand-in tokenizer replaces the model (one token per byte), so plans are checked
without llama.cpp; it can be told to fail on a byte string, as a real tokenizer fails on what
it cannot give back.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest

from nacrith.chunking import MIN_TEXT_RUN
from nacrith.container import METHOD_NEURAL, METHOD_NEURAL_CRLF, Base64Run
from nacrith.options import Options
from nacrith.segments.plan import BLAME_FLOOR, plan_segment
from nacrith.transforms import BASE64_LAST_LINE_END, BASE64_PADDED, base64_text


class ByteTokenizer:
    """One token per byte, 256 tokens; ``bad`` turns into a token of no bytes, so a chunk holding it fails."""

    def __init__(self, bad: bytes = b"") -> None:
        self.bad = bad
        self.pieces = [bytes([i]) for i in range(256)] + [b""]
        self.piece_lengths = np.array([len(p) for p in self.pieces], dtype=np.int64)
        self.calls = 0

    def tokenize(self, data: bytes) -> list[int]:
        self.calls += 1
        if self.bad and self.bad in data:
            head, _, tail = data.partition(self.bad)
            return self.tokenize(head) + [256] + self.tokenize(tail)
        return list(data)

    def detokenize(self, tokens: list[int]) -> bytes:
        return b"".join(self.pieces[t] for t in tokens)


OPTIONS = Options(lanes=2, chunk_bytes=4096, min_chunk_bytes=1024)
PROSE = b"It was the best of times, it was the worst of times, it was the age of wisdom.\n" * 30
"""2370 bytes of text."""


def _plan(data: bytes, model: ByteTokenizer | None = None, options: Options = OPTIONS):
    model = model or ByteTokenizer()
    return plan_segment(data, lambda: model, options)


def _placed(data: bytes, plan) -> bytes:
    """The segment as a decoder rebuilds it from the plan: text runs from the chunks in order, other runs from the stream."""
    text = b"".join(c.data for c in plan.chunks)
    out, t, o = bytearray(), 0, 0
    for i, run in enumerate(plan.runs):
        if i % 2 == 0:
            out += text[t : t + run]
            t += run
        else:
            b = next((b for b in plan.base64 if b.run == i), None)
            out += base64_text(plan.other[o : o + run], b.line_length, b.flags) if b else plan.other[o : o + run]
            o += run
    assert t == len(text) and o == len(plan.other)
    return bytes(out)


def test_text_alone_has_no_other_bytes() -> None:
    plan = _plan(PROSE)
    assert plan.runs == [len(PROSE)] and plan.other == b"" and b"".join(c.data for c in plan.chunks) == PROSE


def test_empty_and_binary_segments_need_no_model() -> None:
    def no_model() -> ByteTokenizer:
        raise AssertionError("the model was asked for")

    assert plan_segment(b"", no_model, OPTIONS).runs == [0]
    data = b"\x00\x01\xff" * 500
    plan = plan_segment(data, no_model, OPTIONS)
    assert plan.chunks == [] and plan.other == data and plan.runs == [0, len(data)]


def test_a_chunk_spans_the_bytes_between_two_text_runs() -> None:
    """The model's context runs on across a gap: one text, one chunk, however many gaps."""
    record = b"\x00\x01\x02\x03"
    short = PROSE[:300]
    data = short + record + short + record + short
    plan = _plan(data)
    assert [c.data for c in plan.chunks] == [short * 3]
    assert plan.other == record * 2 and plan.runs == [300, 4, 300, 4, 300]
    assert _placed(data, plan) == data


def test_chunks_end_where_text_runs_meet_when_one_is_near() -> None:
    """A cut that must be made anyway goes to a seam, where the context would help least."""
    header = b"\x00" * 512
    first, second = PROSE[:2000], PROSE[:2200]
    data = header + first + header + second + header
    plan = _plan(data)
    assert [len(c.data) for c in plan.chunks] == [2000, 2200]
    assert plan.runs == [0, 512, 2000, 512, 2200, 512]
    assert _placed(data, plan) == data


def test_crlf_text_across_a_gap_is_still_coded_as_lf() -> None:
    crlf = PROSE.replace(b"\n", b"\r\n")[:1000]
    data = crlf + b"\x00" * 8 + crlf
    plan = _plan(data)
    assert [c.method for c in plan.chunks] == [METHOD_NEURAL_CRLF]
    assert _placed(data, plan) == data


def test_only_the_bytes_to_blame_leave_a_chunk_that_fails() -> None:
    bad = b"@@"
    data = PROSE[:1200] + bad + PROSE[:1200]
    model = ByteTokenizer(bad)
    plan = _plan(data, model)
    assert [c.method for c in plan.chunks] == [METHOD_NEURAL, METHOD_NEURAL]
    assert bad in plan.other and len(plan.other) <= BLAME_FLOOR
    assert sum(len(c.data) for c in plan.chunks) + len(plan.other) == len(data)
    assert _placed(data, plan) == data
    assert model.calls < 60  # halving: a few tokenizations per level, not one per byte


def test_a_chunk_that_fails_all_over_goes_to_the_other_bytes_whole() -> None:
    bad = b"e"  # in almost every word
    data = PROSE[:1500]
    plan = _plan(data, ByteTokenizer(bad))
    assert plan.chunks == [] and plan.other == data and plan.runs == [0, len(data)]


def test_a_failing_chunk_leaves_the_other_chunks_alone() -> None:
    bad = b"@@"
    data = PROSE + b"\x00" * 600 + PROSE[:2000].replace(b"e", b"@@")  # the second file fails everywhere
    plan = _plan(data, ByteTokenizer(bad))
    assert [c.data for c in plan.chunks] == [PROSE]
    assert plan.runs[0] == len(PROSE) and len(plan.runs) == 2
    assert _placed(data, plan) == data


@pytest.mark.parametrize("seed", range(20))
def test_plans_place_every_byte_back(seed: int) -> None:
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(rng.integers(1, 10)):
        kind = rng.integers(3)
        if kind == 0:
            start = int(rng.integers(0, 1000))
            parts.append(PROSE[start : start + int(rng.integers(1, 1400))])
        elif kind == 1:
            parts.append(bytes(rng.integers(0, 256, int(rng.integers(1, 80)), dtype=np.uint8)))
        else:
            parts.append(b"@@" if rng.integers(2) else b"x" * int(rng.integers(MIN_TEXT_RUN - 2, MIN_TEXT_RUN + 2)))
    data = b"".join(parts)
    plan = _plan(data, ByteTokenizer(b"@@"))
    assert _placed(data, plan) == data
    assert all(r > 0 for r in plan.runs[1:]) and (plan.base64 or sum(plan.runs) == len(data))
    assert all(len(c.data) <= OPTIONS.chunk_bytes for c in plan.chunks)


# --- base64 blocks: out of the text, into the other bytes as the bytes they stand for ---------------------

RAW = bytes(range(256)) * 12
MIME = base64.encodebytes(RAW)  # 76 characters a line


def test_a_base64_block_in_text_is_a_base64_run_and_the_text_goes_on_across_it() -> None:
    data = PROSE[:500] + MIME + PROSE[:400]
    plan = _plan(data)
    assert plan.runs == [500, len(RAW), 400] and plan.base64 == [Base64Run(1, 76, BASE64_PADDED | BASE64_LAST_LINE_END)]
    assert plan.other == RAW and [c.data for c in plan.chunks] == [PROSE[:500] + PROSE[:400]]
    assert _placed(data, plan) == data


def test_base64_beside_other_bytes_keeps_its_first_and_last_lines_as_text() -> None:
    """Runs of other bytes alternate with runs of text: a line of text on each side of a base64 run."""
    data = b"\x00" * 10 + MIME + b"\x00" * 10
    plan = _plan(data)
    first, last = MIME.index(b"\n") + 1, MIME.rindex(b"\n", 0, len(MIME) - 1) + 1
    assert [c.data for c in plan.chunks] == [MIME[:first] + MIME[last:]]
    assert plan.runs[:2] == [0, 10] and plan.runs[2] == first and plan.base64[0].run == 3
    assert _placed(data, plan) == data


def test_one_line_of_base64_beside_other_bytes_stays_text() -> None:
    data = b"\x00" * 10 + base64.b64encode(RAW) + b"\x00" * 10
    plan = _plan(data)
    assert plan.base64 == [] and plan.runs == [0, 10, len(data) - 20, 10]


def test_base64_beside_a_chunk_the_model_cannot_code_stays_as_it_is() -> None:
    data = PROSE.replace(b"e", b"@@") + MIME + PROSE  # two chunks: the first fails whole
    plan = _plan(data, ByteTokenizer(b"@@"))
    assert plan.base64 == [] and plan.runs == [0, len(data) - len(PROSE), len(PROSE)]
    assert _placed(data, plan) == data
