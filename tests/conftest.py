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
