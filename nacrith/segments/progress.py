"""How coding reports its progress to a caller (the CLI's bar, the benchmark's counters)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..container import METHOD_NEURAL_CRLF
from .plan import input_bytes

if TYPE_CHECKING:
    from ..models.llm import LanguageModel

__all__ = ["Progress", "LaneReport"]

Progress = Callable[[int, int, float], None]
"""Called as work completes with (input bytes done, tokens coded, their ideal cost in bits)."""


class LaneReport:
    """Turns a group's per-step lane reports into :data:`Progress` calls in input bytes."""

    def __init__(self, progress: Progress, model: LanguageModel, methods: list[int]) -> None:
        """``methods``: each lane's chunk method (a neural-crlf lane's input has a CR per LF)."""
        self._progress = progress
        self._model = model
        self._crlf = [m == METHOD_NEURAL_CRLF for m in methods]

    def __call__(self, lanes: list[int], tokens: list[int], bits: float) -> None:
        crlf = [t for lane, t in zip(lanes, tokens) if self._crlf[lane]]
        self._progress(input_bytes(self._model, tokens, crlf), len(tokens), bits)
