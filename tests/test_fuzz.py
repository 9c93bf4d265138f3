"""Mutants of archives decode to a NacrithError with a message or to exactly their content, and quickly.

The model-free suite damages archives of every layout (one stored or zstd chunk, a segment of xz
bytes, a named model with a parameter list, indexed segments, an empty archive, version 1, and
a concatenation of them): every field at its telling values, every block and frame dropped,
repeated and swapped, cuts, and seeded random damage, a few thousand mutants in a few seconds
(fuzz/mutate.py). A mutant that asks for the model is refused here with ``NeedsModel``. The
neural mutants decode with the real model (``slow``). The CPU rule of format version 2 is
checked on a crafted archive: a neural chunk that claims far more than its payload holds fails
within milliseconds, not after decoding its claimed length.
"""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest

import nacrith
import nacrith.api
from fuzz import corpus, mutate
from nacrith import CorruptArchiveError, NacrithError
from nacrith.constants import PRECISION_BITS
from nacrith.container import CodingParams, ModelInfo, build_tag
from nacrith.models.llm import build_id
from nacrith.neural.params import EnsembleParams

SAMPLES = corpus.model_free()

MODEL_FREE_SECONDS = 1.0
"""Most any model-free mutant may take to decode (they take milliseconds): more means a loop or a huge allocation."""


class NeedsModel(NacrithError):
    """Raised instead of loading a model."""


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise NeedsModel("this test decodes without a model")

    monkeypatch.setattr(nacrith.api.NacrithDecompressor, "_engine", refuse)


@pytest.fixture(scope="module")
def frames() -> dict[bytes, bytes]:
    """Every frame of the corpus, and its content: what a mutant made of whole frames decodes to."""
    out = {}
    for archive, _ in SAMPLES.values():
        for frame in mutate.frames_of(archive):
            out[frame] = nacrith.decompress(frame)
    return out


def _streamed(archive: bytes, rng: random.Random) -> bytes:
    """The archive fed to a decompressor in random pieces, as the CLI and NacrithFile feed it."""
    d = nacrith.NacrithDecompressor(read_across_frames=True)
    out = bytearray()
    at = 0
    while at < len(archive):
        step = rng.randint(1, 64)
        out += d.decompress(archive[at : at + step])
        at += step
    d.check_complete()
    return bytes(out)


def _inspect(mutant: bytes, decoded: mutate.Outcome, what: str) -> None:
    """nacrith.inspect keeps the invariant too, and never passes what the decoder's container checks refuse."""
    try:
        info = nacrith.inspect(mutant)
    except NacrithError as exc:
        assert str(exc).strip(), f"{what}: inspect: {type(exc).__name__} without a message"
        return
    except Exception as exc:
        raise AssertionError(f"{what}: inspect: {type(exc).__name__}: {exc}") from exc
    if decoded.data is not None:
        assert sum(f.original_size for f in info.frames) == len(decoded.data), what


def test_the_corpus_decodes_and_the_mutation_engine_sees_every_byte(no_model: None) -> None:
    for name, (archive, content) in SAMPLES.items():
        assert nacrith.decompress(archive) == content, name
        spans = mutate.fields(archive)
        covered = set()
        for f in spans:
            if f.kind not in ("block", "frame", "header"):
                covered.update(range(f.offset, f.end))
        assert covered == set(range(len(archive))), f"{name}: bytes no field accounts for"
    names = {f.name for archive, _ in SAMPLES.values() for f in mutate.fields(archive)}
    for expected in ("descriptor", "build tag", "model fingerprint", "model name", "parameter key", "content size", "run count",
                     "segment count", "index size", "footer magic", "chunk checksum", "llama.cpp version", "content checksum"):
        assert expected in names, f"the corpus has no {expected} to mutate"


@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_field_at_its_telling_values(name: str, no_model: None, frames: dict[bytes, bytes]) -> None:
    """Each varint at 0, 1, one more and one less, its maximum and over-long; each byte at its extremes and each bit
    flipped; checksums off by one; strings empty, too long, not UTF-8; payloads a byte short or long; blocks and
    frames dropped, repeated, swapped; parameters added; a cut after every field."""
    archive, content = SAMPLES[name]
    outcomes: Counter[str] = Counter()
    slowest = 0.0
    for what, mutant in mutate.systematic(archive):
        outcome = mutate.check(mutant, mutate.expected(mutant, frames, content), what=f"{name}: {what}")
        outcomes[outcome.error or "decoded"] += 1
        slowest = max(slowest, outcome.seconds)
        _inspect(mutant, outcome, f"{name}: {what}")
    assert slowest < MODEL_FREE_SECONDS
    assert outcomes["CorruptArchiveError"] and outcomes["TruncatedArchiveError"], outcomes


def test_random_damage_of_every_layout(no_model: None, frames: dict[bytes, bytes]) -> None:
    """Seeded blind and aimed damage, one to three rounds of it; the one-shot and the streaming decoder agree."""
    rng = random.Random(20240601)
    items = list(SAMPLES.items())
    outcomes: Counter[str] = Counter()
    slowest = 0.0
    for _ in range(1500):
        name, (archive, content) = rng.choice(items)
        mutant, done = archive, []
        for _ in range(rng.randint(1, 3)):
            what, mutant = mutate.random_mutant(mutant, rng)
            done.append(what)
        label = f"{name}: {'; '.join(done)}"
        allowed = mutate.expected(mutant, frames, content)
        whole = mutate.check(mutant, allowed, what=label)
        pieces = mutate.check(mutant, allowed, decode=lambda a: _streamed(a, rng), what=label + " (streamed)")
        assert (whole.data is None) == (pieces.data is None), label
        _inspect(mutant, whole, label)
        outcomes[whole.error or "decoded"] += 1
        slowest = max(slowest, whole.seconds, pieces.seconds)
    assert slowest < MODEL_FREE_SECONDS
    assert len(outcomes) >= 4, outcomes


# --- with the model -------------------------------------------------------------------------------------


def _neural_frame(length: int, payload: bytes, lanes: int = 1) -> bytes:
    params = CodingParams(PRECISION_BITS, 8, 1024, 768, 65536, 1, EnsembleParams(), 1 << 20)
    info = ModelInfo(corpus.SMOLLM2.fingerprint, build_tag(build_id()), preset=1)  # this build: damage is damage
    if lanes == 1:
        return corpus.neural_chunk_frame(info, params, length, payload)
    return corpus.neural_group_frame(info, params, [length] * lanes, payload)


@pytest.mark.parametrize("payload", [b"\x00", b"\x55", b"\x80", b"\xff", b"\x12\x34"])
def test_a_neural_chunk_claiming_far_more_than_its_payload_fails_in_milliseconds(payload: bytes) -> None:
    """'length 65536, payload 1 byte': the decoder stops within 30 bits past the payload's end (FORMAT.md, the CPU
    rule of version 2), not after 65,536 bytes' worth of tokens, alone or in a group of 8 such lanes."""
    nacrith.decompress(nacrith.compress(b"warm up the model\n", window=64, threads=1), threads=1)
    for lanes in (1, 8):
        archive = _neural_frame(65536, payload, lanes)
        began = time.perf_counter()
        with pytest.raises(CorruptArchiveError, match="payload|token of 0 bytes"):
            nacrith.decompress(archive, threads=1)
        assert time.perf_counter() - began < 5, (payload, lanes)  # about 0.05 s alone; 16 minutes before the rule: a wide margin for a busy machine


NEURAL_TEXTS = {
    "one chunk": b"It was the best of times, it was the worst of times.\n",
    "text around binary": b"Header line of a log file\n" + bytes(range(200)) + b"\nThe rest of the log is text again, line after line.\n",
    "two lanes": b"First paragraph, a few words long.\n" * 4 + b"\n" + b"Second paragraph, which the other lane codes.\n" * 4,
}


@pytest.mark.slow
def test_neural_mutants_decode_to_an_error_or_their_content() -> None:
    """A few hundred mutants of archives with neural chunks (window 64, short texts), decoded with the real model."""
    from nacrith.frames import FrameEncoder
    from nacrith.engine import shared_engine
    from nacrith.options import Options

    engine = shared_engine(None, 1)
    samples = {}
    for name, text in NEURAL_TEXTS.items():
        options = Options(lanes=2, window=64, chunk_bytes=256, min_chunk_bytes=128)
        encoder = FrameEncoder(engine, options)
        samples[name] = (encoder.write(text) + encoder.finish(), text)
    frames = {archive: text for archive, text in samples.values()}
    rng = random.Random(7)
    outcomes: Counter[str] = Counter()
    slowest = 0.0
    for _ in range(300):
        name = rng.choice(list(samples))
        archive, text = samples[name]
        what, mutant = mutate.random_mutant(archive, rng)
        outcome = mutate.check(mutant, mutate.expected(mutant, frames, text), decode=lambda a: nacrith.decompress(a, threads=1), what=f"{name}: {what}")
        outcomes[outcome.error or "decoded"] += 1
        slowest = max(slowest, outcome.seconds)
    assert slowest < 10.0, slowest
    assert outcomes["CorruptArchiveError"], outcomes
