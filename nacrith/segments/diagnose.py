"""Why a frame cannot be decoded here: a different model, backend or build, a missing or other dictionary,
too little memory, or damage.

A chunk that fails its checksum is damage, unless it is neural and this build (of llama.cpp,
or of torch) is not the one that wrote the archive: then the logits, not the bytes, are what
differ, and the message says which build to decode it with. What decoding needs in memory is
checked before it is allocated (:mod:`nacrith.memory`): the model file and the ensemble's tables
before the model loads, each group's context before the group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

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
from ..memory import check, context_tokens, need, resolve_limit

if TYPE_CHECKING:
    from ..dictionary import Dictionary

__all__ = ["CheckedEngine", "check_model", "check_identity", "check_dictionary", "check_vocabulary", "chunk_failed"]


class CheckedEngine:
    """The engine a frame's neural chunks are decoded with: got on first use (binary data needs none),
    and checked then against the archive's model, parameters and dictionary, and against ``memory_limit``
    (bytes; None: :func:`nacrith.memory.default_limit`): the model file and the ensemble's tables before
    the model loads, and each group's whole need before its context (:meth:`group`)."""

    def __init__(
        self,
        factory: Callable[[], Engine],
        model: ModelInfo,
        params: CodingParams,
        memory_limit: int | None = None,
        dictionary: Dictionary | None = None,
    ) -> None:
        self._factory, self._model, self._params, self._dictionary = factory, model, params, dictionary
        self.limit = resolve_limit(memory_limit)
        self.engine: Engine | None = None
        """The engine once it was asked for (None before: a failing chunk is then never neural)."""

    def __call__(self, what: str = "the archive") -> Engine:
        """The engine, checked (``what``: the part of the archive that asks first, for the error)."""
        if self.engine is None:
            engine = self._factory()
            check_identity(self._model, self._params, engine, self._dictionary)
            self._check_memory(engine, what)
            check_vocabulary(self._params, engine, self._dictionary)  # loads the model
            self.engine = engine
        return self.engine

    def group(self, lanes: int, longest: int, what: str) -> Engine:
        """The engine for a group of ``lanes`` lanes whose longest chunk has ``longest`` bytes (version 1: tokens),
        once the group's need, its context included, is known to fit; ``what`` names the group in the error.
        A dictionary's primer adds its tokens to each lane and a stream of its own."""
        engine = self(what)
        primer = len(self._dictionary.content.primer) if self._params.dictionary and self._dictionary is not None else 0
        streams = lanes + 1 if primer else lanes
        self._check_memory(engine, what, streams, context_tokens(self._params.window, primer + longest))
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


_HOW = {
    BACKEND_LLAMA_CPU: "--backend llama without --gpu (or backend='llama', gpu=False)",
    BACKEND_LLAMA_CUDA: "--backend llama --gpu (or backend='llama', gpu=True)",
    BACKEND_TORCH_CPU: 'pip install "nacrith[torch]", then --backend torch --device cpu (or backend=\'torch\', device=\'cpu\')',
    BACKEND_TORCH_CUDA: "--backend torch --device cuda (or backend='torch', device='cuda'), on a machine with a CUDA GPU",
}
"""How a user decodes with each backend."""


def check_model(expected: ModelInfo, params: CodingParams, engine: Engine, dictionary: Dictionary | None = None) -> None:
    """Refuse a model other than the archive's, a dictionary other than the one it needs, and parameters
    this model (and dictionary) cannot have been coded with."""
    check_identity(expected, params, engine, dictionary)
    check_vocabulary(params, engine, dictionary)


def check_identity(expected: ModelInfo, params: CodingParams, engine: Engine, dictionary: Dictionary | None = None) -> None:
    """Refuse a model file, backend or dictionary other than the archive's (without loading the model)."""
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
    check_dictionary(params, dictionary)


def check_vocabulary(params: CodingParams, engine: Engine, dictionary: Dictionary | None = None) -> None:
    """Refuse parameters the model (loaded here) and the dictionary cannot have been coded with."""
    vocab = engine.model.vocab_size
    if vocab > 1 << params.precision_bits or params.start_token >= vocab:
        raise CorruptArchiveError(
            f"impossible parameters for a {vocab}-token model: precision {params.precision_bits} bits, "
            f"start token {params.start_token}"
        )
    if params.dictionary and dictionary is not None:
        dictionary.check_model(engine.fingerprint, vocab)
        primer = len(dictionary.content.primer)
        if primer >= params.window:
            raise CorruptArchiveError(f"a window of {params.window} tokens cannot hold dictionary {dictionary.describe()}'s primer of {primer}")


def check_dictionary(params: CodingParams, dictionary: Dictionary | None) -> None:
    """Refuse to decode without the dictionary the archive names (header key 20), or with another one."""
    if not params.dictionary:
        return  # a dictionary given for an archive that needs none is not used
    if dictionary is None:
        raise ModelMismatchError(
            f"the archive was made with dictionary {params.dictionary:014x}, and none was given; give it with -D (or dictionary=)"
        )
    if dictionary.identity != params.dictionary:
        raise ModelMismatchError(
            f"the archive was made with dictionary {params.dictionary:014x}, not with the one given, "
            f"{dictionary.describe()}; give the archive's dictionary with -D (or dictionary=)"
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
