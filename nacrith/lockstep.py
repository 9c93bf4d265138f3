"""Coding a group of token sequences side by side: the model steps every lane at once.

Lane ``i`` is the group's ``i``-th neural chunk. Each step feeds every unfinished lane
its previous token (the start token first), in lane order, and codes each lane's next
token with the distribution the model returned for it. A lane leaves the batch after
its last token. When a lane's cache holds ``window`` tokens it slides: the oldest
``window - slide_keep`` after the start token are dropped and the rest shifted down, in
place; the start token stays (it is the model's attention sink).

All of that is a function of the token counts alone, which the chunk table stores,
so the decoder builds exactly the batches the encoder built (llama.cpp's logits depend
on the batch shape). That is the whole design; :func:`_schedule` is the one place it lives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Protocol, Sequence

import numpy as np

from .coder.arithmetic import ArithmeticDecoder, ArithmeticEncoder
from .coder.cdf import quantize
from .errors import NacrithError

if TYPE_CHECKING:
    from .ensemble import Ensemble

__all__ = ["Predictor", "LaneSettings", "encode_lanes", "decode_lanes"]

ProgressCallback = Callable[[list[int], list[int], float], None]
"""Called after each step with (its lanes, the tokens coded in them, their ideal cost in bits)."""


class Predictor(Protocol):
    """What the lockstep driver needs of a model; :class:`~nacrith.models.llm.LaneEvaluator` is one."""

    def reset(self) -> None: ...

    def slide(self, lane: int, drop: int, length: int) -> None:
        """Forget the ``drop`` tokens after the start token of ``lane``'s ``length`` cached ones; shift the rest down."""

    def step(self, lanes: list[int], tokens: list[int], positions: list[int]) -> np.ndarray: ...


@dataclass(frozen=True)
class LaneSettings:
    precision_bits: int
    window: int
    slide_keep: int
    start_token: int


@dataclass
class _Step:
    lanes: list[int]
    """Lanes in this batch, in order."""
    index: list[int]
    """For each lane, the index of the token this step predicts."""
    positions: list[int]


def _schedule(counts: Sequence[int], settings: LaneSettings, predictor: Predictor) -> Iterator[_Step]:
    """The batches of a group with these token counts, sliding windows as it goes."""
    kv_length = [0] * len(counts)
    step = 0
    longest = max(counts, default=0)
    while step < longest:
        lanes = [lane for lane, count in enumerate(counts) if step < count]
        for lane in lanes:
            if kv_length[lane] == settings.window:
                drop = settings.window - settings.slide_keep
                predictor.slide(lane, drop, settings.window)
                kv_length[lane] = settings.slide_keep
        positions = [kv_length[lane] for lane in lanes]
        for lane in lanes:
            kv_length[lane] += 1
        yield _Step(lanes, [step] * len(lanes), positions)
        step += 1


def _frequencies(step: _Step, logits: np.ndarray, precision_bits: int, ensemble: "Ensemble | None") -> np.ndarray:
    try:
        return ensemble.frequencies(step.lanes, logits) if ensemble else quantize(logits, precision_bits)
    except ValueError as exc:  # NaN or infinite logits: a broken model or build, not a caller's mistake
        raise NacrithError(f"the model returned unusable logits: {exc}") from None


def _feed(step: _Step, tokens: Sequence[Sequence[int]], start_token: int) -> list[int]:
    return [tokens[lane][i - 1] if i else start_token for lane, i in zip(step.lanes, step.index)]


def encode_lanes(
    predictor: Predictor,
    tokens: Sequence[Sequence[int]],
    settings: LaneSettings,
    progress: ProgressCallback | None = None,
    ensemble: "Ensemble | None" = None,
) -> list[bytes]:
    """One arithmetic-coded payload per lane. ``ensemble`` (if any) learns from every token coded."""
    if any(len(t) == 0 for t in tokens):
        raise ValueError("every lane needs at least one token")
    predictor.reset()
    if ensemble:
        ensemble.begin_group([len(t) for t in tokens])
    encoders = [ArithmeticEncoder() for _ in tokens]
    total = 1 << settings.precision_bits
    for step in _schedule([len(t) for t in tokens], settings, predictor):
        logits = predictor.step(step.lanes, _feed(step, tokens, settings.start_token), step.positions)
        freq = _frequencies(step, logits, settings.precision_bits, ensemble)
        bits = 0.0
        coded = []
        for row, (lane, i) in enumerate(zip(step.lanes, step.index)):
            symbol = tokens[lane][i]
            coded.append(symbol)
            f = int(freq[row, symbol])
            encoders[lane].encode(int(freq[row, :symbol].sum()), f, total)
            bits += settings.precision_bits - math.log2(f)
        if ensemble:
            ensemble.update(step.lanes, coded)
        if progress:
            progress(step.lanes, coded, bits)
    return [e.finish() for e in encoders]


def decode_lanes(
    predictor: Predictor,
    payloads: Sequence[bytes],
    counts: Sequence[int],
    settings: LaneSettings,
    progress: ProgressCallback | None = None,
    ensemble: "Ensemble | None" = None,
) -> list[list[int]]:
    """The token sequences, ``counts[i]`` tokens from ``payloads[i]``; ``ensemble`` as the encoder's was."""
    predictor.reset()
    if ensemble:
        ensemble.begin_group(list(counts))
    decoders = [ArithmeticDecoder(p) for p in payloads]
    tokens: list[list[int]] = [[] for _ in payloads]
    total = 1 << settings.precision_bits
    for step in _schedule(counts, settings, predictor):
        logits = predictor.step(step.lanes, _feed(step, tokens, settings.start_token), step.positions)
        cumulative = np.cumsum(_frequencies(step, logits, settings.precision_bits, ensemble), axis=1)
        bits = 0.0
        coded = []
        for row, lane in enumerate(step.lanes):
            decoder = decoders[lane]
            target = decoder.target(total)
            symbol = int(np.searchsorted(cumulative[row], target, side="right"))
            high = int(cumulative[row, symbol])
            low = int(cumulative[row, symbol - 1]) if symbol else 0
            decoder.consume(low, high - low, total)
            tokens[lane].append(symbol)
            coded.append(symbol)
            bits += settings.precision_bits - math.log2(high - low)
        if ensemble:
            ensemble.update(step.lanes, coded)
        if progress:
            progress(step.lanes, coded, bits)
    return tokens
