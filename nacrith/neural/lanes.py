"""The neural group codec: a group's token sequences coded side by side, one arithmetic code per lane.

Lane ``i`` is the group's ``i``-th neural chunk. The model steps every unfinished lane at
once (:func:`~.schedule.lockstep_steps`), and each lane's next token is coded with the
frequencies of its row: the plain quantization of the logits, or the ensemble's mixture.
A lane leaves the batch after its last token. The encoder knows each lane's tokens; the
decoder stops a lane when its tokens' bytes reach the chunk's length (version 2), or after
the chunk's token count (version 1), in time for the next step: both play the same batches.
Every lane starts from the group's :class:`~.schedule.Prefix`: the start token alone, or the
start token and a dictionary's primer, already in the predictor's cache after ``reset()``.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from ..coder.arithmetic import ArithmeticDecoder, ArithmeticEncoder
from ..coder.cdf import quantize
from ..container import CodingParams
from ..errors import CorruptArchiveError, NacrithError
from .ensemble import Ensemble
from .schedule import Predictor, Prefix, Step, counted, lockstep_steps

__all__ = ["LaneProgress", "LaneLengths", "LaneFailed", "encode_group", "decode_group", "step_frequencies"]

LaneProgress = Callable[[list[int], list[int], float], None]
"""Called after each step with (its lanes, the tokens coded in them, their ideal cost in bits)."""


def step_frequencies(step: Step, logits: np.ndarray, precision_bits: int, ensemble: Ensemble | None) -> np.ndarray:
    """One frequency table per stepping lane: the ensemble's, else the plain quantization of the logits."""
    try:
        return ensemble.frequencies(step.lanes, logits) if ensemble else quantize(logits, precision_bits)
    except ValueError as exc:  # NaN or infinite logits: a broken model or build, not a caller's mistake
        raise NacrithError(f"the model returned unusable logits: {exc}") from None


class LaneFailed(CorruptArchiveError):
    """A lane's payload does not hold what its chunk says: damage, or another build's logits (the caller tells)."""

    def __init__(self, lane: int, reason: str) -> None:
        super().__init__(f"lane {lane}: {reason}")
        self.lane = lane
        self.reason = reason


class LaneLengths:
    """When a decoded lane is complete: its tokens' bytes reach its chunk's length.

    ``crlf[i]``: lane ``i`` is a neural-crlf chunk, whose length counts a CR before every LF of its tokens.
    """

    def __init__(self, lengths: Sequence[int], crlf: Sequence[bool], piece_lengths: np.ndarray, piece_newlines: np.ndarray) -> None:
        self.lengths = list(lengths)
        self._crlf = list(crlf)
        self._pieces = piece_lengths
        self._newlines = piece_newlines
        self.done = [0] * len(self.lengths)

    def more(self, lane: int, index: int) -> bool:
        return self.done[lane] < self.lengths[lane]

    def add(self, lane: int, token: int) -> None:
        size = int(self._pieces[token]) + (int(self._newlines[token]) if self._crlf[lane] else 0)
        self.done[lane] += size
        if size == 0:
            raise LaneFailed(lane, f"decodes token {token}, which stands for no bytes")
        if self.done[lane] > self.lengths[lane]:
            raise LaneFailed(lane, f"decodes a token of {size} bytes past its {self.lengths[lane]} bytes")


def encode_group(
    predictor: Predictor,
    tokens: Sequence[Sequence[int]],
    params: CodingParams,
    *,
    regions: Sequence[int] | None = None,
    ensemble: Ensemble | None = None,
    progress: LaneProgress | None = None,
    prefix: Prefix | None = None,
) -> list[bytes]:
    """One arithmetic-coded payload per lane. ``ensemble`` (if any) learns from every token coded;
    ``regions``: what each lane reserves in its memory (default: its token count; version 2: the chunk's length);
    ``prefix``: what every lane starts from (default: the start token alone), which ``predictor.reset()`` restores."""
    if any(len(t) == 0 for t in tokens):
        raise ValueError("every lane needs at least one token")
    counts = [len(t) for t in tokens]
    prefix = prefix or Prefix.bare(params.start_token)
    predictor.reset()
    if ensemble:
        ensemble.begin_group(list(regions or counts))
    encoders = [ArithmeticEncoder() for _ in tokens]
    precision_bits = params.precision_bits
    total = 1 << precision_bits
    for step in lockstep_steps(predictor, len(tokens), counted(counts), params.window, params.slide_keep, cached=prefix.cached):
        logits = predictor.step(step.lanes, step.fed(tokens, prefix.first), step.positions)
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
    ends: Sequence[int] | LaneLengths,
    params: CodingParams,
    *,
    regions: Sequence[int] | None = None,
    ensemble: Ensemble | None = None,
    progress: LaneProgress | None = None,
    prefix: Prefix | None = None,
) -> list[list[int]]:
    """The lanes' token sequences, from ``payloads``; ``ensemble``, ``regions`` and ``prefix`` as the encoder's were.

    ``ends``: each lane's token count (version 1), or :class:`LaneLengths` (version 2: decode until
    the bytes reach each chunk's length; the payloads must then be exactly as long as their code).
    """
    lengths = ends if isinstance(ends, LaneLengths) else None
    more = lengths.more if lengths else counted(list(ends))  # type: ignore[arg-type]
    prefix = prefix or Prefix.bare(params.start_token)
    predictor.reset()
    if ensemble:
        ensemble.begin_group(list(regions or (lengths.lengths if lengths else ends)))  # type: ignore[union-attr, arg-type]
    decoders = [ArithmeticDecoder(p, strict=lengths is not None) for p in payloads]
    tokens: list[list[int]] = [[] for _ in payloads]
    precision_bits = params.precision_bits
    total = 1 << precision_bits
    for step in lockstep_steps(predictor, len(payloads), more, params.window, params.slide_keep, cached=prefix.cached):
        logits = predictor.step(step.lanes, step.fed(tokens, prefix.first), step.positions)
        cumulative = np.cumsum(step_frequencies(step, logits, precision_bits, ensemble), axis=1)
        coded = []
        bits = 0.0
        for row, lane in enumerate(step.lanes):
            decoder = decoders[lane]
            symbol = int(np.searchsorted(cumulative[row], decoder.target(total), side="right"))
            high = int(cumulative[row, symbol])
            low = int(cumulative[row, symbol - 1]) if symbol else 0
            decoder.consume(low, high - low, total)
            if decoder.overrun:
                raise LaneFailed(lane, f"its payload of {len(payloads[lane])} bytes ends before its tokens")
            if lengths:
                lengths.add(lane, symbol)
            tokens[lane].append(symbol)
            coded.append(symbol)
            bits += precision_bits - math.log2(high - low)
        if ensemble:
            ensemble.update(step.lanes, coded)
        if progress:
            progress(step.lanes, coded, bits)
    for lane, decoder in enumerate(decoders):
        if not decoder.exact_end:
            raise LaneFailed(lane, f"its payload of {len(payloads[lane])} bytes is longer than its code")
    return tokens
