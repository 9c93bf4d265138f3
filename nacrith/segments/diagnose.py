"""Why a frame cannot be decoded here: a different model, a different llama.cpp build, too little memory, or damage.

A chunk that fails its checksum is damage, unless it is neural and this llama.cpp build is
not the one that wrote the archive: then the logits, not the bytes, are what differ, and the
message says which build to decode it with. What decoding needs in memory is checked before it
is allocated (:mod:`nacrith.memory`): the model file and the ensemble's tables before the model
loads, each group's context before the group.
"""

from __future__ import annotations

from typing import Callable

from ..container import BACKEND_LLAMA_CUDA, BACKENDS, NEURAL_METHODS, ChunkEntry, CodingParams, ModelInfo, build_tag
from ..engine import Engine, describe_model
from ..errors import CorruptArchiveError, ModelMismatchError
from ..memory import check, context_tokens, need, resolve_limit

__all__ = ["CheckedEngine", "check_model", "check_identity", "check_vocabulary", "chunk_failed"]


class CheckedEngine:
    """The engine a frame's neural chunks are decoded with: got on first use (binary data needs none),
    and checked then against the archive's model and parameters, and against ``memory_limit`` (bytes;
    None: :func:`nacrith.memory.default_limit`): the model file and the ensemble's tables before the
    model loads, and each group's whole need before its context (:meth:`group`)."""

    def __init__(self, factory: Callable[[], Engine], model: ModelInfo, params: CodingParams, memory_limit: int | None = None) -> None:
        self._factory, self._model, self._params = factory, model, params
        self.limit = resolve_limit(memory_limit)
        self.engine: Engine | None = None
        """The engine once it was asked for (None before: a failing chunk is then never neural)."""

    def __call__(self, what: str = "the archive") -> Engine:
        """The engine, checked (``what``: the part of the archive that asks first, for the error)."""
        if self.engine is None:
            engine = self._factory()
            check_identity(self._model, self._params, engine)
            self._check_memory(engine, what)
            check_vocabulary(self._params, engine)  # loads the model
            self.engine = engine
        return self.engine

    def group(self, lanes: int, longest: int, what: str) -> Engine:
        """The engine for a group of ``lanes`` lanes whose longest chunk has ``longest`` bytes (version 1: tokens),
        once the group's need, its context included, is known to fit; ``what`` names the group in the error."""
        engine = self(what)
        self._check_memory(engine, what, lanes, context_tokens(self._params.window, longest))
        return engine

    def _check_memory(self, engine: Engine, what: str, lanes: int = 0, context: int = 0) -> None:
        """The need of the model file and the ensemble's tables, and with ``lanes`` the loaded model's context too.
        An engine that cannot say what it needs (a stand-in without a model file, in tests) is not checked."""
        file_bytes = getattr(engine, "file_bytes", None)
        if file_bytes is None:
            return
        p = self._params
        shape = engine.model.shape if lanes else None
        check(need(file_bytes, p.ensemble.memory_bytes if p.ensemble else None, shape, lanes, context), self.limit, what)


def check_model(expected: ModelInfo, params: CodingParams, engine: Engine) -> None:
    """Refuse a model other than the archive's, and parameters this model cannot have been coded with."""
    check_identity(expected, params, engine)
    check_vocabulary(params, engine)


def check_identity(expected: ModelInfo, params: CodingParams, engine: Engine) -> None:
    """Refuse a model file, backend or dictionary other than the archive's (without loading the model)."""
    if expected.fingerprint != engine.fingerprint:
        raise ModelMismatchError(
            f"the archive was made with model {describe_model(expected)}, "
            f"but the model in use is {engine.describe()}; pass the archive's model with --model (or model=)"
        )
    if params.backend != engine.backend:
        raise ModelMismatchError(
            f"the archive was made with {BACKENDS[params.backend]}, whose logits differ from {BACKENDS[engine.backend]}'s; "
            f"decode it with {BACKENDS[params.backend]}" + (" (--gpu)" if params.backend == BACKEND_LLAMA_CUDA else " (without --gpu)")
        )
    if params.dictionary:
        raise ModelMismatchError(f"the archive was made with dictionary {params.dictionary:014x}; give it with -D (or dictionary=)")


def check_vocabulary(params: CodingParams, engine: Engine) -> None:
    """Refuse parameters the model (loaded here) cannot have been coded with."""
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
            raise ModelMismatchError(
                f"{where} does not decode to its checksum: the archive was written by llama.cpp {written} and this is "
                f"{here!r} (tag {build_tag(here).hex()}), whose logits differ. Decode it with the llama-cpp-python build "
                "that wrote it (the same version, built the same way)."
            )
    raise CorruptArchiveError(f"{where} {reason}: the archive is damaged")
