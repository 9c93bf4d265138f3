"""A fuzz target for nacrith's decoder: Atheris (coverage-guided) when it is installed, Hypothesis otherwise.

    python fuzz/fuzz_decompress.py -max_total_time=60              # Atheris; any libFuzzer option works
    python fuzz/fuzz_decompress.py --hypothesis -max_total_time=60  # Hypothesis, for as long
    python fuzz/fuzz_decompress.py --model -max_total_time=600      # neural chunks decoded with the real model

Both start from the model-free corpus (fuzz/corpus.py) and damage it with fuzz/mutate.py's
mutators (Atheris mixes them with its own). The invariant: decoding raises a NacrithError with a
message, or returns bytes that are the original content of the mutated archive (or, for any
other input, as many bytes as the archive's frames say they hold), in bounded time (Atheris:
-timeout=; Hypothesis: a deadline). Without --model, a neural chunk is refused with NeedsModel
instead of loading the model. See fuzz/README.md.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's nacrith and fuzz

try:
    import atheris
except ImportError:
    atheris = None

# Atheris follows coverage of what it instruments: nacrith's own modules, as they are imported.
_fuzzing = atheris is not None and __name__ == "__main__" and "--hypothesis" not in sys.argv
_instrumented = atheris.instrument_imports(include=["nacrith"]) if _fuzzing else contextlib.nullcontext()
with _instrumented:
    import nacrith
    import nacrith.api
    from fuzz import corpus, mutate
    from nacrith import NacrithError

SAMPLES = corpus.model_free()
FRAMES: dict[bytes, bytes] = {}
CONTENTS: dict[bytes, bytes] = {archive: content for archive, content in SAMPLES.values()}

DEADLINE_SECONDS = 5.0
"""Most one input may take to decode without the model (they take milliseconds)."""


class NeedsModel(NacrithError):
    """Raised instead of loading a model, so a fuzzing run stays model-free and fast."""

    @staticmethod
    def refuse(*args: object, **kwargs: object) -> None:
        """Stands in for the decompressor's engine factory."""
        raise NeedsModel("decoded without a model")


def refuse_model() -> None:
    nacrith.api.NacrithDecompressor._engine = NeedsModel.refuse  # type: ignore[method-assign]


def _frames() -> dict[bytes, bytes]:
    if not FRAMES:
        for archive, _ in SAMPLES.values():
            for frame in mutate.frames_of(archive):
                FRAMES[frame] = nacrith.decompress(frame)
    return FRAMES


def one_input(data: bytes, original: bytes | None = None) -> None:
    """The invariant for one input; ``original``: the content of the archive it is a mutant of, when known."""
    began = time.perf_counter()
    try:
        out = nacrith.decompress(data)
    except NacrithError as exc:
        if not str(exc).strip():
            raise AssertionError(f"{type(exc).__name__} without a message") from exc
        return
    finally:
        if time.perf_counter() - began > DEADLINE_SECONDS:
            raise AssertionError(f"{len(data)} bytes took {time.perf_counter() - began:.1f} s to decode")
    if original is not None:
        assert out == mutate.expected(data, _frames(), original), "decoded to bytes that are not the archive's content"
    else:  # any input: what decodes must be as long as its frames say
        assert len(out) == sum(frame.original_size for frame in nacrith.inspect(data).frames)


# --- Atheris ---------------------------------------------------------------------------------------------


def run_atheris(argv: list[str]) -> None:
    def test_one_input(data: bytes) -> None:
        one_input(data, CONTENTS.get(data))

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < 0.5 or not data:
            return atheris.Mutate(data, max_size)
        return mutate.random_mutant(data, rng)[1][:max_size]

    if not any(os.path.isdir(a) for a in argv[1:]):  # no corpus folder given: seed one with the model-free corpus
        seeds = Path(tempfile.mkdtemp(prefix="nacrith-fuzz-"))
        for i, (archive, _) in enumerate(SAMPLES.values()):
            (seeds / f"seed-{i}.nacr").write_bytes(archive)
        argv = [*argv, str(seeds)]
    atheris.Setup(argv, test_one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()


# --- Hypothesis ----------------------------------------------------------------------------------------------


def hypothesis_test(examples: int):  # type: ignore[no-untyped-def]
    """A Hypothesis test of ``examples`` inputs: mutants of the corpus (one to four rounds), and arbitrary bytes."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=examples, deadline=DEADLINE_SECONDS * 1000, database=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(sorted(SAMPLES)), st.randoms(use_true_random=False), st.integers(1, 4), st.binary(max_size=256), st.booleans())
    def fuzz(name: str, rng: random.Random, rounds: int, raw: bytes, mutated: bool) -> None:
        if not mutated:
            one_input(raw)
            return
        archive, content = SAMPLES[name]
        for _ in range(rounds):
            archive = mutate.random_mutant(archive, rng)[1]
        one_input(archive, content)

    return fuzz


def run_hypothesis(seconds: float) -> None:
    end = time.monotonic() + seconds
    runs = 0
    while time.monotonic() < end:
        hypothesis_test(500)()
        runs += 500
    print(f"{runs} inputs, no failure")


def main(argv: list[str]) -> None:
    if "--model" in argv:
        argv = [a for a in argv if a != "--model"]
    else:
        refuse_model()
    seconds = next((float(a.split("=", 1)[1]) for a in argv if a.startswith("-max_total_time=")), 60.0)
    if "--hypothesis" in argv:
        run_hypothesis(seconds)
        return
    if atheris is None:
        print("atheris is not installed (pip install atheris): fuzzing with Hypothesis instead", file=sys.stderr)
        run_hypothesis(seconds)
        return
    run_atheris(argv)


if __name__ == "__main__":
    main(sys.argv)
