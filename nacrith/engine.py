"""A model file and what runs it: loaded once per process, with the evaluator of the last lane shape.

Creating an :class:`Engine` only resolves and fingerprints the file (no llama.cpp yet), so
an archive of binary data decodes without loading a model, and a wrong ``--model`` fails
before any work. :func:`shared_engine` keeps one engine per (file, threads) for the
process: a pipeline that compresses many small files pays for the model once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .container import BACKEND_LLAMA_CPU, BACKEND_LLAMA_CUDA, ModelInfo, build_tag, preset_of
from .models import registry

if TYPE_CHECKING:
    from .models.llm import LaneEvaluator, LanguageModel
    from .neural.schedule import Prefix

__all__ = ["Engine", "shared_engine", "describe_model"]


class Engine:
    """A model file, loaded on first use, with the evaluator of the last lane shape used."""

    def __init__(self, model: str | os.PathLike[str] | None = None, threads: int | None = None, *, gpu: int | None = None) -> None:
        """``gpu``: the CUDA device to offload the model's layers to (None: the CPU). The archive records which,
        since the logits differ."""
        self.path: Path = registry.resolve_model_path(model)
        self.fingerprint = registry.fingerprint(self.path)
        self.threads = threads
        self.gpu = gpu
        self.backend = BACKEND_LLAMA_CPU if gpu is None else BACKEND_LLAMA_CUDA
        self._model: LanguageModel | None = None
        self._evaluator: LaneEvaluator | None = None
        self._evaluator_shape: tuple[int, int, Prefix | None, int] | None = None

    @property
    def model(self) -> LanguageModel:
        if self._model is None:
            from .models.llm import LanguageModel  # llama.cpp only once a model is really needed

            self._model = LanguageModel(self.path, gpu=self.gpu)
        return self._model

    def evaluator(self, lanes: int, context: int, prefix: Prefix | None = None, *, base: int = 0) -> LaneEvaluator:
        """An evaluator for ``lanes`` sequences of ``context`` tokens each, reused while the shape stays the same.

        Coding asks for :func:`nacrith.memory.context_tokens` of each group, encoder and decoder alike, so
        each group gets a context of the same size on both sides, whatever came before it. ``prefix``: a
        dictionary's start, whose primer the evaluator evaluates once and keeps; ``base``: the length of
        equal-info windows' base sequence."""
        if self._evaluator_shape != (lanes, context, prefix, base):
            self._evaluator = None  # free the old KV cache before allocating the next
            extra: dict[str, object] = {"prefix": prefix} if prefix is not None else {}
            if base:
                extra["base"] = base
            self._evaluator = self.model.evaluator(lanes, context, self.threads, **extra)  # a stand-in model needs neither
            self._evaluator_shape = (lanes, context, prefix, base)
        assert self._evaluator is not None
        return self._evaluator

    @property
    def file_bytes(self) -> int:
        """The model file's size: what its mapped weights take in memory, known without loading it."""
        return self.path.stat().st_size

    def model_info(self) -> ModelInfo:
        """The model identity an archive records."""
        from .models.llm import build_id

        build = build_id()
        preset = preset_of(self.fingerprint)
        if preset is not None:
            return ModelInfo(self.fingerprint, build_tag(build), "", build, preset.number)
        # A file name that is not UTF-8 (possible on Linux) is stored with replacement characters.
        name = os.fsencode(self.path.name).decode("utf-8", "replace")
        return ModelInfo(self.fingerprint, build_tag(build), name, build)

    def start_token(self) -> int:
        """The token every lane starts from: a preset's is known without opening the model."""
        preset = preset_of(self.fingerprint)
        return preset.start_token if preset is not None else self.model.start_token

    def describe(self) -> str:
        return f"{self.path.name} [{self.fingerprint.hex()}]"


def describe_model(info: ModelInfo) -> str:
    """How messages name an archive's model: its name when known, and its fingerprint."""
    name = info.name or registry.known_name(info.fingerprint) or "unknown model"
    return f"{name} [{info.fingerprint.hex()}]"


_engines: dict[tuple[str, int | None, int | None], Engine] = {}


def shared_engine(model: str | os.PathLike[str] | None = None, threads: int | None = None, *, gpu: int | None = None) -> Engine:
    """The process's engine for a model file, thread count and device: the model and its contexts load once."""
    probe = Engine(model, threads, gpu=gpu)
    key = (f"{probe.path.resolve()}:{probe.fingerprint.hex()}", threads, gpu)
    return _engines.setdefault(key, probe)
