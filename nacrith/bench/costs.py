"""Where the bits go: what every token of a text costs, and a summary of it.

:func:`token_bits` evaluates exactly as :func:`.model_limits.ideal_bits` does (one
sequence, the same sliding window, blocks of ``window - keep`` tokens, float64 softmax),
but keeps each token's -log2 p instead of only their sum: so the sum equals the ideal
code length, and the costs are what an ideal coder would pay for each token.

:func:`ensemble_bits` feeds the same logits, token by token, to the ensemble coding uses
(:mod:`nacrith.neural.ensemble`), and says for each token which predictor gave it the highest
probability: the language model, an n-gram order or the match model. :func:`explain`
builds an :class:`Explanation` from either; the HTML page (:mod:`.explain_html`) shows it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

import numpy as np

from ..coder.cdf import quantize
from ..constants import PRECISION_BITS
from ..engine import shared_engine
from ..neural.ensemble import Ensemble
from ..neural.params import EnsembleParams
from ..neural.schedule import default_slide_keep, sequence_blocks

if TYPE_CHECKING:  # the page renders from an Explanation without loading llama.cpp
    from ..models.llm import LanguageModel

__all__ = ["token_bits", "Explanation", "explain"]


def _logit_blocks(model: LanguageModel, tokens: list[int], window: int, keep: int, threads: int | None) -> Iterator[tuple[int, np.ndarray]]:
    """(index of the first token predicted, float32 logits of the block): one sequence, the start token first,
    evaluated in the blocks of :func:`~nacrith.neural.schedule.sequence_blocks`, which slide as coding slides a lane."""
    evaluator = model.evaluator(1, window, threads, max_batch=window - keep)
    evaluator.reset()
    fed = [model.start_token, *tokens]  # token i is predicted from the ones before it; the last predicts nothing
    for block in sequence_blocks(evaluator, len(tokens), window, keep):
        n = len(block.positions)
        yield block.start, np.array(evaluator.step([0] * n, fed[block.start : block.start + n], list(block.positions)))


def token_bits(model: LanguageModel, tokens: list[int], window: int, keep: int, threads: int | None = None) -> np.ndarray:
    """-log2 p(token | context) for every token, float64: the start token first, then a window sliding by ``window - keep``."""
    costs = np.empty(len(tokens), dtype=np.float64)
    for start, block in _logit_blocks(model, tokens, window, keep, threads):
        logits = block.astype(np.float64)
        n = len(logits)
        targets = np.asarray(tokens[start : start + n])
        top = logits.max(axis=1, keepdims=True)
        log_z = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
        costs[start : start + n] = (log_z - logits[np.arange(n), targets]) / np.log(2)
    return costs


def ensemble_bits(
    model: LanguageModel, tokens: list[int], window: int, keep: int, params: EnsembleParams, threads: int | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """What the ensemble pays for every token of one sequence, what the model alone would, and which
    predictor won each token (gave it the highest probability). Costs are of the integer frequencies
    coded (:data:`~nacrith.constants.PRECISION_BITS`), the model alone's of the plain quantization."""
    ensemble = Ensemble(params, model.vocab_size, PRECISION_BITS)
    ensemble.begin_group([len(tokens)])
    mixed = np.empty(len(tokens), dtype=np.float64)
    alone = np.empty(len(tokens), dtype=np.float64)
    winners: list[str] = []
    for start, block in _logit_blocks(model, tokens, window, keep, threads):
        plain = quantize(block, PRECISION_BITS)
        for i, row in enumerate(block):
            token = tokens[start + i]
            freq = ensemble.frequencies([0], row[None, :])
            mixed[start + i] = PRECISION_BITS - math.log2(int(freq[0, token]))
            alone[start + i] = PRECISION_BITS - math.log2(int(plain[i, token]))
            winners += ensemble.winners([token])
            ensemble.update([0], [token])
    return mixed, alone, winners


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
    """Which predictor won each token, with an ensemble; None: the language model alone."""
    notes: list[str] = field(default_factory=list)
    model_bits: np.ndarray | None = None
    """With an ensemble: what the language model alone would pay for each token (its plain quantization)."""

    def __post_init__(self) -> None:
        if not len(self.tokens) == len(self.pieces) == len(self.bits):
            raise ValueError("tokens, pieces and bits must have one entry per token")
        if self.predictors is not None and len(self.predictors) != len(self.tokens):
            raise ValueError("predictors must have one entry per token")
        if self.model_bits is not None and len(self.model_bits) != len(self.tokens):
            raise ValueError("model_bits must have one entry per token")

    @property
    def total_bits(self) -> float:
        return float(self.bits.sum())

    @property
    def bits_per_byte(self) -> float:
        return self.total_bits / len(self.data) if self.data else 0.0

    @property
    def model_bits_per_byte(self) -> float | None:
        """With an ensemble, what the language model alone would pay per byte; else None."""
        if self.model_bits is None:
            return None
        return float(self.model_bits.sum()) / len(self.data) if self.data else 0.0

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
    ensemble: EnsembleParams | None = EnsembleParams(),
) -> Explanation:
    """Run the model over ``data`` as one sequence (sliding as coding does), with the
    ensemble coding uses unless ``ensemble`` is None (the model alone, float64 softmax)."""
    engine = shared_engine(model, threads)
    lm = engine.model
    keep = default_slide_keep(window)
    tokens = lm.tokenize(data)
    pieces = [lm.pieces[t] for t in tokens]
    notes = []
    if b"".join(pieces) != data:
        notes.append("the tokenizer does not reproduce these bytes exactly (the coder sends such chunks to zstd); the text shown is the tokens' own bytes")
    label = f"{engine.path.name} [{engine.fingerprint.hex()}]"
    if ensemble is None or not tokens:
        bits = token_bits(lm, tokens, window, keep, threads) if tokens else np.zeros(0)
        return Explanation(name, data, tokens, pieces, bits, window, keep, label, notes=notes)
    bits, alone, winners = ensemble_bits(lm, tokens, window, keep, ensemble, threads)
    return Explanation(name, data, tokens, pieces, bits, window, keep, label, winners, notes, model_bits=alone)
