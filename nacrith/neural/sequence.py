"""The model alone on one sequence: logits in sliding blocks, and what each token costs.

One sequence in lane 0, the start token first, evaluated ``window - keep`` tokens at a
time (:func:`~.schedule.sequence_blocks`), so every token sees a context of ``keep`` to
``window`` tokens as in coding, at a fraction of the calls. The benchmark's ideal code
length (:func:`nacrith.bench.model_limits.ideal_bits`) and ``nacrith explain``
(:mod:`nacrith.explain`) both read the model this way, so their numbers agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import numpy as np

from .schedule import sequence_blocks

if TYPE_CHECKING:  # typing only: importing this module does not load llama.cpp
    from ..models.llm import LanguageModel

__all__ = ["logit_blocks", "token_bits"]


def logit_blocks(model: LanguageModel, tokens: list[int], window: int, keep: int, threads: int | None) -> Iterator[tuple[int, np.ndarray]]:
    """(index of the first token predicted, float32 logits of the block), block after block, in order."""
    evaluator = model.evaluator(1, window, threads, max_batch=window - keep)
    evaluator.reset()
    fed = [model.start_token, *tokens]  # token i is predicted from the ones before it; the last predicts nothing
    for block in sequence_blocks(evaluator, len(tokens), window, keep):
        n = len(block.positions)
        yield block.start, np.array(evaluator.step([0] * n, fed[block.start : block.start + n], list(block.positions)))


def token_bits(model: LanguageModel, tokens: list[int], window: int, keep: int, threads: int | None = None) -> np.ndarray:
    """-log2 p(token | context) for every token, float64 softmax: what an ideal coder would pay for each."""
    costs = np.empty(len(tokens), dtype=np.float64)
    for start, block in logit_blocks(model, tokens, window, keep, threads):
        logits = block.astype(np.float64)
        n = len(logits)
        targets = np.asarray(tokens[start : start + n])
        top = logits.max(axis=1, keepdims=True)
        log_z = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
        costs[start : start + n] = (log_z - logits[np.arange(n), targets]) / np.log(2)
    return costs
