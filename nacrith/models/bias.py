"""The adaptive bias head: a per-token correction of the LLM's logits, learned from the file itself.

A small, general model misjudges a given file's vocabulary: names that recur, a
spelling, a markup habit. The head adds a bias ``b[v]`` (nats) to every logit and, after
each coded token ``x``, takes one gradient step on the coding loss -log p(x):
``b -= rate * (p - onehot(x))``, lane by lane in lane order. The bias is clipped to
+-``limit`` so no token can be pushed out of reach.

Only IEEE-754 additions, subtractions, multiplications and divisions are used, in a fixed
order, so encoder and decoder compute the same bias bit for bit on every machine.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BiasHead"]


class BiasHead:
    """A bias vector over the vocabulary, shared by all lanes, updated online."""

    def __init__(self, vocab_size: int, rate: float, limit: float) -> None:
        if not rate > 0 or not limit > 0:
            raise ValueError(f"bias rate and limit must be positive, got {rate}, {limit}")
        self.rate = rate
        self.limit = limit
        self.bias = np.zeros(vocab_size, dtype=np.float64)

    def apply(self, logits: np.ndarray) -> np.ndarray:
        """The biased logits, float64, shape of ``logits``."""
        return logits.astype(np.float64) + self.bias

    def update(self, weights: np.ndarray, totals: np.ndarray, tokens: list[int]) -> None:
        """One step per row: ``weights[i] / totals[i]`` is the biased LLM distribution that coded ``tokens[i]``."""
        for row, token in enumerate(tokens):
            self.bias -= weights[row] * (self.rate / float(totals[row]))
            self.bias[token] += self.rate
        np.clip(self.bias, -self.limit, self.limit, out=self.bias)
