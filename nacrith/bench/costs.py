"""Where the bits go: the model's cost of every token of a text, and a summary of it.

:func:`token_bits` evaluates exactly as :func:`.model_limits.ideal_bits` does (one
sequence, the same sliding window, blocks of ``window - keep`` tokens, float64 softmax),
but keeps each token's -log2 p instead of only their sum: so the sum equals the ideal
code length, and the costs are what an ideal coder would pay for each token.

:class:`Explanation` carries a ``predictors`` column, None for now. When several
predictors are mixed, it will name the one that won each token; the HTML page
(:mod:`.explain_html`) already shows it wherever it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the page renders from an Explanation without loading llama.cpp
    from ..models.llm import LanguageModel

__all__ = ["token_bits", "Explanation", "explain"]


def token_bits(model: LanguageModel, tokens: list[int], window: int, keep: int, threads: int | None = None) -> np.ndarray:
    """-log2 p(token | context) for every token, float64: the start token first, then a window sliding by ``window - keep``."""
    if not 1 <= keep < window:
        raise ValueError(f"keep must be 1..window-1, got keep={keep}, window={window}")
    block = window - keep
    evaluator = model.evaluator(1, window, threads, max_batch=block)
    evaluator.reset()
    sequence = [model.start_token, *tokens]
    costs = np.empty(len(tokens), dtype=np.float64)
    kv = 0
    for start in range(0, len(tokens), block):
        feed = sequence[start : min(start + block, len(tokens))]  # the last token predicts nothing: no step for it
        if kv + len(feed) > window:
            evaluator.slide(0, kv - keep, kv)
            kv = keep
        logits = evaluator.step([0] * len(feed), feed, list(range(kv, kv + len(feed)))).astype(np.float64)
        kv += len(feed)
        targets = np.asarray(tokens[start : start + len(feed)])
        top = logits.max(axis=1, keepdims=True)
        log_z = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
        costs[start : start + len(feed)] = (log_z - logits[np.arange(len(feed)), targets]) / np.log(2)
    return costs


@dataclass
class Explanation:
    """A text as the model saw it: its tokens, their bytes, and what each cost."""

    name: str
    data: bytes
    tokens: list[int]
    pieces: list[bytes]
    """The bytes of each token; joined, they are ``data`` when the tokenizer round-trips."""
    bits: np.ndarray
    window: int
    keep: int
    model: str = ""
    predictors: list[str] | None = None
    """Which predictor won each token, once there is more than one; None: the language model alone."""
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not len(self.tokens) == len(self.pieces) == len(self.bits):
            raise ValueError("tokens, pieces and bits must have one entry per token")
        if self.predictors is not None and len(self.predictors) != len(self.tokens):
            raise ValueError("predictors must have one entry per token")

    @property
    def total_bits(self) -> float:
        return float(self.bits.sum())

    @property
    def bits_per_byte(self) -> float:
        return self.total_bits / len(self.data) if self.data else 0.0

    @property
    def bits_per_token(self) -> float:
        return self.total_bits / len(self.tokens) if self.tokens else 0.0

    def top_share(self, fraction: float = 0.10) -> float:
        """The share of all bits spent on the costliest ``fraction`` of tokens (at least one token)."""
        if not self.tokens or self.total_bits <= 0:
            return 0.0
        n = max(1, int(round(fraction * len(self.tokens))))
        return float(np.sort(self.bits)[::-1][:n].sum()) / self.total_bits

    def costliest(self, n: int = 20) -> list[int]:
        """Indices of the ``n`` costliest tokens, costliest first (earlier first among equals)."""
        order = np.argsort(-self.bits, kind="stable")
        return [int(i) for i in order[:n]]

    def by_predictor(self) -> dict[str, tuple[int, float]]:
        """Tokens and bits per predictor; empty when there is only the language model."""
        if self.predictors is None:
            return {}
        totals: dict[str, tuple[int, float]] = {}
        for name, bits in zip(self.predictors, self.bits):
            count, total = totals.get(name, (0, 0.0))
            totals[name] = (count + 1, total + float(bits))
        return totals


def explain(
    data: bytes,
    *,
    name: str = "",
    model: str | None = None,
    window: int,
    threads: int | None = None,
) -> Explanation:
    """Run the model over ``data`` as one sequence (keep = window * 3 // 4, as coding does)."""
    from .. import api  # the engine cache: one model load per process

    engine = api.engine(model, threads)
    lm = engine.model
    keep = window * 3 // 4
    tokens = lm.tokenize(data)
    pieces = [lm.pieces[t] for t in tokens]
    notes = []
    if b"".join(pieces) != data:
        notes.append("the tokenizer does not reproduce these bytes exactly (the coder sends such chunks to zstd); the text shown is the tokens' own bytes")
    bits = token_bits(lm, tokens, window, keep, threads) if tokens else np.zeros(0)
    return Explanation(name, data, tokens, pieces, bits, window, keep, f"{engine.path.name} [{engine.fingerprint.hex()}]", notes=notes)
