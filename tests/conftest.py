"""Shared fixtures: a small deterministic fake predictor for coder tests, and the real model's texts."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
"""The benchmark corpora next to the checkout (../shared/corpora), when present."""

REPO = Path(__file__).resolve().parent.parent


class FakePredictor:
    """Deterministic logits from (previous token, position): stands in for the model in coder tests.

    It records every call, so tests can check the batch schedule the lockstep driver builds.
    """

    def __init__(self, vocab: int = 300, seed: int = 1) -> None:
        self.vocab = vocab
        rng = np.random.default_rng(seed)
        self._table = rng.normal(0, 3, size=(vocab + 1, vocab)).astype(np.float32)
        self.calls: list[tuple[str, tuple]] = []

    def reset(self) -> None:
        self.calls.append(("reset", ()))

    def slide(self, lane: int, drop: int, length: int) -> None:
        self.calls.append(("slide", (lane, drop, length)))

    def step(self, lanes: list[int], tokens: list[int], positions: list[int]) -> np.ndarray:
        self.calls.append(("step", (tuple(lanes), tuple(tokens), tuple(positions))))
        rows = [np.roll(self._table[t % (self.vocab + 1)], p % 7) for t, p in zip(tokens, positions)]
        return np.stack(rows)


@pytest.fixture
def fake_predictor() -> FakePredictor:
    return FakePredictor()


@pytest.fixture(scope="session")
def alice() -> bytes:
    """alice29.txt from the Canterbury corpus (CRLF line ends), or a stand-in English text."""
    path = CORPORA / "canterbury" / "alice29.txt"
    if path.exists():
        return path.read_bytes()
    return (REPO / "nacrith" / "bench" / "canterbury" / "alice29.txt").read_bytes()  # the same bytes, packaged


@pytest.fixture(scope="session")
def english(alice: bytes) -> bytes:
    """A few hundred bytes of English prose: enough for the model, short enough for a fast test."""
    return alice[2000:2600]


def pytest_report_header(config: pytest.Config) -> str:
    return f"nacrith tests; threads={os.cpu_count()}"


class FakeWindowModel:
    """A vocabulary and a predictor for equal-info windows, without llama.cpp.

    Tokens 0 to 255 are the bytes (but 0xC0, 0xC1 and 0xF5 to 0xFF, which no token spells, as in
    SmolLM2, and are no bytes); then a few words, and one long word the model finds very unlikely
    (a long rare token); the last token, the start token, is no bytes. The tokenizer
    takes the longest piece that matches. The logits depend on the fed token and its position
    alone, as a window's must depend on its own tokens alone; letters and spaces are likelier.
    """

    WORDS = [b"the", b" the", b" and", b"ing", b" of", b"tion", b"  ", b"\n\n", b" a", b"e ", b"Alice", b" said"]
    RARE = b"supercalifragilisticexpialidocious"

    def __init__(self, seed: int = 2) -> None:
        self.missing = [0xC0, 0xC1, *range(0xF5, 0x100)]
        self.pieces = [b"" if b in self.missing else bytes([b]) for b in range(256)] + self.WORDS + [self.RARE, b""]
        self.vocab_size = len(self.pieces)
        self.start_token = self.vocab_size - 1
        self.rare_token = self.vocab_size - 2
        rng = np.random.default_rng(seed)
        table = rng.normal(0, 2, size=(self.vocab_size, self.vocab_size))
        letters = [i for i, p in enumerate(self.pieces) if p and (p.isalpha() or p.strip(b" ").isalpha() or p == b" ")]
        table[:, letters] += 4
        table[:, self.rare_token] = -60  # frequency 1 of 2**24: about 24 bits
        table[:, self.start_token] = -60
        self._table = table.astype(np.float32)
        self._by_position = rng.normal(0, 1, size=(5, self.vocab_size)).astype(np.float32)
        self.calls: list[tuple[str, tuple]] = []

    def tokenize(self, data: bytes) -> list[int]:
        out, at = [], 0
        by_piece = {p: i for i, p in enumerate(self.pieces) if p}
        longest = max(len(p) for p in by_piece)
        while at < len(data):
            for n in range(min(longest, len(data) - at), 0, -1):
                token = by_piece.get(data[at : at + n])
                if token is not None:
                    out.append(token)
                    at += n
                    break
            else:
                at += 1  # as llama.cpp drops bytes no token spells
        return out

    def _logits(self, token: int, position: int) -> np.ndarray:
        return self._table[token] + self._by_position[position % 5]

    def prime(self, tokens: list[int]) -> np.ndarray:
        self.calls.append(("prime", tuple(tokens)))
        return self._logits(tokens[-1], len(tokens) - 1)

    def restart(self, lane: int) -> None:
        self.calls.append(("restart", (lane,)))

    def slide(self, lane: int, drop: int, length: int) -> None:
        self.calls.append(("slide", (lane, drop, length)))

    def step(self, lanes: list[int], tokens: list[int], positions: list[int]) -> np.ndarray:
        self.calls.append(("step", (tuple(lanes), tuple(tokens), tuple(positions))))
        return np.stack([self._logits(t, p) for t, p in zip(tokens, positions)])


@pytest.fixture
def fake_window_model() -> FakeWindowModel:
    return FakeWindowModel()


class FakeWindowEngine:
    """Stands in for nacrith's Engine around a :class:`FakeWindowModel`: identity, start token, evaluator."""

    fingerprint = bytes.fromhex("00112233445566aa")
    backend = 0
    gpu = None

    def __init__(self, model: FakeWindowModel | None = None) -> None:
        self.model = model or FakeWindowModel()
        self.evaluators: list[tuple[int, int, int]] = []

    def evaluator(self, lanes: int, window: int, *, base: int = 0) -> FakeWindowModel:
        self.evaluators.append((lanes, window, base))
        return self.model

    def start_token(self) -> int:
        return self.model.start_token

    def model_info(self):  # -> ModelInfo
        from nacrith.container import ModelInfo, build_tag

        return ModelInfo(self.fingerprint, build_tag("fake"), "fake.gguf", "fake", 0)

    def describe(self) -> str:
        return f"a fake model [{self.fingerprint.hex()}]"


@pytest.fixture
def fake_window_engine(monkeypatch: pytest.MonkeyPatch) -> FakeWindowEngine:
    """The fake engine, also what ``nacrith.compress`` and ``nacrith.decompress`` get for any model."""
    engine = FakeWindowEngine()
    monkeypatch.setattr("nacrith.api.shared_engine", lambda *args, **kwargs: engine)
    monkeypatch.setattr("nacrith.api.engine_for", lambda *args, **kwargs: engine)  # the decoder's way to it
    return engine
