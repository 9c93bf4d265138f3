"""Dynamic evaluation: the torch model keeps learning the text it codes (``--adapt``).

Every ``interval`` steps of a group, before the step is evaluated, the model takes one
gradient step (Adam) on the coding loss of the predictions made since the last update, by
the lanes that still step: each prediction's target is the token the lane was fed next. So
the encoder and the decoder learn from the same tokens at the same moment, and their models
stay identical bit for bit (FORMAT.md, "Dynamic evaluation", specifies every operation).

What learns is small, and lives after the frozen part of the network:

* low-rank adapters (LoRA: ``W x + up (down x)``) on the query and output projections and
  the MLP of the last ``layers`` layers;
* the final norm's weight, and a bias on the logits.

Only the layers after the last frozen one are recomputed to learn: each prediction's input
to the first adapted layer is kept, and its queries attend to the lane's KV cache as it
stands (keys and values are not learned through, a truncation that keeps the cost to a
fraction of a step). The keys and values already cached stay as they were computed.

Only IEEE-754 float32 operations in a fixed order are used for the update itself; the
gradients come from torch's autograd, as exact as its forward pass: the same build on the
same device gives the same bits, which the archive's backend and build identity record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

__all__ = ["AdaptParams", "AdamState", "TARGET_NORM", "TARGET_BIAS", "TARGET_ATTENTION", "TARGET_MLP", "adam_update", "lora_init", "splitmix64"]

RATE_BITS = 20
"""The learning rate is an integer over 2**20: an exact binary fraction."""

TARGET_NORM, TARGET_BIAS, TARGET_ATTENTION, TARGET_MLP = 1, 2, 4, 8
"""Bits of ``AdaptParams.targets``: what learns."""

ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, 1e-8
"""Adam's constants (Kingma and Ba's defaults), as float32."""

ATTENTION_WEIGHTS = ("attn_q", "attn_output")
MLP_WEIGHTS = ("ffn_gate", "ffn_up", "ffn_down")


@dataclass(frozen=True)
class AdaptParams:
    """Everything the adaptation depends on, as integers the archive stores (header keys 21 to 25)."""

    interval: int = 16
    """Steps between updates: each update learns from the last ``interval`` tokens of every lane."""
    rate: int = 1049
    """Adam's learning rate over 2**20 (the default, 1049, is about 0.001)."""
    layers: int = 2
    """The adapters sit in the last this many layers (0: none, only the norm and the bias learn)."""
    rank: int = 8
    """The adapters' rank."""
    targets: int = TARGET_NORM | TARGET_BIAS | TARGET_ATTENTION | TARGET_MLP
    """What learns: a sum of TARGET_* bits."""

    @property
    def learning_rate(self) -> float:
        return self.rate / (1 << RATE_BITS)

    def values(self) -> tuple[int, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    def problems(self, window_keep: int | None = None, n_layer: int | None = None) -> list[str]:
        """What is out of range (an empty list for parameters a decoder can use)."""
        limits = {"interval": (1, 4096), "rate": (1, 1 << RATE_BITS), "layers": (0, 256), "rank": (1, 256), "targets": (1, 15)}
        out = [
            f"adapt {name} {getattr(self, name)} ({low}..{high})"
            for name, (low, high) in limits.items()
            if not low <= getattr(self, name) <= high
        ]
        if bool(self.layers) != bool(self.targets & (TARGET_ATTENTION | TARGET_MLP)):
            out.append(f"adapt layers {self.layers} with targets {self.targets}: adapters need layers, and layers adapters")
        if window_keep is not None and self.interval > window_keep:
            out.append(f"adapt interval {self.interval} over the slide keep {window_keep}")
        if n_layer is not None and self.layers > n_layer:
            out.append(f"adapt layers {self.layers} of a {n_layer}-layer model")
        return out


def splitmix64(index: np.ndarray) -> np.ndarray:
    """SplitMix64 (Steele et al., 2014) of each uint64 ``index``: the adapters' initial values, the same everywhere."""
    z = np.asarray(index, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def lora_init(rows: int, columns: int, stream: int) -> np.ndarray:
    """An adapter's ``down`` matrix (rows = rank, columns = input size), float32: uniform in [-1, 1) over
    sqrt(columns), from the top 24 bits of splitmix64 of ``stream * 2**32 + row * columns + column``."""
    index = (np.uint64(stream) << np.uint64(32)) + np.arange(rows * columns, dtype=np.uint64)
    top = (splitmix64(index) >> np.uint64(40)).astype(np.float64)  # 0 .. 2**24 - 1, exact
    uniform = top / (1 << 23) - 1.0
    return (uniform / math.sqrt(columns)).astype(np.float32).reshape(rows, columns)


@dataclass
class AdamState:
    """An Adam optimizer's step count and the powers of its betas, float32, kept as a product (not ``beta ** t``,
    whose last bit would be the platform's ``pow``'s)."""

    steps: int = 0
    power1: np.float32 = np.float32(1.0)
    power2: np.float32 = np.float32(1.0)

    def advance(self) -> None:
        """Once per update, before the parameters: t += 1, power1 *= beta1, power2 *= beta2 (float32 products)."""
        self.steps += 1
        self.power1 = np.float32(self.power1 * np.float32(ADAM_BETA1))
        self.power2 = np.float32(self.power2 * np.float32(ADAM_BETA2))


def adam_update(param, grad, m, v, state: AdamState, learning_rate: float) -> None:
    """One Adam step of ``param`` in place, ``m`` and ``v`` its moments, after ``state.advance()``.

    Every operation is one float32 operation per element, in the order written: FORMAT.md's
    ``adam_update`` ("Dynamic evaluation") does exactly these. Works on torch tensors and numpy
    arrays alike (the test vectors check both).
    """
    f32 = np.float32
    numpy = isinstance(param, np.ndarray)
    # Measured (torch 2.13, CPU): torch's float32 sqrt is not correctly rounded (17% of a million values differ);
    # its float64 sqrt, rounded to float32, is (double rounding is exact for sqrt).
    sqrt = np.sqrt if numpy else (lambda x: x.double().sqrt().float())
    # A division by a tensor of the divisor: torch may turn a division by a scalar into a product by its reciprocal.
    spread = (lambda x: x) if numpy else (lambda x: param.new_full(param.shape, float(x)))
    b1, b2 = f32(ADAM_BETA1), f32(ADAM_BETA2)
    c1, c2 = f32(1.0) - b1, f32(1.0) - b2
    bias1, bias2 = spread(f32(1.0) - state.power1), spread(f32(1.0) - state.power2)
    step, eps = f32(learning_rate), f32(ADAM_EPS)
    m *= b1
    m += grad * c1
    v *= b2
    v += (grad * grad) * c2
    update = (m / bias1) / (sqrt(v / bias2) + eps)
    param -= update * step
