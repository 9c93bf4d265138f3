"""Logits to integer frequencies: the quantization contract between encoder and decoder.

The contract, whose normative form is the reference code ``quantize`` of FORMAT.md,
"Quantization" (which does not number its steps), here in five steps for a row of float32
logits ``z`` over ``V`` symbols and precision ``P`` bits, with ``T = 2**P`` and ``K = T - V``:

1. ``m`` is the lowest index of the largest logit;
2. ``k[i] = rint((z[m] - z[i]) * 2**LOGIT_FRACTION_BITS)``: the IEEE float64 difference of the
   two float32 values (exact for all but extreme ranges, and deterministic always), scaled by a
   power of two, rounded half to even; each logit is measured against the largest in 1/256 nat;
3. ``w[i] = EXP_TABLE[k[i]]`` when ``k[i] < len(EXP_TABLE)``, else 0, where
   ``EXP_TABLE[k] = round(2**WEIGHT_BITS * exp(-k / 2**LOGIT_FRACTION_BITS))``, computed
   once in exact decimal arithmetic, and ends where it reaches 0;
4. ``f[i] = 1 + (w[i] * K) // sum(w)``: every symbol at least 1, the total at most ``T``;
5. the remainder ``T - sum(f)`` is added to ``f[m]``; the total is then exactly ``T``.

Everything after step 2 is integer arithmetic, and step 3's table does not depend on the
machine's ``exp``: the frequencies depend on the logits alone, bit for bit, on every CPU
and numpy build. (A float64 softmax would not: numpy picks its ``exp`` kernel by CPU.)
Rounding logits to 1/256 nat moves a probability by at most 0.2%, which costs about 10^-6
bits per token. Encoder and decoder must agree on ``P``, which the archive stores.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from functools import lru_cache

import numpy as np

__all__ = ["quantize", "exp_weights", "check_frequencies", "exp_table", "LOGIT_FRACTION_BITS", "WEIGHT_BITS"]

LOGIT_FRACTION_BITS = 8
"""Logits are compared in steps of 2**-8 nat: fine enough to cost nothing measurable."""

WEIGHT_BITS = 32
"""Weights are 32-bit: weight * K < 2**32 * 2**30 fits int64 for any precision the coder allows."""


@lru_cache(maxsize=1)
def exp_table() -> np.ndarray:
    """round(2**32 * exp(-k/256)) for k = 0, 1, ... while it is nonzero, in exact decimal arithmetic."""
    values = []
    # A context of its own, not a copy of the caller's: their traps (Inexact, say) must not fire here.
    with localcontext(Context(prec=40, rounding=ROUND_HALF_EVEN, traps=[])):
        scale = Decimal(2) ** WEIGHT_BITS
        step = (Decimal(-1) / Decimal(2**LOGIT_FRACTION_BITS)).exp()
        value = scale
        k = 0
        while True:
            # exp(-k/256) as a power of the one step keeps every entry exact to 40 digits
            rounded = int(value.to_integral_value(rounding="ROUND_HALF_EVEN"))
            if rounded == 0:
                break
            values.append(rounded)
            k += 1
            value = scale * step**k
    return np.array(values, dtype=np.int64)


def exp_weights(z64: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Steps 1 to 3 of the contract above for float64 rows ``z64`` (n, V): the integer weights and each
    row's ``m`` (FORMAT.md's ``exp_weights``).

    ``weights[i] / weights[i].sum()`` is row ``i``'s softmax to within 0.2% per symbol,
    computed without the machine's ``exp``: the ensemble (:mod:`nacrith.neural.ensemble`) mixes
    from these weights so that it, too, is exact on every machine.
    """
    rows = np.arange(len(z64))
    top = np.argmax(z64, axis=1)
    table = _padded_exp_table()
    k = np.rint((z64[rows, top][:, None] - z64) * (1 << LOGIT_FRACTION_BITS))
    np.minimum(k, len(table) - 1, out=k)
    return table[k.astype(np.int64)], top


@lru_cache(maxsize=1)
def _padded_exp_table() -> np.ndarray:
    return np.append(exp_table(), 0)  # index len(exp_table()): beyond the table, weight 0


def quantize(logits: np.ndarray, precision_bits: int) -> np.ndarray:
    """Integer frequencies (int64, same shape as ``logits``), each row summing to ``2**precision_bits``.

    ``logits`` is one row of shape ``(V,)`` or a batch of rows ``(n, V)``: all lanes of a
    lockstep step are quantized in one vectorized call.
    """
    z = np.asarray(logits)
    single = z.ndim == 1
    if single:
        z = z[None, :]
    if z.ndim != 2 or z.shape[1] == 0:
        raise ValueError(f"logits must have shape (V,) or (n, V) with V >= 1, got {np.shape(logits)}")
    total = 1 << precision_bits
    vocab = z.shape[1]
    spare = total - vocab
    if spare < 0:
        raise ValueError(f"a vocabulary of {vocab} symbols needs more than {precision_bits} bits of precision")
    if not np.all(np.isfinite(z)):
        raise ValueError("logits contain NaN or infinity")
    rows = np.arange(len(z))
    weights, top = exp_weights(z.astype(np.float32).astype(np.float64))
    freq = weights * spare // weights.sum(axis=1, keepdims=True)
    freq += 1
    freq[rows, top] += total - freq.sum(axis=1)
    return freq[0] if single else freq


def check_frequencies(freq: np.ndarray, precision_bits: int) -> None:
    """Raise ValueError naming the broken condition if ``freq`` violates the contract."""
    f = np.atleast_2d(np.asarray(freq))
    if f.dtype.kind not in "iu":
        raise ValueError(f"frequencies must be integers, got {f.dtype}")
    if f.size and f.min() < 1:
        row, col = np.unravel_index(np.argmin(f), f.shape)
        raise ValueError(f"symbol {col} of row {row} has frequency {f[row, col]}, every symbol needs at least 1")
    sums = f.sum(axis=1)
    bad = np.nonzero(sums != (1 << precision_bits))[0]
    if bad.size:
        raise ValueError(f"row {bad[0]} sums to {sums[bad[0]]}, not 2**{precision_bits}")
