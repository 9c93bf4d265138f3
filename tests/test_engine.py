"""The per-process engine cache: one engine per (model file, threads), a model loaded once and only when needed.

No model is evaluated here: llama.cpp's model class is replaced by a stand-in that counts how
often it is built, and the archives hold binary data, which the model never codes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import nacrith
from nacrith import engine
from nacrith.models import llm


class CountedModel:
    """Stands in for llm.LanguageModel: records every load and every evaluator made."""

    loads: list[Path] = []
    evaluators: list[tuple[int, int, int | None]] = []

    def __init__(self, path: Path, *, gpu: int | None = None) -> None:
        CountedModel.loads.append(Path(path))
        self.start_token = 1
        self.vocab_size = 300

    def evaluator(self, lanes: int, window: int, threads: int | None = None) -> object:
        CountedModel.evaluators.append((lanes, window, threads))
        return object()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> type[CountedModel]:
    """An empty engine cache, and model loads counted from zero."""
    monkeypatch.setattr(engine, "_engines", {})
    monkeypatch.setattr(llm, "LanguageModel", CountedModel)
    monkeypatch.setattr(CountedModel, "loads", [])
    monkeypatch.setattr(CountedModel, "evaluators", [])
    return CountedModel


BINARY = os.urandom(5000)
"""Random bytes: not text, so the fallback codes them and the model is only opened for its start token."""


def test_one_engine_per_model_file_and_thread_count(counted: type[CountedModel], tmp_path: Path) -> None:
    first = engine.shared_engine()
    assert engine.shared_engine() is first
    assert engine.shared_engine(first.path) is first  # the default, named by its path
    assert engine.shared_engine(str(first.path)) is first
    link = tmp_path / "link.gguf"
    link.symlink_to(first.path)
    assert engine.shared_engine(link) is first  # the same file under another name
    two = engine.shared_engine(None, 2)
    assert two is not first and engine.shared_engine(None, 2) is two
    assert counted.loads == []  # resolving and fingerprinting a model file loads nothing


def test_the_model_loads_once_however_many_calls_use_it(counted: type[CountedModel]) -> None:
    archive = nacrith.compress(BINARY)
    assert counted.loads == []  # binary bytes need no model, and the default model's start token is known by heart
    assert nacrith.compress(BINARY) == archive
    first = engine.shared_engine()
    assert first.model is first.model is engine.shared_engine().model
    assert len(counted.loads) == 1
    assert engine.shared_engine(None, 2).model is not first.model  # another engine: its own load
    assert len(counted.loads) == 2 and counted.loads[0] == counted.loads[1]


def test_an_archive_of_binary_data_decodes_without_loading_a_model(counted: type[CountedModel], tmp_path: Path) -> None:
    archive = nacrith.compress(BINARY)
    engine._engines.clear()
    counted.loads.clear()
    assert nacrith.decompress(archive) == BINARY
    assert nacrith.decompress(archive, model=tmp_path / "missing.gguf") == BINARY  # not even looked for
    assert counted.loads == [] and engine._engines == {}


def test_the_evaluator_is_reused_while_the_lane_shape_stays(counted: type[CountedModel]) -> None:
    e = engine.shared_engine(None, 1)
    first = e.evaluator(2, 64)
    assert e.evaluator(2, 64) is first
    other = e.evaluator(3, 64)
    assert other is not first and e.evaluator(3, 64) is other
    assert e.evaluator(3, 32) is not other
    assert counted.evaluators == [(2, 64, 1), (3, 64, 1), (3, 32, 1)]
    assert len(counted.loads) == 1
