"""Where the bits go: what every token of a text costs, and a summary of it.

The model reads the text as :mod:`nacrith.neural.sequence` does (one sequence, the sliding
window coding uses), so with the model alone (:func:`~nacrith.neural.sequence.token_bits`)
the costs add up to the benchmark's ideal code length. :func:`ensemble_bits` feeds the same
logits, token by token, to the ensemble coding uses (:mod:`nacrith.neural.ensemble`), and
says for each token which predictor gave it the highest probability: the language model,
an n-gram order or the match model. :func:`explain` builds an :class:`Explanation` from
either; :mod:`.page` shows it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..coder.cdf import quantize
from ..constants import PRECISION_BITS
from ..engine import shared_engine
from ..neural.ensemble import Ensemble
from ..neural.params import EnsembleParams
from ..neural.schedule import default_slide_keep
from ..neural.sequence import logit_blocks, token_bits

if TYPE_CHECKING:  # the page renders from an Explanation without loading llama.cpp
    from ..models.llm import LanguageModel

__all__ = ["Explanation", "explain", "ensemble_bits"]


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
    for start, block in logit_blocks(model, tokens, window, keep, threads):
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
