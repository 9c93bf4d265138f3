"""The ensemble: the LLM's logits in, integer frequencies out, with what the file itself teaches.

Per lockstep step, for each lane: the LLM's logits, corrected by the bias head, become
integer weights (the CDF contract's exact exp table, :func:`~nacrith.coder.cdf.exp_weights`);
the n-gram orders and the match model add their sparse predictions; the mixer weighs
them all; the mixture becomes frequencies summing to ``2**precision``, every token at
least 1. After the step every model learns the tokens coded in it, lane by lane in lane
order. Encoder and decoder know all of those tokens before the next step, so their
models evolve identically, and lanes learn from each other.

Exact everywhere: integer weights and sums, and IEEE-754 +, -, *, / in a fixed order.
No ``exp`` or ``log`` of the machine is used, so an archive decodes on any CPU that
computes the same logits (FORMAT.md, "Ensemble").

A segment's ensemble starts empty, or from a dictionary's state (:meth:`Ensemble.load_start`):
a bias vector and mixer weights as the dictionary stores them, and n-gram and match tables
made by replaying the dictionary's token sequences. From there it learns as always.
"""

from __future__ import annotations

import math
from typing import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..coder.cdf import exp_weights
from ..models.bias import BiasHead
from ..models.match import MatchModel
from ..models.mixer import Mixer
from ..models.ngram import NgramModel
from .params import RATE_BITS, EnsembleParams

__all__ = ["Ensemble", "Learned"]

_CONFIDENCE_EDGES = (0.3, 0.6, 0.9)
"""Buckets of the LLM's top probability, a part of the mixing context."""

_MATCH_EDGES = (1, 8, 16, 32)
"""Match-length buckets of the mixing context (0 = no match)."""


class Ensemble:
    """The models of one frame; fed every lockstep step, in order, by encoder and decoder alike."""

    def __init__(
        self,
        params: EnsembleParams,
        vocab_size: int,
        precision_bits: int,
        *,
        mixing_contexts: bool = True,
        learn_mixer: bool = True,
        learn_tables: bool = True,
    ) -> None:
        """``mixing_contexts``, ``learn_mixer`` and ``learn_tables`` off are variants no archive can hold:
        the mixer with one weight set, or with its initial weights for good; the n-gram counts and the
        bias as they started (a dictionary's, "fixed"). They exist to measure what each is worth."""
        self.params = params
        self.mixing_contexts = mixing_contexts
        self.learn_mixer = learn_mixer
        self.learn_tables = learn_tables
        self.total = 1 << precision_bits
        self.spare = self.total - vocab_size
        p = params
        self.bias = BiasHead(vocab_size, p.bias_rate / (1 << RATE_BITS), p.bias_limit / (1 << RATE_BITS)) if p.bias_rate else None
        self.ngram = NgramModel(p.ngram_orders, p.ngram_table_bits, p.ngram_count_limit) if p.ngram_orders else None
        self.match = MatchModel(p.match_min_length, p.match_table_bits, p.history_bits) if p.match_min_length else None
        self._match_input = 1 + p.ngram_orders
        inputs = self._match_input + (1 if self.match else 0)
        contexts = (len(_CONFIDENCE_EDGES) + 1) * (2 * p.ngram_orders + 1) * (len(_MATCH_EDGES) + 1)
        rate, first = p.mixer_rate / (1 << RATE_BITS), p.mixer_first_weight / (1 << RATE_BITS)
        self.mixer = Mixer(inputs, contexts, rate, first) if inputs > 1 else None
        self._history: list[list[int]] = []
        self._pending: list[_Row] = []
        self._weights: np.ndarray | None = None
        self._totals: np.ndarray | None = None

    def load_start(self, bias: np.ndarray | None, mixer: Sequence[Sequence[float]] | None, sequences: Sequence[Sequence[int]]) -> None:
        """Start from a dictionary's state instead of empty tables (FORMAT.md, "Dictionary state"): its
        bias vector and mixer weights as given, and the n-gram and match tables of its token sequences,
        each replayed in order as a group of one lane whose region is its token count."""
        if (bias is None) != (self.bias is None) or (mixer is None) != (self.mixer is None):
            raise ValueError("a start state for other ensemble parameters")
        if bias is not None and self.bias is not None:
            if bias.shape != self.bias.bias.shape:
                raise ValueError(f"a bias of {bias.size} tokens for a vocabulary of {self.bias.bias.size}")
            self.bias.bias = np.array(bias, dtype=np.float64)
        if mixer is not None and self.mixer is not None:
            if len(mixer) != len(self.mixer.weights) or any(len(row) != len(self.mixer.weights[0]) for row in mixer):
                raise ValueError("mixer weights of another shape")
            self.mixer.weights = [[float(w) for w in row] for row in mixer]
        for sequence in sequences:
            history: list[int] = []
            if self.match:
                self.match.begin_group([len(sequence)])
            for token in sequence:
                if self.ngram:
                    self.ngram.update(history, token)
                if self.match:
                    self.match.update(0, history, token)
                history.append(token)

    def learned(self) -> "Learned":
        """What this ensemble has learned, compactly: a dictionary's start state is replayed once, then
        each segment's new ensemble takes it with :meth:`take` (faster than copying whole tables)."""
        return Learned(
            self.bias.bias.copy() if self.bias else None,
            [list(row) for row in self.mixer.weights] if self.mixer else None,
            self.ngram.used_slots() if self.ngram else None,
            self.match.used_cells() if self.match else None,
        )

    def take(self, learned: "Learned") -> None:
        """Start from ``learned`` (of an ensemble of the same parameters and vocabulary), before any group."""
        if self.bias and learned.bias is not None:
            self.bias.bias = learned.bias.copy()
        if self.mixer and learned.mixer is not None:
            self.mixer.weights = [list(row) for row in learned.mixer]
        if self.ngram and learned.ngram is not None:
            self.ngram.fill(learned.ngram)
        if self.match and learned.match is not None:
            self.match.fill(learned.match)

    def begin_group(self, counts: list[int]) -> None:
        """A new group: its lanes start from empty contexts (each is a chunk of its own)."""
        self._history = [[] for _ in counts]
        if self.match:
            self.match.begin_group(list(counts))

    def frequencies(self, lanes: list[int], logits: np.ndarray) -> np.ndarray:
        """Integer frequencies, shape (len(lanes), V), each row summing to ``2**precision``, all >= 1."""
        if not np.all(np.isfinite(logits)):
            raise ValueError("logits contain NaN or infinity")
        z = self.bias.apply(logits) if self.bias else np.asarray(logits, dtype=np.float32).astype(np.float64)
        weights, top = exp_weights(z)
        totals = weights.sum(axis=1)
        rows = []
        if self.mixer:
            # the top token's weight is 2**32: its probability is 2**32 / total
            confidence = [_bucket((1 << 32) / int(t), _CONFIDENCE_EDGES) for t in totals]
            rows = [self._inputs(lane, c) for lane, c in zip(lanes, confidence)]
        self._weights, self._totals, self._pending = weights, totals, rows
        if not rows:
            freq = weights * self.spare // totals[:, None] + 1
        else:
            for i, row in enumerate(rows):
                row.mix_linearly(self.mixer, int(totals[i]), self.spare)
            scale = np.array([row.llm_scale for row in rows])
            freq = np.floor(weights * scale[:, None]).astype(np.int64) + 1
            for i, row in enumerate(rows):
                for token, extra in row.sparse.items():
                    freq[i, token] = 1 + math.floor(int(weights[i, token]) * row.llm_scale + extra * self.spare)
            top = np.argmax(freq, axis=1)
        freq[np.arange(len(freq)), top] += self.total - freq.sum(axis=1)
        return freq

    def _inputs(self, lane: int, confidence: int) -> "_Row":
        """What the n-gram orders and the match model say for ``lane``, and the mixing context."""
        history = self._history[lane]
        inputs: list[tuple[int, dict[int, float]]] = []
        highest, certain = 0, 0
        if self.ngram:
            for order, (followers, counts) in enumerate(self.ngram.predict(history), start=1):
                if followers:
                    seen = sum(counts)
                    inputs.append((order, {t: c / seen for t, c in zip(followers, counts)}))
                    highest, certain = order, int(len(followers) == 1)
        length = 0
        if self.match:
            token, length = self.match.predict(lane)
            if token >= 0:
                inputs.append((self._match_input, {token: 1.0}))
        orders = 2 * self.params.ngram_orders + 1
        context = (confidence * orders + (2 * highest - certain if highest else 0)) * (len(_MATCH_EDGES) + 1)
        context += _bucket(length, _MATCH_EDGES)
        if not self.mixing_contexts:
            context = 0
        return _Row(context, [0] + [k for k, _ in inputs], [p for _, p in inputs])

    def winners(self, tokens: list[int]) -> list[str]:
        """For each row of the last :meth:`frequencies`, the input that gave its token (``tokens[i]``)
        the highest probability: ``"LLM"``, ``"n-gram order n"`` or ``"match"``. For explaining, not coding."""
        weights, totals = self._weights, self._totals
        assert weights is not None and totals is not None, "winners() without frequencies()"
        out = []
        for i, token in enumerate(tokens):
            best, name = int(weights[i, token]) / int(totals[i]), "LLM"
            row = self._pending[i] if self._pending else None
            for k, probabilities in zip(row.available[1:], row.inputs) if row else ():
                p = probabilities.get(token, 0.0)
                if p > best:
                    best, name = p, "match" if k == self._match_input else f"n-gram order {k}"
            out.append(name)
        return out

    def update(self, lanes: list[int], tokens: list[int]) -> None:
        """Learn the tokens just coded: ``tokens[i]`` in ``lanes[i]``, with the frequencies of the last call."""
        weights, totals = self._weights, self._totals
        assert weights is not None and totals is not None, "update() without frequencies()"
        for i, (lane, token) in enumerate(zip(lanes, tokens)):
            history = self._history[lane]
            if self._pending:
                self._learn(self._pending[i], int(weights[i, token]), token)
            if self.ngram and self.learn_tables:
                self.ngram.update(history, token)
            if self.match:
                self.match.update(lane, history, token)
            history.append(token)
        if self.bias and self.learn_tables:
            self.bias.update(weights, totals, tokens)
        self._weights = self._totals = None

    def _learn(self, row: "_Row", weight: int, token: int) -> None:
        if len(row.available) == 1 or not self.learn_mixer:
            return  # the LLM alone: nothing to weigh
        probabilities = [weight / row.total] + [p.get(token, 0.0) for p in row.inputs]
        mixed = 0.0
        for share, p in zip(row.shares, probabilities):
            mixed += share * p
        # A token no input saw still had frequency 1: never divide by less than that.
        self.mixer.update(row.context, row.available, probabilities, max(mixed, 1.0 / self.total))


@dataclass(frozen=True)
class Learned:
    """An ensemble's learned state (:meth:`Ensemble.learned`), ready to be given to new ensembles."""

    bias: np.ndarray | None
    mixer: list[list[float]] | None
    ngram: tuple | None
    match: tuple | None


@dataclass
class _Row:
    """One lane's predictors in one step, kept until the step's tokens are known."""

    context: int
    available: list[int]
    """Inputs that have something to say, the LLM (0) first."""
    inputs: list[dict[int, float]]
    """Token -> probability of each available input after the LLM."""
    shares: list[float] = field(default_factory=list)
    llm_scale: float = 0.0
    sparse: dict[int, float] = field(default_factory=dict)
    total: int = 0

    def mix_linearly(self, mixer: Mixer, total: int, spare: int) -> None:
        """The linear mixture's weights, and the sparse inputs' summed share of each named token."""
        self.total = total
        self.shares = mixer.mix(self.context, self.available)
        self.llm_scale = self.shares[0] * spare / total
        for share, probabilities in zip(self.shares[1:], self.inputs):
            for token, p in probabilities.items():
                self.sparse[token] = self.sparse.get(token, 0.0) + share * p


def _bucket(value: float, edges: tuple[float, ...]) -> int:
    for i, edge in enumerate(edges):
        if value < edge:
            return i
    return len(edges)
