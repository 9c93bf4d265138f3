"""A model file and what runs it: loaded once per process, with the evaluator of the last lane shape.

Creating an :class:`Engine` only resolves and fingerprints the file (no llama.cpp yet), so
an archive of binary data decodes without loading a model, and a wrong ``--model`` fails
before any work. :func:`shared_engine` keeps one engine per (file, threads, backend, device)
for the process: a pipeline that compresses many small files pays for the model once.

Two backends run the same GGUF: ``llama`` (llama.cpp, the default, :mod:`.models.llm`) and
``torch`` (:mod:`.models.torch_lanes`, ``pip install "nacrith[torch]"``). Their logits
differ, so the archive records which one coded it (header key 19).
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .container import (
    BACKEND_LLAMA_CPU,
    BACKEND_LLAMA_CUDA,
    BACKEND_TORCH_CPU,
    BACKEND_TORCH_CUDA,
    TORCH_BACKENDS,
    CodingParams,
    ModelInfo,
    build_tag,
    preset_of,
)
from .errors import NacrithError
from .models import registry
from .neural.adapt import AdaptParams

if TYPE_CHECKING:
    from .models.llm import LanguageModel
    from .models.torch_lanes import TorchModel
    from .neural.schedule import Predictor
    from .neural.schedule import Prefix

__all__ = ["Engine", "shared_engine", "engine_for", "describe_model", "BACKEND_NAMES", "decoding_backend", "cores"]

BACKEND_NAMES = ("llama", "torch")
"""What ``backend=`` (``--backend``) accepts."""

_DEVICE = re.compile(r"cpu|cuda(:\d+)?")


def decoding_backend(requested: str | None, archived: int) -> str:
    """The backend to decode with: the one asked for, else the one that coded the archive."""
    return requested or ("torch" if archived in TORCH_BACKENDS else "llama")


def cores() -> int:
    """The cores this process may use: the default thread count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class Engine:
    """A model file, loaded on first use, with the evaluator of the last lane shape used."""

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        threads: int | None = None,
        *,
        gpu: int | None = None,
        backend: str = "llama",
        device: str | None = None,
    ) -> None:
        """``gpu``: the CUDA device to offload llama.cpp's layers to (None: the CPU). ``backend``: ``llama`` or
        ``torch``; ``device``: torch's, ``cpu`` (the default), ``cuda`` or ``cuda:N``. The archive records the
        backend and the device type, since the logits differ."""
        if backend not in BACKEND_NAMES:
            raise ValueError(f"backend must be one of {', '.join(BACKEND_NAMES)}, not {backend!r}")
        if device is not None and (backend != "torch" or not _DEVICE.fullmatch(device)):
            raise ValueError(f"device is torch's (cpu, cuda or cuda:N), not {device!r} with backend {backend!r}")
        if backend == "torch" and gpu is not None:
            raise ValueError("gpu is llama.cpp's; with backend='torch' use device='cuda:N'")
        if backend == "torch":
            missing = [name for name in ("torch", "gguf") if importlib.util.find_spec(name) is None]
            if missing:
                raise NacrithError(f'the torch backend needs {" and ".join(missing)}: pip install "nacrith[torch]"')
        self.path: Path = registry.resolve_model_path(model)
        self.fingerprint = registry.fingerprint(self.path)
        self.threads = threads or cores() if backend == "torch" else threads
        """llama.cpp's threads (None: its default); torch's, always a number: the archive records it, the logits depend on it."""
        self.gpu = gpu
        self.backend_name = backend
        self.device = device
        if backend == "torch":
            self.backend = BACKEND_TORCH_CPU if device in (None, "cpu") else BACKEND_TORCH_CUDA
        else:
            self.backend = BACKEND_LLAMA_CPU if gpu is None else BACKEND_LLAMA_CUDA
        self._model: LanguageModel | TorchModel | None = None
        self._evaluator: Predictor | None = None
        self._evaluator_shape: tuple[Any, ...] | None = None

    @property
    def model(self) -> LanguageModel | TorchModel:
        """The model: its tokenizer, and what makes evaluators (llama.cpp's or torch's, by the backend)."""
        if self._model is None:
            if self.backend_name == "torch":
                from .models.torch_lanes import TorchModel

                self._model = TorchModel(self.path, self.fingerprint, device=self.device, threads=self.threads, cache=registry.cache_dir() / "torch")
            else:
                from .models.llm import LanguageModel  # llama.cpp only once a model is really needed

                self._model = LanguageModel(self.path, gpu=self.gpu)
        return self._model

    def evaluator(
        self, lanes: int, context: int, prefix: Prefix | None = None, *, base: int = 0, adapt: AdaptParams | None = None
    ) -> Predictor:
        """An evaluator for ``lanes`` sequences of ``context`` tokens each, reused while the shape stays the same.

        Coding asks for :func:`nacrith.memory.context_tokens` of each group, encoder and decoder alike, so
        each group gets a context of the same size on both sides, whatever came before it. ``prefix``: a
        dictionary's start, whose primer the evaluator evaluates once and keeps; ``base``: the length of
        equal-info windows' base sequence (llama.cpp only, for now: torch's evaluator refuses either);
        ``adapt``: learn the text as it is coded (dynamic evaluation, torch only)."""
        if adapt is not None and self.backend_name != "torch":
            raise ValueError("adaptation (dynamic evaluation) needs the torch backend")
        if self._evaluator_shape != (lanes, context, prefix, base, adapt):
            self._evaluator = None  # free the old KV cache before allocating the next
            extra: dict[str, object] = {"prefix": prefix} if prefix is not None else {}
            if base:
                extra["base"] = base
            if adapt is not None:
                extra["adapt"] = adapt
            self._evaluator = self.model.evaluator(lanes, context, self.threads, **extra)  # a stand-in model needs none
            self._evaluator_shape = (lanes, context, prefix, base, adapt)
        assert self._evaluator is not None
        return self._evaluator

    @property
    def file_bytes(self) -> int:
        """The model file's size: what its mapped weights take in memory, known without loading it (torch's
        float32 weights, dequantized, take more)."""
        return self.path.stat().st_size

    def build(self) -> str:
        """The build identity of what runs the model (what the archive's 2-byte build tag hashes)."""
        if self.backend_name == "torch":
            from .models.torch_lanes import parse_device, torch_build_id

            return torch_build_id(parse_device(self.device), self.threads)
        from .models.llm import build_id

        return build_id()

    def model_info(self) -> ModelInfo:
        """The model identity an archive records."""
        build = self.build()
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


_engines: dict[tuple[Any, ...], Engine] = {}


def shared_engine(
    model: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    *,
    gpu: int | None = None,
    backend: str = "llama",
    device: str | None = None,
) -> Engine:
    """The process's engine for a model file, thread count, backend and device: the model and its contexts load once."""
    probe = Engine(model, threads, gpu=gpu, backend=backend, device=device)
    key = (f"{probe.path.resolve()}:{probe.fingerprint.hex()}", threads, gpu, backend, device)
    return _engines.setdefault(key, probe)


def engine_for(
    params: CodingParams,
    model: str | os.PathLike[str] | None,
    threads: int | None,
    gpu: int | None,
    backend: str | None,
    device: str | None,
) -> Engine:
    """The process's engine to decode an archive of ``params`` with: the backend asked for, else the archive's; torch
    computes with the archive's threads (its logits depend on them), llama.cpp with ``threads``."""
    chosen = decoding_backend(backend, params.backend)
    if chosen == "torch" and params.backend in TORCH_BACKENDS:
        threads = params.threads
    return shared_engine(model, threads, gpu=gpu, backend=chosen, device=device)
