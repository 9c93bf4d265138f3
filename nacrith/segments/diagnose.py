"""Why a frame cannot be decoded here: a different model, backend or build, or damage.

A chunk that fails its checksum is damage, unless it is neural and this build (of llama.cpp,
or of torch) is not the one that wrote the archive: then the logits, not the bytes, are what
differ, and the message says which build to decode it with.
"""

from __future__ import annotations

from typing import Callable

from ..container import (
    BACKEND_LLAMA_CPU,
    BACKEND_LLAMA_CUDA,
    BACKEND_TORCH_CPU,
    BACKEND_TORCH_CUDA,
    BACKENDS,
    NEURAL_METHODS,
    TORCH_BACKENDS,
    ChunkEntry,
    CodingParams,
    ModelInfo,
    build_tag,
)
from ..engine import Engine, describe_model
from ..errors import CorruptArchiveError, ModelMismatchError

__all__ = ["CheckedEngine", "check_model", "chunk_failed"]


class CheckedEngine:
    """The engine a frame's neural chunks are decoded with: got on first use (binary data needs none),
    and checked then against the archive's model and parameters."""

    def __init__(self, factory: Callable[[], Engine], model: ModelInfo, params: CodingParams) -> None:
        self._factory, self._model, self._params = factory, model, params
        self.engine: Engine | None = None
        """The engine once it was asked for (None before: a failing chunk is then never neural)."""

    def __call__(self) -> Engine:
        if self.engine is None:
            engine = self._factory()
            check_model(self._model, self._params, engine)
            self.engine = engine
        return self.engine


_HOW = {
    BACKEND_LLAMA_CPU: "--backend llama without --gpu (or backend='llama', gpu=False)",
    BACKEND_LLAMA_CUDA: "--backend llama --gpu (or backend='llama', gpu=True)",
    BACKEND_TORCH_CPU: 'pip install "nacrith[torch]", then --backend torch --device cpu (or backend=\'torch\', device=\'cpu\')',
    BACKEND_TORCH_CUDA: "--backend torch --device cuda (or backend='torch', device='cuda'), on a machine with a CUDA GPU",
}
"""How a user decodes with each backend."""


def check_model(expected: ModelInfo, params: CodingParams, engine: Engine) -> None:
    """Refuse a model other than the archive's, and parameters this model cannot have been coded with."""
    if expected.fingerprint != engine.fingerprint:
        raise ModelMismatchError(
            f"the archive was made with model {describe_model(expected)}, "
            f"but the model in use is {engine.describe()}; pass the archive's model with --model (or model=)"
        )
    if params.backend != engine.backend:
        raise ModelMismatchError(
            f"the archive was made with {BACKENDS[params.backend]}, whose logits differ from those of {BACKENDS[engine.backend]}, "
            f"the backend in use; decode it with {BACKENDS[params.backend]}: {_HOW[params.backend]}"
        )
    if params.backend in TORCH_BACKENDS and params.threads != engine.threads:
        raise ModelMismatchError(
            f"the archive was made with {params.threads} torch threads, whose logits can differ from those of "
            f"{engine.threads}, the threads in use; decode it with -T {params.threads} (or threads={params.threads})"
        )
    if params.dictionary:
        raise ModelMismatchError(f"the archive was made with dictionary {params.dictionary:014x}; give it with -D (or dictionary=)")
    vocab = engine.model.vocab_size
    if vocab > 1 << params.precision_bits or params.start_token >= vocab:
        raise CorruptArchiveError(
            f"impossible parameters for a {vocab}-token model: precision {params.precision_bits} bits, "
            f"start token {params.start_token}"
        )


def chunk_failed(expected: ModelInfo, engine: Engine | None, where: str, entry: ChunkEntry, reason: str = "fails its checksum") -> None:
    """Raise the error for the chunk at ``where`` whose bytes do not match its length and checksum, or whose
    tokens do not fit its payload and length (``reason``): damage, unless a neural chunk was written by
    another llama.cpp build."""
    where = f"{where} ({entry.method_name}, {entry.length} bytes)"
    if entry.method in NEURAL_METHODS and engine is not None:
        here = engine.model_info().build
        if build_tag(here) != expected.build_tag:
            written = f"build {expected.build!r}" if expected.build else f"a build tagged {expected.build_tag.hex()}"
            what = "torch" if engine.backend_name == "torch" else "llama-cpp-python"
            raise ModelMismatchError(
                f"{where} does not decode to its checksum: the archive was written by {written} and this is "
                f"{here!r} (tag {build_tag(here).hex()}), whose logits differ. Decode it with the {what} build "
                "that wrote it (the same version, built the same way, on the same kind of device)."
            )
    raise CorruptArchiveError(f"{where} {reason}: the archive is damaged")
