"""What the model alone can do, to judge the pipeline against: its ideal bits and its raw speed.

* :func:`ideal_bits` is the model's cross-entropy on a text evaluated as one sequence with
  the same sliding window: the code length an ideal coder would reach with no chunking.
  Tokens are evaluated in blocks (fast) rather than one by one; the context each token sees
  ranges over ``[keep, window)`` as in coding.
* :func:`lockstep_ceiling` is llama.cpp evaluating ``lanes`` sequences in lockstep at a full
  window, with no CDF, coder or container: the speed the pipeline can at best approach.
"""

from __future__ import annotations

import time

from ..models.llm import LanguageModel
from ..neural.schedule import counted, lockstep_steps
from ..neural.sequence import token_bits

__all__ = ["ideal_bits", "lockstep_ceiling"]


def ideal_bits(model: LanguageModel, tokens: list[int], window: int, keep: int, threads: int | None = None) -> float:
    """Sum over tokens of -log2 p(token | context), float64 softmax, sliding window, start token first."""
    return float(token_bits(model, tokens, window, keep, threads).sum())


def lockstep_ceiling(
    model: LanguageModel, lanes: int, window: int, keep: int, steps: int = 256, threads: int | None = None
) -> float:
    """Tokens per second of bare lockstep steps (one token per lane) with every lane's context in [keep, window)."""
    evaluator = model.evaluator(lanes, window, threads, max_batch=max(lanes, 256))
    evaluator.reset()
    filler = model.tokenize(b"The quick brown fox jumps over the lazy dog. " * 64)
    for lane in range(lanes):  # fill each lane's cache to `keep` tokens with big batches: fast, not measured
        for start in range(0, keep, 256):
            n = min(256, keep - start)
            evaluator.step([lane] * n, [filler[(start + i) % len(filler)] for i in range(n)], list(range(start, start + n)))
    began = time.perf_counter()
    for step in lockstep_steps(evaluator, lanes, counted([steps] * lanes), window, keep, cached=keep):
        evaluator.step(step.lanes, [filler[step.index % len(filler)]] * lanes, step.positions)
    return lanes * steps / (time.perf_counter() - began)
