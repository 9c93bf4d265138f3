"""The torch backend's predictor: the GGUF model in torch, run as lockstep lanes like :mod:`.llm`'s.

Two objects, as in :mod:`.llm`:

* :class:`TorchModel`: the model's weights in torch (:mod:`.torch_lm`), and llama.cpp's
  tokenizer (a vocabulary-only :class:`~.llm.LanguageModel`), so both backends cut text
  into the very same tokens.
* :class:`TorchEvaluator`: the :class:`~nacrith.neural.schedule.Predictor` of up to
  ``lanes`` sequences, each in its own KV slot, sliding in place like llama.cpp's
  (the start token kept, the kept keys turned back by RoPE).

Exactness: encoder and decoder must compute the same logits bit for bit. Every batch shape
comes from the schedule (so from the archive); the stepping lanes always occupy the first
slots, in lane order; torch runs with deterministic algorithms. The thread count matters,
measured here: torch 2.13's MKL sgemm gives other bits on 1 and 2 threads for 216 of 576
small shapes tried (a 7-row product among them), and scaled_dot_product_attention for most
shapes (so attention is written out). MKL's strict reproducibility mode (``MKL_CBWR=
AUTO,STRICT``, switched on here before MKL's first call) leaves 40 of them, all narrower
than the models' products, and makes results independent of memory alignment. So the
archive records the thread count (header key 27) and a decoder computes with it. What
differs between torch versions, devices and CPU kernels is in the build identity.
"""

from __future__ import annotations

import ctypes
import os
from functools import cached_property
from pathlib import Path

import numpy as np

from ..errors import NacrithError

os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")  # read by MKL at its first call: before torch is imported, if it is not yet

try:
    import torch
except ImportError as exc:  # pragma: no cover - the extra is missing: a user error with a fix
    raise NacrithError('the torch backend needs PyTorch and gguf: pip install "nacrith[torch]"') from exc

from ..memory import ModelShape
from ..neural.adapt import AdaptParams
from ..neural.schedule import Prefix
from .gguf_weights import load_weights
from .llm import LanguageModel, default_threads
from .torch_lm import KVCache, Transformer

__all__ = ["TorchModel", "TorchEvaluator", "torch_build_id", "parse_device"]

DTYPE = "float32"
"""The only precision: float32 weights, activations and KV cache (the archive's backend says so)."""


def parse_device(device: str | None) -> "torch.device":
    """``cpu``, ``cuda`` or ``cuda:N`` as a torch device; a CUDA device only where torch has one."""
    try:
        chosen = torch.device(device or "cpu")
    except RuntimeError:
        raise ValueError(f"device must be cpu, cuda or cuda:N, not {device!r}") from None
    if chosen.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be cpu, cuda or cuda:N, not {device!r}")
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            raise NacrithError(f"--device {device}: this torch has no CUDA device (torch {torch.__version__}); use --device cpu")
        index = chosen.index if chosen.index is not None else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise NacrithError(f"--device {device}: there are {torch.cuda.device_count()} CUDA devices")
        chosen = torch.device("cuda", index)
    return chosen


_MKL_CBWR_ALL, _MKL_CBWR_AUTO, _MKL_CBWR_STRICT = -1, 2, 0x10000
"""mkl_cbwr.h: read every setting; the automatic code branch; strict mode (the same bits for any thread count)."""


def _mkl_strict() -> bool | None:
    """Whether torch's MKL is in strict reproducible mode, switching it on if MKL has not run yet; None: no MKL."""
    if not torch.backends.mkl.is_available():
        return None
    try:
        lib = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
        get, set_ = lib.mkl_serv_cbwr_get, lib.mkl_serv_cbwr_set
    except (OSError, AttributeError):  # another platform's file names: only what the environment asked
        return "STRICT" in os.environ.get("MKL_CBWR", "").upper()
    get.restype = set_.restype = ctypes.c_int
    get.argtypes = set_.argtypes = [ctypes.c_int]
    if not get(_MKL_CBWR_ALL) & _MKL_CBWR_STRICT:
        set_(_MKL_CBWR_AUTO | _MKL_CBWR_STRICT)  # fails (and changes nothing) once MKL has run
    return bool(get(_MKL_CBWR_ALL) & _MKL_CBWR_STRICT)


_mkl_strict()  # now, before this process's first product if it can


def torch_build_id(device: "torch.device", threads: int | None = None) -> str:
    """What the logits depend on besides the model: torch's version, the device type, the precision, the kernels
    (the instruction set torch dispatches to, or the GPU's compute capability), and, where MKL's strict mode cannot
    make them irrelevant, the threads (``threads``: the count in use, default torch's)."""
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        kernels = f"sm{major}{minor}"
    else:
        kernels = torch.backends.cpu.get_cpu_capability().lower()
        strict = _mkl_strict()
        kernels += " mkl-strict" if strict else f" {'mkl' if strict is False else 'blas'} threads={threads or torch.get_num_threads()}"
    return f"torch {torch.__version__} {device.type} {DTYPE} {kernels}"


def _deterministic(threads: int) -> None:
    if _mkl_strict() is False:
        raise NacrithError(
            "torch's MKL ran before nacrith could make its results independent of the thread count: "
            "set MKL_CBWR=AUTO,STRICT in the environment (or import nacrith's torch backend before using torch)"
        )
    torch.use_deterministic_algorithms(True)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


class TorchModel:
    """A GGUF model run by torch, tokenized by llama.cpp."""

    def __init__(
        self, path: str | os.PathLike[str], fingerprint: bytes, *, device: str | None = None, threads: int | None = None, cache: Path | None = None
    ) -> None:
        """``cache``: where dequantized weights are kept (None: dequantize every time)."""
        self.path = Path(path)
        self.tokenizer = LanguageModel(self.path, vocab_only=True)
        self.device = parse_device(device)
        self.threads = threads or default_threads()
        _deterministic(self.threads)
        self.config, weights = load_weights(self.path, fingerprint, cache)
        if self.config.vocab_size != self.tokenizer.vocab_size:
            raise NacrithError(f"{self.path}: {self.config.vocab_size} embeddings for {self.tokenizer.vocab_size} tokens")
        self.net = Transformer(self.config, weights, self.device)

    @property
    def build(self) -> str:
        return torch_build_id(self.device, self.threads)

    # The tokenizer's side, the same as :class:`~.llm.LanguageModel`'s.
    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    @property
    def start_token(self) -> int:
        return self.tokenizer.start_token

    @cached_property
    def pieces(self) -> list[bytes]:
        return self.tokenizer.pieces

    @property
    def piece_lengths(self) -> np.ndarray:
        return self.tokenizer.piece_lengths

    @property
    def piece_newlines(self) -> np.ndarray:
        return self.tokenizer.piece_newlines

    def tokenize(self, data: bytes) -> list[int]:
        return self.tokenizer.tokenize(data)

    def detokenize(self, tokens: list[int]) -> bytes:
        return self.tokenizer.detokenize(tokens)

    @cached_property
    def shape(self) -> ModelShape:
        """What this model's contexts cost (:mod:`nacrith.memory`): per token, the keys and values of every layer
        in float32, as :class:`~.torch_lm.KVCache` holds them."""
        c = self.config
        return ModelShape(4 * c.n_layer * c.n_kv_head * c.head_dim * 2, c.n_head, self.vocab_size)

    def evaluator(
        self,
        lanes: int,
        context: int,
        threads: int | None = None,
        max_batch: int | None = None,
        prefix: Prefix | None = None,
        *,
        base: int = 0,
        adapt: AdaptParams | None = None,
    ) -> "TorchEvaluator":
        """The call of :meth:`~.llm.LanguageModel.evaluator`: ``threads`` and ``max_batch`` are llama.cpp's, accepted
        for the same calls (torch's threads are the model's, and a step may be of any size). ``prefix`` with a
        primer (a dictionary's) and ``base`` (equal-info windows) are not supported by this backend yet, and are
        refused. ``adapt``: learn the text as it is coded (dynamic evaluation)."""
        if prefix is not None and prefix.cached:
            raise NacrithError("the torch backend does not support dictionaries (a primed start) yet; use --backend llama")
        if base:
            raise NacrithError("the torch backend does not support equal-info windows (a base sequence) yet; use --backend llama")
        return TorchEvaluator(self, lanes, context, adapt)


class TorchEvaluator:
    """Evaluates up to ``lanes`` sequences in lockstep, each in a KV slot of ``context`` tokens (the window, or
    fewer for short chunks: :func:`nacrith.memory.context_tokens`; attention reads only the positions in use,
    so the slot's size does not change the logits).

    A step feeds either one token to each of several lanes (coding) or several consecutive
    tokens to one lane (measuring a sequence, :func:`~nacrith.neural.sequence.logit_blocks`).
    """

    def __init__(self, model: TorchModel, lanes: int, context: int, adapt: AdaptParams | None = None) -> None:
        self.model = model
        self.lanes = lanes
        self.context = context
        self._net = model.net
        self._cache = KVCache(model.config, lanes, context, model.device)
        self._slot = list(range(lanes))
        """Lane -> its slot in the cache."""
        self._lane_in = list(range(lanes))
        """Slot -> the lane whose context it holds."""
        self._adapt = None
        if adapt is not None:
            from .torch_adapt import Learner

            self._adapt = Learner(self, adapt)

    def reset(self) -> None:
        """Forget every lane's context (and what the model learned of them), as if the evaluator were new."""
        self._slot = list(range(self.lanes))
        self._lane_in = list(range(self.lanes))
        if self._adapt is not None:
            self._adapt.reset()

    def slide(self, lane: int, drop: int, length: int) -> None:
        """Drop the ``drop`` oldest of ``length`` cached tokens of ``lane`` after its start token; shift the rest down."""
        with torch.no_grad():
            self._net.slide(self._cache, self._slot[lane], drop, length)
        if self._adapt is not None:
            self._adapt.slid(lane, drop)

    def step(self, lanes: list[int], tokens: list[int], positions: list[int]) -> np.ndarray:
        """Feed ``tokens[i]`` to ``lanes[i]`` at ``positions[i]``; return next-token logits, shape (n, V).

        The returned array may share memory with the evaluator: it is valid until the next step.
        """
        n = len(lanes)
        if not n or len(tokens) != n or len(positions) != n:
            raise ValueError("a step needs one token and one position per lane")
        if max(positions) >= self.context or min(positions) < 0:
            raise ValueError(f"positions must be 0..{self.context - 1}")
        device = self.model.device
        if len(set(lanes)) == n:  # coding: one token per lane, the lanes in the first slots
            self._gather(lanes)
            slots = slice(0, n)
            shape = (n, 1)
        elif len(set(lanes)) == 1:  # one lane's tokens, in order
            slot = self._slot[lanes[0]]
            slots = slice(slot, slot + 1)
            shape = (1, n)
        else:
            raise ValueError("a step feeds one token to each of several lanes, or several tokens to one lane")
        if torch.get_num_threads() != self.model.threads:  # another model of this process may have changed it
            torch.set_num_threads(self.model.threads)
        token_ids = torch.tensor(tokens, device=device).view(shape)
        where = torch.tensor(positions, device=device).view(shape)
        if self._adapt is not None:
            return self._adapt.step(lanes, token_ids, slots, where)
        with torch.no_grad():
            x = self._net.layers_forward(self._net.embed(token_ids), self._cache, slots, where, range(self.model.config.n_layer))
            logits = self._net.logits(x).view(n, -1)
        return logits.numpy() if device.type == "cpu" else logits.cpu().numpy()

    def _gather(self, lanes: list[int]) -> None:
        """Put ``lanes`` (distinct) in slots 0..n-1 in their order, exchanging slots where needed."""
        for i, lane in enumerate(lanes):
            j = self._slot[lane]
            if j != i:
                other = self._lane_in[i]
                with torch.no_grad():
                    self._cache.swap(i, j)
                self._slot[lane], self._slot[other] = i, j
                self._lane_in[i], self._lane_in[j] = lane, other
