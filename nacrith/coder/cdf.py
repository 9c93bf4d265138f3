"""Logits to integer frequencies: the quantization contract between encoder and decoder.

The contract (FORMAT.md, "Quantization"): for a row of logits ``z`` over a vocabulary
of ``V`` symbols and precision ``P`` bits, with ``T = 2**P`` and ``K = T - V``:

1. ``p = exp(z - max(z)) / sum(exp(z - max(z)))``, computed in IEEE float64
   (the logits are widened from float32 first);
2. ``f[i] = 1 + floor(p[i] * K)``, so every symbol gets at least 1 and the total is
   at most ``T`` (up to float rounding);
3. the remainder ``T - sum(f)`` is added to ``f[m]``, where ``m`` is the lowest
   index of the largest logit; the total is then exactly ``T``.

Every symbol can therefore be coded, and the table depends only on the logits:
encoder and decoder that see the same logits build the same table. They must also
agree on ``P``, which the archive stores.
"""

from __future__ import annotations

import numpy as np

__all__ = ["quantize", "check_frequencies"]


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
    z64 = z.astype(np.float64)
    top = np.argmax(z64, axis=1)
    e = np.exp(z64 - z64[np.arange(len(z64)), top][:, None])
    p = e / e.sum(axis=1, keepdims=True)
    freq = (p * spare).astype(np.int64)  # floor: p * spare >= 0
    freq += 1
    remainder = total - freq.sum(axis=1)
    freq[np.arange(len(freq)), top] += remainder
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
