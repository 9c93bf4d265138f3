"""The mixer: how much to trust each predictor, learned online, separately in each small context.

The mixture is linear, ``p(v) = sum_k u_k p_k(v)``, because the n-gram and match
predictors are sparse (a handful of tokens each): a linear mixture of them with the LLM
costs a few additions per token, where mixing in the logit domain would touch the whole
vocabulary for each. What makes it strong is the choice of weights: one weight set per
mixing context (how sure the LLM is, which n-gram order has seen this context, how long
the current match is), so "trust the order-5 statistics when the LLM hesitates" and
"trust a 40-token match" are learned separately.

Learning is multiplicative gradient ascent on log p(x) (the Prod rule, Cesa-Bianchi et al.
2007): ``w_k *= 1 + rate * (p_k(x) / p(x) - 1)``, which keeps weights positive for
``rate < 1``. A predictor that has nothing to say (an unseen context) is left out and the
others' weights are renormalized. Plain Python floats in a fixed order: exact everywhere.
"""

from __future__ import annotations

__all__ = ["Mixer"]

_MIN_WEIGHT = 1e-6


class Mixer:
    """``contexts`` weight sets over ``inputs`` predictors; input 0 (the LLM) is always available."""

    def __init__(self, inputs: int, contexts: int, rate: float, first_weight: float) -> None:
        if not 0 < rate < 1 or not 0 < first_weight < 1 or inputs < 1 or contexts < 1:
            raise ValueError(f"bad mixer parameters: rate {rate}, first weight {first_weight}")
        other = (1.0 - first_weight) / (inputs - 1) if inputs > 1 else 0.0
        self.rate = rate
        self.weights = [[first_weight] + [other] * (inputs - 1) for _ in range(contexts)]

    def mix(self, context: int, available: list[int]) -> list[float]:
        """The normalized weights of the ``available`` inputs (in that order) in ``context``."""
        weights = self.weights[context]
        chosen = [weights[k] for k in available]
        total = 0.0
        for w in chosen:
            total += w
        return [w / total for w in chosen]

    def update(self, context: int, available: list[int], probabilities: list[float], mixed: float) -> None:
        """Learn from one coded token: ``probabilities[j]`` is what input ``available[j]`` gave it,
        ``mixed`` what the mixture gave it."""
        weights = self.weights[context]
        for k, p in zip(available, probabilities):
            w = weights[k] * (1.0 + self.rate * (p / mixed - 1.0))
            weights[k] = w
        total = 0.0
        for w in weights:
            total += w
        for k, w in enumerate(weights):  # renormalized so no weight drifts out of floating-point range
            weights[k] = max(w / total, _MIN_WEIGHT)

