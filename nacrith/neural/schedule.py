"""The batch schedule: which lanes step, at which positions, and when a lane's window slides.

llama.cpp's logits depend on the shape of the batch they were computed in, so the decoder
must evaluate exactly the batches the encoder did. Everything here is a pure function of
the token counts and the window settings, which the archive stores; the coder
(:mod:`.lanes`), the benchmark's replays and the measurements of the model alone all play
these schedules, so the slide rule lives in this one place (FORMAT.md, "Lockstep schedule"
and "Slides").

A slide drops the ``window - keep`` tokens after the start token and shifts the rest down:
the start token stays at position 0, since it is the model's attention sink. With a
dictionary, every lane's cache starts with the :class:`Prefix` (the start token, then the
dictionary's primer), and the primer is older context like any other: slides drop it first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Protocol, Sequence

import numpy as np

__all__ = ["Predictor", "Prefix", "Step", "Block", "default_slide_keep", "lockstep_steps", "counted", "sequence_blocks"]


def default_slide_keep(window: int) -> int:
    """Tokens a lane keeps when its window slides: three quarters of it, so the cost of a slide
    (a shift of the cached keys) is paid once every quarter window, not every token."""
    return window * 3 // 4


@dataclass(frozen=True)
class Prefix:
    """What every lane of a group sees before its chunk's first token: the start token, then a dictionary's
    primer tokens, if any (FORMAT.md, "Dictionaries").

    When a group starts, each lane's cache already holds all of them but the last, at positions 0 to
    ``cached - 1``; the last is what the lane is fed at step 0, at position ``cached``. Without a
    primer that is today's start: an empty cache, and the start token fed at position 0.
    """

    tokens: tuple[int, ...]

    @classmethod
    def bare(cls, start_token: int) -> "Prefix":
        return cls((start_token,))

    @property
    def cached(self) -> int:
        """Tokens in every lane's cache when the group starts."""
        return len(self.tokens) - 1

    @property
    def first(self) -> int:
        """The token every lane is fed at step 0."""
        return self.tokens[-1]


class Predictor(Protocol):
    """What a schedule is played on; :class:`~nacrith.models.llm.LaneEvaluator` is one."""

    def reset(self) -> None:
        """Forget every lane's context: back to an empty cache, or to its :class:`Prefix`'s cached tokens."""

    def slide(self, lane: int, drop: int, length: int) -> None:
        """Forget the ``drop`` tokens after the start token of ``lane``'s ``length`` cached ones; shift the rest down."""

    def step(self, lanes: list[int], tokens: list[int], positions: list[int]) -> np.ndarray:
        """Feed ``tokens[i]`` to ``lanes[i]`` at ``positions[i]``; the next-token logits, one row per lane."""


@dataclass(frozen=True)
class Step:
    """One lockstep evaluation: each of ``lanes`` is fed one token and predicts its token ``index``."""

    index: int
    lanes: list[int]
    """The lanes that step, in increasing order."""
    positions: list[int]

    def fed(self, tokens: Sequence[Sequence[int]], first: int) -> list[int]:
        """What each lane is fed: its previous token, or at step 0 ``first`` (the start token, or a
        :class:`Prefix`'s last token)."""
        return [tokens[lane][self.index - 1] if self.index else first for lane in self.lanes]


def lockstep_steps(
    predictor: Predictor, lanes: int, more: Callable[[int, int], bool], window: int, keep: int, *, cached: int = 0
) -> Iterator[Step]:
    """The steps of a group of ``lanes`` lanes, sliding ``predictor``'s windows as they fill.

    ``more(lane, index)``: whether ``lane`` codes a token at step ``index``. It is asked once per
    lane and step, only while the lane is still in the batch: a lane that says no has left for
    good. The encoder knows every lane's token count (:func:`counted`); a decoder finds out as it
    decodes, in time for the next step, so both play the same steps. ``cached``: tokens already
    in every lane's cache (0 for a group without a primer, a :class:`Prefix`'s ``cached`` with one;
measurements of a steady state start full). The caller
    evaluates each step before asking for the next.
    """
    if not 1 <= keep < window:
        raise ValueError(f"keep must be 1..window-1, got keep={keep}, window={window}")
    kv_length = [cached] * lanes
    active = list(range(lanes))
    index = 0
    while True:
        active = [lane for lane in active if more(lane, index)]
        if not active:
            return
        for lane in active:
            if kv_length[lane] == window:
                predictor.slide(lane, window - keep, window)
                kv_length[lane] = keep
        positions = [kv_length[lane] for lane in active]
        for lane in active:
            kv_length[lane] += 1
        yield Step(index, active, positions)
        index += 1


def counted(counts: Sequence[int]) -> Callable[[int, int], bool]:
    """``more`` for lanes of known token counts."""
    return lambda lane, index: index < counts[lane]


@dataclass(frozen=True)
class Block:
    """Tokens ``start`` to ``start + len(positions) - 1`` of one sequence, fed at once (the start token first)."""

    start: int
    positions: range


def sequence_blocks(predictor: Predictor, count: int, window: int, keep: int) -> Iterator[Block]:
    """One sequence of ``count`` tokens in lane 0, evaluated ``window - keep`` tokens at a time, with the
    slide rule of :func:`lockstep_steps`: every token sees a context of ``keep`` to ``window`` tokens,
    as in coding, at a fraction of the calls. For measuring the model alone (its ideal code length)."""
    if not 1 <= keep < window:
        raise ValueError(f"keep must be 1..window-1, got keep={keep}, window={window}")
    block = window - keep
    cached = 0
    for start in range(0, count, block):
        size = min(block, count - start)
        if cached + size > window:
            predictor.slide(0, cached - keep, cached)
            cached = keep
        yield Block(start, range(cached, cached + size))
        cached += size
