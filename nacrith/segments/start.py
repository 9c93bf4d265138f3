"""How a segment's neural coding starts: each lane's prefix and the segment's ensemble, bare or from a dictionary.

Encoder and decoder both ask here, so they cannot start differently: without a dictionary every
lane starts from the start token and the ensemble from empty tables; with one, every lane from
the start token and the dictionary's primer, and the ensemble from the dictionary's state
(FORMAT.md, "Dictionaries").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..container import CodingParams
from ..engine import Engine
from ..memory import context_tokens
from ..neural.ensemble import Ensemble
from ..neural.schedule import Prefix

if TYPE_CHECKING:
    from ..dictionary import Dictionary
    from ..models.llm import LaneEvaluator

__all__ = ["lane_prefix", "new_ensemble", "group_evaluator"]


def lane_prefix(params: CodingParams, dictionary: Dictionary | None) -> Prefix:
    """What every lane of the segment starts from."""
    return dictionary.prefix(params.start_token) if dictionary is not None else Prefix.bare(params.start_token)


def new_ensemble(params: CodingParams, vocab_size: int, dictionary: Dictionary | None) -> Ensemble | None:
    """The segment's ensemble (None when the archive has none)."""
    if params.ensemble is None:
        return None
    if dictionary is not None:
        return dictionary.new_ensemble(params.ensemble, params.precision_bits)
    return Ensemble(params.ensemble, vocab_size, params.precision_bits)


def group_evaluator(engine: Engine, lanes: int, params: CodingParams, prefix: Prefix, longest: int) -> LaneEvaluator:
    """The evaluator for a group of ``lanes`` lanes whose longest chunk has ``longest`` bytes: the engine's,
    primed with ``prefix`` when it has a primer, each lane's context holding what the lane can use (the
    primer's tokens and the chunk's, up to the window), the same on both sides (FORMAT.md, "Evaluation context");
    learning as it codes when the archive adapts (torch only)."""
    context = context_tokens(params.window, prefix.cached + longest)
    extra = {"adapt": params.adapt} if params.adapt is not None else {}  # the torch backend's dynamic evaluation
    if prefix.cached:
        return engine.evaluator(lanes, context, prefix, **extra)
    return engine.evaluator(lanes, context, **extra)
