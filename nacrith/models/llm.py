"""The language model, through llama.cpp's low-level API: the only module that imports llama_cpp.

Two objects:

* :class:`LanguageModel` owns the loaded GGUF: tokenizer, detokenizer, identity.
* :class:`LaneEvaluator` runs up to ``lanes`` token sequences side by side, one token
  each per ``llama_decode``, every sequence in its own KV stream, and slides each
  sequence's window in place (``llama_memory_seq_rm`` + ``llama_memory_seq_add``)
  instead of re-evaluating its context. With a dictionary's :class:`~nacrith.neural.schedule.Prefix`
  it keeps the primer's cache in one more stream, evaluated once, and copies it into every
  lane when a group starts (``llama_memory_seq_cp``).

Exactness: llama.cpp's logits depend on the batch shape (measured: up to ~2.5 logits
apart between a sequence evaluated alone and in a 64-lane batch). So the evaluator
takes every decision that shapes a batch from its arguments, which come from the
archive: which lanes step, in which order, at which positions, when they slide.
Thread count and timing never change a batch.
The context's size does not change the logits: measured bit for bit, a context of a
chunk's length gives those of one of the whole window (lanes 1, 3 and 8; windows of 64 to
65,536 tokens; sliding lanes too), so a group's context holds only what its lanes can use
(:func:`nacrith.memory.context_tokens`).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
from functools import cached_property
from pathlib import Path

import numpy as np

from ..errors import ModelNotFoundError, NacrithError
from ..memory import F16_BYTES, ModelShape
from ..neural.schedule import Prefix
from .cores import CoreShare, usable_cores
from .registry import cache_dir

try:
    import llama_cpp
except ImportError as exc:  # pragma: no cover - a broken install, not a user error
    raise ImportError("nacrith needs llama-cpp-python: pip install llama-cpp-python") from exc

__all__ = ["LanguageModel", "LaneEvaluator", "build_id", "default_threads"]

_GGUF_MAGIC = b"GGUF"


def build_id() -> str:
    """llama-cpp-python's version and a tag of the CPU kernels it was built with, e.g. ``0.3.36/1a2b3c4d``.

    Archives record it: logits can change between versions, and between builds of one version
    that use other CPU kernels (AVX2 vs AVX-512 vs AMX). A decode that fails its checksum
    names both builds.
    """
    _init_backend()
    info = llama_cpp.llama_print_system_info().decode(errors="replace")
    features = sorted(f.split("=")[0].strip().lower() for f in info.replace("|", "\n").splitlines() if f.strip().endswith("= 1"))
    tag = hashlib.sha256(" ".join(features).encode()).hexdigest()[:8]
    return f"{llama_cpp.__version__}/{tag}"


def default_threads() -> int:
    """Threads for llama.cpp: the cores this process may use (more only adds contention)."""
    return usable_cores()


@ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
def _silent_log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    """llama.cpp logs every load to stderr; a compressor's stderr is for the user's diagnostics."""


_backend_ready = False


def _init_backend() -> None:
    global _backend_ready
    if not _backend_ready:
        if not os.environ.get("NACRITH_LLAMA_LOG"):
            llama_cpp.llama_log_set(_silent_log, ctypes.c_void_p())
        llama_cpp.llama_backend_init()
        info = llama_cpp.llama_print_system_info().decode(errors="replace")
        if "AMX_INT8 = 1" in info:
            # Measured here: llama-cpp-python 0.3.36 built natively on a Sapphire Rapids CPU crashes
            # (SIGSEGV) in llama_decode on any batch of more than one token. A crash loses work.
            raise NacrithError(
                "this llama-cpp-python was built with AMX kernels, which crash on batched decoding; "
                "rebuild it portably: CMAKE_ARGS=-DGGML_NATIVE=OFF pip install --force-reinstall "
                "--no-cache-dir --no-deps llama-cpp-python"
            )
        _backend_ready = True


class LanguageModel:
    """A GGUF model loaded for evaluation; tokenizes and detokenizes exactly as llama.cpp does."""

    def __init__(self, path: str | os.PathLike[str], *, gpu: int | None = None, vocab_only: bool = False) -> None:
        """``gpu``: a CUDA device to offload every layer to (None: the CPU, whose logits are the same on
        every machine with this build). ``vocab_only``: load the tokenizer alone (another backend runs the model)."""
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelNotFoundError(f"model file not found: {self.path}")
        with open(self.path, "rb") as f:
            if f.read(4) != _GGUF_MAGIC:
                raise ModelNotFoundError(f"not a GGUF model file: {self.path}")
        _init_backend()
        params = llama_cpp.llama_model_default_params()
        params.n_gpu_layers = 0  # CPU: identical results on every machine of a build matter more than speed
        params.vocab_only = vocab_only
        if gpu is not None:
            if not llama_cpp.llama_supports_gpu_offload():
                raise NacrithError(
                    "--gpu needs llama-cpp-python built with CUDA: CMAKE_ARGS='-DGGML_CUDA=on' pip install "
                    "--force-reinstall --no-cache-dir llama-cpp-python"
                )
            params.n_gpu_layers = 1 << 30  # every layer
            params.split_mode = llama_cpp.LLAMA_SPLIT_MODE_NONE
            params.main_gpu = gpu
        self._model = llama_cpp.llama_model_load_from_file(str(self.path).encode(), params)
        if not self._model:
            raise ModelNotFoundError(f"llama.cpp could not load the model: {self.path}")
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)
        self.vocab_size = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        bos = int(llama_cpp.llama_vocab_bos(self._vocab))
        eos = int(llama_cpp.llama_vocab_eos(self._vocab))
        self.start_token = bos if bos >= 0 else max(eos, 0)
        """The token every lane starts from, so the first real token has a prediction to be coded with."""

    def __del__(self) -> None:
        model = getattr(self, "_model", None)
        if model:
            try:
                llama_cpp.llama_model_free(model)
            except (TypeError, AttributeError):  # at interpreter exit llama_cpp may already be torn down
                pass
            self._model = None

    @cached_property
    def pieces(self) -> list[bytes]:
        """The bytes of every token (specials render as nothing: they never come out of tokenize here)."""
        buf = ctypes.create_string_buffer(256)
        out = []
        for token in range(self.vocab_size):
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
            if n < 0:
                big = ctypes.create_string_buffer(-n)
                n = llama_cpp.llama_token_to_piece(self._vocab, token, big, len(big), 0, False)
                out.append(big.raw[:n])
            else:
                out.append(buf.raw[:n])
        return out

    @cached_property
    def piece_lengths(self) -> np.ndarray:
        """Bytes per token, to report progress in input bytes as tokens are coded."""
        return np.array([len(p) for p in self.pieces], dtype=np.int64)

    @cached_property
    def piece_newlines(self) -> np.ndarray:
        """Line feeds per token: a neural-crlf chunk's input has a CR before each."""
        return np.array([p.count(b"\n") for p in self.pieces], dtype=np.int64)

    @cached_property
    def shape(self) -> ModelShape:
        """What this model's contexts cost (:mod:`nacrith.memory`): per token, the keys and values of every
        layer in F16, as llama.cpp allocates them (measured: 23,040 bytes for SmolLM2, 180 MiB for 8 x 1024)."""
        m = self._model
        heads = int(llama_cpp.llama_model_n_head(m))
        head_size = int(llama_cpp.llama_model_n_embd(m)) // max(1, heads)
        key = self._metadata_int("attention.key_length") or head_size  # gemma 3 sets them apart from n_embd / n_head
        value = self._metadata_int("attention.value_length") or head_size
        layers, kv_heads = int(llama_cpp.llama_model_n_layer(m)), int(llama_cpp.llama_model_n_head_kv(m))
        return ModelShape(F16_BYTES * layers * kv_heads * (key + value), heads, self.vocab_size)

    def _metadata_int(self, key: str) -> int | None:
        """An integer of the GGUF's metadata under its architecture's name (``llama.attention.key_length``), if set."""
        buf = ctypes.create_string_buffer(128)
        if llama_cpp.llama_model_meta_val_str(self._model, b"general.architecture", buf, len(buf)) < 0:
            return None
        arch = buf.value.decode(errors="replace")
        if llama_cpp.llama_model_meta_val_str(self._model, f"{arch}.{key}".encode(), buf, len(buf)) < 0:
            return None
        text = buf.value.decode(errors="replace")
        return int(text) if text.isdigit() else None

    def tokenize(self, data: bytes) -> list[int]:
        """Tokens of ``data`` as plain text: no BOS added, special-token text not parsed as specials."""
        if not data:
            return []
        capacity = len(data) + 8
        tokens = (llama_cpp.llama_token * capacity)()
        n = llama_cpp.llama_tokenize(self._vocab, data, len(data), tokens, capacity, False, False)
        if n < 0:
            capacity = -n
            tokens = (llama_cpp.llama_token * capacity)()
            n = llama_cpp.llama_tokenize(self._vocab, data, len(data), tokens, capacity, False, False)
        if n < 0:
            raise NacrithError(f"llama.cpp could not tokenize {len(data)} bytes")
        return list(tokens[:n])

    def detokenize(self, tokens: list[int]) -> bytes:
        pieces = self.pieces
        return b"".join(pieces[t] for t in tokens)

    def evaluator(
        self,
        lanes: int,
        context: int,
        threads: int | None = None,
        max_batch: int | None = None,
        prefix: Prefix | None = None,
        *,
        base: int = 0,
    ) -> "LaneEvaluator":
        return LaneEvaluator(self, lanes, context, threads, max_batch, prefix, base=base)


class LaneEvaluator:
    """Evaluates up to ``lanes`` sequences in lockstep, each in a KV stream of ``context`` tokens."""

    def __init__(
        self,
        model: LanguageModel,
        lanes: int,
        context: int,
        threads: int | None = None,
        max_batch: int | None = None,
        prefix: Prefix | None = None,
        *,
        base: int = 0,
    ) -> None:
        """``context``: at least the tokens a lane holds at once (the window, or fewer for short chunks:
        :func:`nacrith.memory.context_tokens`). ``max_batch`` (default: ``lanes``) allows bigger steps, for
        measurements that evaluate many tokens of one lane at once; coding always steps one token per lane.
        ``prefix``: a dictionary's start (FORMAT.md, "Primed lanes"), whose cached tokens every :meth:`reset`
        puts in every lane. ``base``: the length of a base sequence (equal-info windows: the start token and
        a primer) that :meth:`prime` evaluates and :meth:`restart` copies into a lane. Either is held in one
        more sequence, number ``lanes``."""
        if prefix is not None and prefix.cached and base:
            raise ValueError("a primed evaluator has no base sequence")
        self.model = model
        self.lanes = lanes
        self.context = context
        self.prefix = prefix if prefix is not None and prefix.cached else None
        primed = self.prefix.cached if self.prefix else 0
        if primed >= context:
            raise ValueError(f"a primer of {primed} cached tokens does not fit a context of {context}")
        # Threads not chosen: this process's share of the cores among the nacrith processes running a model.
        self._share = CoreShare.of_process(cache_dir() / "runners") if not threads else None
        threads = threads or self._share.threads()  # type: ignore[union-attr]
        self._threads = threads
        params = llama_cpp.llama_context_default_params()
        sequences = lanes + (1 if primed or base else 0)  # the primer's or the base's own stream, after the lanes'
        params.n_ctx = sequences * context
        # llama.cpp reserves an output per sequence when it makes the context: n_outputs_max >= n_seq_max
        batch = max(sequences, max_batch or 1, primed, base)
        params.n_batch = batch
        params.n_ubatch = batch  # one step is always one ubatch: no split that timing could change
        params.n_seq_max = sequences
        params.n_threads = threads
        params.n_threads_batch = threads
        params.kv_unified = False  # a KV stream per lane: measured fastest for lockstep lanes
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED  # measured: no gain on CPU
        params.no_perf = True
        params.n_outputs_max = batch
        params.n_outputs_max_per_seq = batch
        self._ctx = llama_cpp.llama_init_from_model(model._model, params)
        if not self._ctx:
            raise NacrithError(f"llama.cpp could not create a context for {lanes} lanes x {context} tokens")
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(batch, 0, 1)
        self._n_vocab = model.vocab_size
        if self.prefix:
            self._evaluate_primer(self.prefix.tokens[:-1])

    def _evaluate_primer(self, tokens: tuple[int, ...]) -> None:
        """The prefix's cached tokens, once, into the primer's stream (sequence ``lanes``): one
        ``llama_decode`` of all of them at positions 0 to n - 1, so encoder and decoder hold the same keys."""
        n = len(tokens)
        self._fill([self.lanes] * n, list(tokens), list(range(n)), outputs=[i == n - 1 for i in range(n)])
        status = llama_cpp.llama_decode(self._ctx, self._batch)
        if status != 0:
            raise NacrithError(f"llama_decode failed with status {status} (a primer of {n} tokens)")

    def __del__(self) -> None:
        try:
            batch = getattr(self, "_batch", None)
            if batch is not None:
                llama_cpp.llama_batch_free(batch)
                self._batch = None
            ctx = getattr(self, "_ctx", None)
            if ctx:
                llama_cpp.llama_free(ctx)
                self._ctx = None
        except (TypeError, AttributeError):  # at interpreter exit llama_cpp may already be torn down
            pass

    def reset(self) -> None:
        """Forget every lane's context, as if the evaluator were new: each lane's cache is empty, or with a
        prefix, a copy of the primer's (the whole stream is copied at the next ``llama_decode``)."""
        if not self.prefix:
            llama_cpp.llama_memory_clear(self._memory, True)
            return
        for lane in range(self.lanes):
            llama_cpp.llama_memory_seq_cp(self._memory, self.lanes, lane, -1, -1)

    def prime(self, tokens: list[int]) -> np.ndarray:
        """Evaluate ``tokens`` at positions 0, 1, ... of the base sequence, in one batch; the logits after the last
        (a copy). The whole context is cleared first."""
        self.reset()
        n = len(tokens)
        batch = self._batch
        batch.n_tokens = n
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = self.lanes
            batch.logits[i] = int(i == n - 1)
        status = llama_cpp.llama_decode(self._ctx, batch)
        if status != 0:
            raise NacrithError(f"llama_decode failed with status {status} (a base of {n} tokens)")
        pointer = llama_cpp.llama_get_logits_ith(self._ctx, n - 1)
        return np.ctypeslib.as_array(pointer, shape=(self._n_vocab,)).copy()

    def restart(self, lane: int) -> None:
        """Make ``lane``'s cache a copy of the base sequence's: its cells emptied first (which also sends the
        cache's search for free cells back to the start), then the base's cells copied at their places."""
        llama_cpp.llama_memory_seq_rm(self._memory, lane, -1, -1)
        llama_cpp.llama_memory_seq_cp(self._memory, self.lanes, lane, -1, -1)

    def slide(self, lane: int, drop: int, length: int) -> None:
        """Drop the ``drop`` oldest of ``length`` cached tokens of ``lane`` after its start token, and shift
        the rest down to follow it.

        The start token stays at position 0 for good: it is the model's attention sink, and
        measured here, dropping it costs 18% more bits on alice29.txt (1.336 vs 1.132 bits per
        byte on its first 40 KB at a 2048-token window), as StreamingLLM (Xiao et al., 2023) found.
        """
        llama_cpp.llama_memory_seq_rm(self._memory, lane, 1, 1 + drop)
        llama_cpp.llama_memory_seq_add(self._memory, lane, 1 + drop, length, -drop)

    def step(self, lanes: list[int], tokens: list[int], positions: list[int]) -> np.ndarray:
        """Feed ``tokens[i]`` to ``lanes[i]`` at ``positions[i]``; return next-token logits, shape (n, V).

        The returned array is a view of llama.cpp's buffer, valid until the next step.
        """
        if self._share is not None:
            threads = self._share.threads()
            if threads != self._threads:  # thread counts never change the logits
                llama_cpp.llama_set_n_threads(self._ctx, threads, threads)
                self._threads = threads
        n = len(tokens)
        self._fill(lanes, tokens, positions)
        status = llama_cpp.llama_decode(self._ctx, self._batch)
        if status != 0:
            raise NacrithError(f"llama_decode failed with status {status} ({n} lanes)")
        pointer = llama_cpp.llama_get_logits(self._ctx)
        return np.ctypeslib.as_array(pointer, shape=(n, self._n_vocab))

    def _fill(self, sequences: list[int], tokens: list[int], positions: list[int], outputs: list[bool] | None = None) -> None:
        batch = self._batch
        batch.n_tokens = len(tokens)
        for i in range(len(tokens)):
            batch.token[i] = tokens[i]
            batch.pos[i] = positions[i]
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = sequences[i]
            batch.logits[i] = 1 if outputs is None else int(outputs[i])
