"""The neural group codec: a group's token sequences coded side by side, one arithmetic code per lane.

Lane ``i`` is the group's ``i``-th neural chunk. The model steps every unfinished lane at
once (:func:`~.schedule.lockstep_steps`), and each lane's next token is coded with the
frequencies of its row: the plain quantization of the logits, or the ensemble's mixture.
A lane leaves the batch after its last token. The token counts, which the chunk table
stores, decide every batch, so the decoder evaluates exactly what the encoder did.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from ..coder.arithmetic import ArithmeticDecoder, ArithmeticEncoder
from ..coder.cdf import quantize
from ..container import CodingParams
from ..errors import NacrithError
from .ensemble import Ensemble
from .schedule import Predictor, Step, lockstep_steps

__all__ = ["LaneProgress", "encode_group", "decode_group", "step_frequencies"]

LaneProgress = Callable[[list[int], list[int], float], None]
"""Called after each step with (its lanes, the tokens coded in them, their ideal cost in bits)."""


def step_frequencies(step: Step, logits: np.ndarray, precision_bits: int, ensemble: Ensemble | None) -> np.ndarray:
    """One frequency table per stepping lane: the ensemble's, else the plain quantization of the logits."""
    try:
        return ensemble.frequencies(step.lanes, logits) if ensemble else quantize(logits, precision_bits)
    except ValueError as exc:  # NaN or infinite logits: a broken model or build, not a caller's mistake
        raise NacrithError(f"the model returned unusable logits: {exc}") from None


def encode_group(
    predictor: Predictor,
    tokens: Sequence[Sequence[int]],
    params: CodingParams,
    *,
    ensemble: Ensemble | None = None,
    progress: LaneProgress | None = None,
) -> list[bytes]:
    """One arithmetic-coded payload per lane. ``ensemble`` (if any) learns from every token coded."""
    if any(len(t) == 0 for t in tokens):
        raise ValueError("every lane needs at least one token")
    counts = [len(t) for t in tokens]
    predictor.reset()
    if ensemble:
        ensemble.begin_group(counts)
    encoders = [ArithmeticEncoder() for _ in tokens]
    precision_bits = params.precision_bits
    total = 1 << precision_bits
    for step in lockstep_steps(predictor, counts, params.window, params.slide_keep):
        logits = predictor.step(step.lanes, step.fed(tokens, params.start_token), step.positions)
        freq = step_frequencies(step, logits, precision_bits, ensemble)
        coded = [tokens[lane][step.index] for lane in step.lanes]
        bits = 0.0
        for row, (lane, symbol) in enumerate(zip(step.lanes, coded)):
            f = int(freq[row, symbol])
            encoders[lane].encode(int(freq[row, :symbol].sum()), f, total)
            bits += precision_bits - math.log2(f)
        if ensemble:
            ensemble.update(step.lanes, coded)
        if progress:
            progress(step.lanes, coded, bits)
    return [e.finish() for e in encoders]


def decode_group(
    predictor: Predictor,
    payloads: Sequence[bytes],
    counts: Sequence[int],
    params: CodingParams,
    *,
    ensemble: Ensemble | None = None,
    progress: LaneProgress | None = None,
) -> list[list[int]]:
    """The token sequences, ``counts[i]`` tokens from ``payloads[i]``; ``ensemble`` as the encoder's was."""
    predictor.reset()
    if ensemble:
        ensemble.begin_group(list(counts))
    decoders = [ArithmeticDecoder(p) for p in payloads]
    tokens: list[list[int]] = [[] for _ in payloads]
    precision_bits = params.precision_bits
    total = 1 << precision_bits
    for step in lockstep_steps(predictor, counts, params.window, params.slide_keep):
        logits = predictor.step(step.lanes, step.fed(tokens, params.start_token), step.positions)
        cumulative = np.cumsum(step_frequencies(step, logits, precision_bits, ensemble), axis=1)
        coded = []
        bits = 0.0
        for row, lane in enumerate(step.lanes):
            decoder = decoders[lane]
            symbol = int(np.searchsorted(cumulative[row], decoder.target(total), side="right"))
            high = int(cumulative[row, symbol])
            low = int(cumulative[row, symbol - 1]) if symbol else 0
            decoder.consume(low, high - low, total)
            tokens[lane].append(symbol)
            coded.append(symbol)
            bits += precision_bits - math.log2(high - low)
        if ensemble:
            ensemble.update(step.lanes, coded)
        if progress:
            progress(step.lanes, coded, bits)
    return tokens
