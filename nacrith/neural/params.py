"""The ensemble's parameters: plain integers, so the archive can store them exactly (FORMAT.md, "Ensemble")."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["EnsembleParams", "RATE_BITS"]

RATE_BITS = 16
"""Rates and limits are integers over 2**16: exact binary fractions, the same on every machine."""

MAX_MEMORY = 1 << 30
"""Most memory an archive's ensemble may ask a decoder for, so a hostile header cannot exhaust it."""

_NGRAM_SLOT_BYTES = 8 + 8 * (4 + 4)
"""A check value and eight (token, count) pairs of int32 (nacrith.models.ngram)."""


@dataclass(frozen=True)
class EnsembleParams:
    """Everything the ensemble's predictions depend on, in the order the archive stores them.

    The defaults were chosen by measurement (BENCHMARKS.md, "Ensemble ablation").
    """

    ngram_orders: int = 6
    """Token contexts of 1..this many tokens; 0 turns the n-gram model off."""
    ngram_table_bits: int = 18
    """Each order's hash table has 2**this many slots."""
    ngram_count_limit: int = 255
    """A context's counts are halved when one reaches this: recent text weighs more."""
    match_min_length: int = 6
    """Tokens a context must share with an earlier one to start a match; 0 turns the match model off."""
    match_table_bits: int = 20
    history_bits: int = 22
    """The match model remembers the last 2**this many tokens of the frame."""
    bias_rate: int = 8192
    """Bias head step size, over 2**16 (1/8); 0 turns the head off."""
    bias_limit: int = 8 << RATE_BITS
    """Largest bias magnitude, in nats, over 2**16."""
    mixer_rate: int = 1311
    """Mixer learning rate, over 2**16 (about 0.02)."""
    mixer_first_weight: int = 52429
    """The LLM's initial share of every weight set, over 2**16 (about 0.8)."""

    @property
    def enabled(self) -> bool:
        """Whether anything but the LLM takes part (all off: the plain quantization, FORMAT.md)."""
        return bool(self.ngram_orders or self.match_min_length or self.bias_rate)

    def values(self) -> tuple[int, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    @classmethod
    def from_values(cls, values: list[int]) -> "EnsembleParams":
        return cls(*values)

    @property
    def memory_bytes(self) -> int:
        """The tables' size (the n-gram's and the match model's; the bias head's is the vocabulary's)."""
        ngram = self.ngram_orders * (_NGRAM_SLOT_BYTES << self.ngram_table_bits)
        match = (8 << self.history_bits) + (8 << self.match_table_bits) if self.match_min_length else 0
        return ngram + match

    def problems(self) -> list[str]:
        """What is out of range (an empty list for parameters a decoder can use)."""
        limits = {
            "ngram_orders": (0, 16),
            "ngram_table_bits": (4, 22),
            "ngram_count_limit": (2, 1 << 16),
            "match_min_length": (0, 32),
            "match_table_bits": (4, 24),
            "history_bits": (10, 26),
            "bias_rate": (0, 1 << RATE_BITS),
            "bias_limit": (1, 64 << RATE_BITS),
            "mixer_rate": (1, (1 << RATE_BITS) - 1),
            "mixer_first_weight": (1, (1 << RATE_BITS) - 1),
        }
        out = []
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if not low <= value <= high:
                out.append(f"{name.replace('_', ' ')} {value} ({low}..{high})")
        if not out and self.memory_bytes > MAX_MEMORY:
            out.append(f"tables of {self.memory_bytes >> 20} MiB (at most {MAX_MEMORY >> 20})")
        return out
