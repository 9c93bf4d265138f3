"""What decoding an archive needs in memory, known before anything is allocated, and the limit it must fit.

A decoder holds three things: the model (its file, mapped, and its vocabulary), one llama.cpp
context per group (a KV cache of ``lanes x context`` tokens) and the ensemble's tables. Each
follows from the archive's header and a group's chunk table, so the decoder computes the need
and refuses an archive over its limit (:class:`~nacrith.MemoryLimitError`) before it loads the
model or allocates a context, as ``xz --memlimit`` and ``zstd --memory`` do.

A group's context holds what its lanes can use, not the archive's whole window: a lane codes
at most as many tokens as its chunk has bytes, so a group whose longest chunk is shorter than
the window never slides, and a context of that many tokens gives the same logits as one of the
window (measured bit for bit: lanes 1, 3 and 8, windows 64 to 65,536, sliding lanes too).
Encoder and decoder both size contexts by :func:`context_tokens`, so a 70-byte chunk of an
archive whose header says 65,536 tokens costs a 256-token context.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import MemoryLimitError

__all__ = ["CONTEXT_ROUND", "DEFAULT_LIMIT_CAP", "ModelShape", "Need", "context_tokens", "default_limit", "resolve_limit", "need", "check"]

CONTEXT_ROUND = 256
"""llama.cpp rounds each sequence's KV stream up to a multiple of 256 tokens (measured, 0.3.36): contexts are
asked for in these units, which is what llama.cpp allocates anyway."""

DEFAULT_LIMIT_CAP = 4 << 30
"""The default limit on a machine with 8 GiB or more: 8 lanes with 16,384-token windows fit (2.9 GiB), the
defaults need about 0.45 GiB; beyond it a hostile or unusual archive must be allowed explicitly."""

F16_BYTES = 2
"""A KV cache value: llama.cpp's default type_k and type_v are F16, which FORMAT.md's evaluation context keeps."""

VOCAB_ENTRY_BYTES = 512
"""Memory per vocabulary entry of a loaded model besides its mapped file: llama.cpp's vocabulary and merges,
nacrith's token pieces (measured: 25 MB for SmolLM2's 49,152 tokens)."""

STEP_ARRAYS = 6
"""Arrays of one row per lane and 8 bytes per vocabulary entry alive in a step (logits, weights, frequencies,
their sums): llama.cpp's output buffer and what the ensemble computes from it."""


def context_tokens(window: int, longest: int) -> int:
    """Tokens each lane's KV stream holds in a group whose longest chunk has ``longest`` bytes (version 1:
    tokens): a lane never holds more than its tokens, nor more than the window; rounded up as llama.cpp does."""
    used = max(1, min(window, longest))
    return -(-used // CONTEXT_ROUND) * CONTEXT_ROUND


def _physical_memory() -> int | None:
    """This machine's memory, or the container's limit when lower (cgroup v2, then v1); None if unknown."""
    sizes = []
    try:
        sizes.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit():
            sizes.append(int(text))
    sizes = [s for s in sizes if s > 0]
    return min(sizes) if sizes else None


def default_limit() -> int:
    """Half this machine's memory, at most :data:`DEFAULT_LIMIT_CAP`: room for the rest of the system."""
    physical = _physical_memory()
    return min(DEFAULT_LIMIT_CAP, physical // 2) if physical else DEFAULT_LIMIT_CAP


def resolve_limit(limit: int | None) -> int:
    """The API's ``memory_limit=``: bytes, or None for :func:`default_limit`."""
    if limit is None:
        return default_limit()
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise ValueError(f"memory_limit must be a positive number of bytes, or None for the default; got {limit!r}")
    return limit


@dataclass(frozen=True)
class ModelShape:
    """What a loaded model's contexts cost: its KV cache per token, attention heads and vocabulary."""

    kv_bytes_per_token: int
    heads: int
    vocab_size: int


@dataclass(frozen=True)
class Need:
    """A decoder's memory for one group, by part; ``complete`` is False before the model's shape is known."""

    model: int
    ensemble: int
    lanes: int = 0
    context: int = 0
    """Tokens per lane."""
    context_bytes: int = 0
    complete: bool = True

    @property
    def total(self) -> int:
        return self.model + self.ensemble + self.context_bytes

    def describe(self) -> str:
        parts = [f"the model {size(self.model)}"]
        if self.ensemble:
            parts.append(f"the ensemble's tables {size(self.ensemble)}")
        if self.complete and self.lanes:
            parts.append(f"a context of {self.lanes} lane{'s' if self.lanes > 1 else ''} x {self.context:,} tokens {size(self.context_bytes)}")
        return f"{'' if self.complete else 'at least '}{size(self.total)} of memory ({', '.join(parts)})"


def need(model_file: int, ensemble_tables: int | None, shape: ModelShape | None = None, lanes: int = 0, context: int = 0) -> Need:
    """The need of a group of ``lanes`` lanes of ``context`` tokens each, with the model file of ``model_file``
    bytes and ensemble tables of ``ensemble_tables`` bytes (None: no ensemble). Without ``shape`` (the model not
    loaded yet) only the parts known without it."""
    if shape is None:
        return Need(model_file, ensemble_tables or 0, complete=False)
    vocab = shape.vocab_size
    ensemble = ensemble_tables + vocab * 8 if ensemble_tables is not None else 0  # the bias head: a float64 per token
    kv = lanes * context * shape.kv_bytes_per_token
    work = lanes * vocab * 8 * STEP_ARRAYS + lanes * context * shape.heads * 4  # and one layer's attention scores
    return Need(model_file + vocab * VOCAB_ENTRY_BYTES, ensemble, lanes, context, kv + work)


def check(need: Need, limit: int, what: str) -> None:
    """Raise :class:`~nacrith.MemoryLimitError` when ``need`` (of ``what``, e.g. "segment 0, group 3") exceeds ``limit``."""
    if need.total > limit:
        raise MemoryLimitError(
            f"{what} needs {need.describe()}, over the limit of {size(limit)}; "
            "allow more with --memory (memory_limit=) if this machine has it",
            need.total,
            limit,
        )


def size(n: int) -> str:
    """Bytes for a person: 512 B, 1.5 KiB, 180 MiB, 11.3 GiB."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            value = n / (1 << shift)
            return f"{value:.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    return f"{n} B"
