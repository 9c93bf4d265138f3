"""The transformer of nacrith's GGUF models in torch: llama (SmolLM2) and gemma3, in one readable file.

A plain decoder-only transformer in the manner of nanoGPT's ``model.py``, written for
lockstep lanes rather than for training: every lane has its own slot in a preallocated KV
cache, and a token's key and value are written at its position in its lane's slot, so a
slot's index *is* a position. Weights come from :mod:`.gguf_weights` (float32, llama.cpp's
layout); what runs them is :mod:`.torch_lanes`.

The forward pass is llama.cpp's graph for the same model (``llm_build_llama``,
``llm_build_gemma3``) in float32, with two differences of arithmetic, not of model:
llama.cpp multiplies by quantized weights with 8-bit quantized activations and keeps its
KV cache in float16; here weights are dequantized once and everything stays float32.
The cross-check test measures what that changes (BENCHMARKS.md, "torch backend").

Attention is written out (``q @ k^T``, softmax, ``@ v``) rather than through
``scaled_dot_product_attention``: measured here (torch 2.13, CPU), the latter's result
changes with the thread count, and an archive must not depend on it. Grouped-query
attention shares a key head among ``n_head / n_kv_head`` query heads by folding those query
heads into the query length, so no key or value is ever copied per head.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .gguf_weights import Config

__all__ = ["Transformer", "KVCache", "rope_angles"]


def rope_angles(config: Config, base: float, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of every position's rotation angles, shape (*positions.shape, head_dim / 2).

    Pair ``i`` turns by ``position * base ** (-2 i / head_dim)``, as in llama.cpp; the angle is
    computed in float64 and rounded once, so negative positions (a K-shift) are exact too.
    """
    half = config.head_dim // 2
    inv_freq = base ** (-2.0 * torch.arange(half, dtype=torch.float64) / config.head_dim)
    angles = positions.to(torch.float64).unsqueeze(-1) * inv_freq.to(positions.device)
    return torch.cos(angles).to(torch.float32), torch.sin(angles).to(torch.float32)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, neox: bool) -> torch.Tensor:
    """``x`` (..., head_dim) turned by the angles of ``cos``/``sin`` (..., head_dim / 2), broadcast over heads.

    llama.cpp's llama order rotates adjacent pairs (x[2i], x[2i+1]); NeoX order (gemma3) the
    halves (x[i], x[i + head_dim/2]).
    """
    if neox:
        half = x.shape[-1] // 2
        a, b = x[..., :half], x[..., half:]
        return torch.cat((a * cos - b * sin, a * sin + b * cos), dim=-1)
    pairs = x.unflatten(-1, (-1, 2))
    a, b = pairs[..., 0], pairs[..., 1]
    return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


class KVCache:
    """Keys and values of ``lanes`` slots of ``window`` positions, per layer: (lanes, n_kv_head, window, head_dim)."""

    def __init__(self, config: Config, lanes: int, window: int, device: torch.device) -> None:
        shape = (lanes, config.n_kv_head, window, config.head_dim)
        self.k = [torch.zeros(shape, device=device) for _ in range(config.n_layer)]
        self.v = [torch.zeros(shape, device=device) for _ in range(config.n_layer)]

    def swap(self, a: int, b: int) -> None:
        """Exchange two slots' contents (to keep the stepping lanes in the first slots)."""
        for cache in (*self.k, *self.v):
            held = cache[a].clone()
            cache[a] = cache[b]
            cache[b] = held


class Transformer:
    """The model's weights as torch tensors, and its forward pass over a :class:`KVCache`."""

    def __init__(self, config: Config, weights: dict[str, np.ndarray], device: torch.device) -> None:
        self.config = c = config
        self.device = device

        def tensor(name: str) -> torch.Tensor:
            return torch.from_numpy(np.asarray(weights[name])).to(device=device, dtype=torch.float32)

        self.embedding = tensor("token_embd.weight")
        self.output = self.embedding if weights["output.weight"] is weights["token_embd.weight"] else tensor("output.weight")
        self.output_norm = tensor("output_norm.weight")
        names = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]
        if c.gemma:
            names += ["attn_q_norm", "attn_k_norm", "post_attention_norm", "post_ffw_norm"]
        self.layers = [{n: tensor(f"blk.{i}.{n}.weight") for n in names} for i in range(c.n_layer)]
        self.rope_bases = [c.rope_base_local if c.is_local(i) else c.rope_base for i in range(c.n_layer)]

    # -- the forward pass -------------------------------------------------------------------

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        x = F.embedding(tokens, self.embedding)
        return x * self.config.embed_scale if self.config.gemma else x

    def masks(self, positions: torch.Tensor, length: int) -> dict[bool, torch.Tensor]:
        """Additive masks (B, 1, T, length), for global and local layers: a query at position p sees the
        keys at positions 0..p (local layers: only those less than ``swa_window`` before it)."""
        keys = torch.arange(length, device=positions.device)
        distance = positions.unsqueeze(-1) - keys  # (B, T, length)
        out = {}
        for local in {self.config.is_local(i) for i in range(self.config.n_layer)}:
            visible = distance >= 0
            if local:
                visible &= distance < self.config.swa_window
            out[local] = torch.zeros(visible.shape, device=positions.device).masked_fill_(~visible, float("-inf")).unsqueeze(1)
        return out

    def angles(self, positions: torch.Tensor) -> dict[float, tuple[torch.Tensor, torch.Tensor]]:
        """RoPE cos/sin for ``positions`` (B, T), per base in use, shaped to broadcast over heads: (B, T, 1, hd/2)."""
        out = {}
        for base in set(self.rope_bases):
            cos, sin = rope_angles(self.config, base, positions)
            out[base] = (cos.unsqueeze(2), sin.unsqueeze(2))
        return out

    def attention(
        self,
        i: int,
        x: torch.Tensor,
        cache: KVCache,
        slots: slice,
        positions: torch.Tensor,
        mask: torch.Tensor,
        angles: tuple[torch.Tensor, torch.Tensor],
        write: bool,
        adapter=None,
    ) -> torch.Tensor:
        """Layer ``i``'s attention for ``x`` (B, T, d) of the lanes in ``slots`` at ``positions`` (B, T).

        ``write``: store the tokens' keys and values at their positions first (a forward step);
        else they are in the cache already (recomputing a step's queries to learn from it).
        """
        c, w = self.config, self.layers[i]
        B, T, _ = x.shape
        g = c.n_head // c.n_kv_head
        h = rms_norm(x, w["attn_norm"], c.norm_eps)
        q = _linear(h, w["attn_q"], adapter, "attn_q").view(B, T, c.n_head, c.head_dim)
        if c.gemma:
            q = rms_norm(q, w["attn_q_norm"], c.norm_eps)
        q = rotate(q, *angles, c.rope_neox)
        k_cache, v_cache = cache.k[i][slots], cache.v[i][slots]
        if write:
            k = F.linear(h, w["attn_k"]).view(B, T, c.n_kv_head, c.head_dim)
            if c.gemma:
                k = rms_norm(k, w["attn_k_norm"], c.norm_eps)
            k = rotate(k, *angles, c.rope_neox)
            v = F.linear(h, w["attn_v"]).view(B, T, c.n_kv_head, c.head_dim)
            lanes = torch.arange(B, device=x.device).unsqueeze(1)
            k_cache[lanes, :, positions] = k
            v_cache[lanes, :, positions] = v
        length = mask.shape[-1]
        keys, values = k_cache[:, :, :length], v_cache[:, :, :length]
        # (B, T, n_kv, g, hd) -> (B, n_kv, g*T, hd): the query heads of one key head become its query rows
        q = q.view(B, T, c.n_kv_head, g, c.head_dim).permute(0, 2, 3, 1, 4).reshape(B, c.n_kv_head, g * T, c.head_dim)
        scores = (q * c.attn_scale) @ keys.transpose(-1, -2)
        scores = scores.view(B, c.n_kv_head, g, T, length) + mask.unsqueeze(2)
        out = torch.softmax(scores, dim=-1).view(B, c.n_kv_head, g * T, length) @ values
        out = out.view(B, c.n_kv_head, g, T, c.head_dim).permute(0, 3, 1, 2, 4).reshape(B, T, c.n_head * c.head_dim)
        out = _linear(out, w["attn_output"], adapter, "attn_output")
        if c.gemma:
            out = rms_norm(out, w["post_attention_norm"], c.norm_eps)
        return out

    def mlp(self, i: int, x: torch.Tensor, adapter=None) -> torch.Tensor:
        c, w = self.config, self.layers[i]
        h = rms_norm(x, w["ffn_norm"], c.norm_eps)
        gate = _linear(h, w["ffn_gate"], adapter, "ffn_gate")
        gate = F.gelu(gate, approximate="tanh") if c.gemma else F.silu(gate)
        out = _linear(gate * _linear(h, w["ffn_up"], adapter, "ffn_up"), w["ffn_down"], adapter, "ffn_down")
        if c.gemma:
            out = rms_norm(out, w["post_ffw_norm"], c.norm_eps)
        return out

    def layers_forward(
        self,
        x: torch.Tensor,
        cache: KVCache,
        slots: slice,
        positions: torch.Tensor,
        layers: range,
        *,
        write: bool = True,
        adapters: dict | None = None,
    ) -> torch.Tensor:
        """``x`` (B, T, d) through ``layers``, each token attending to its lane's cache up to its position."""
        masks = self.masks(positions, int(positions.max()) + 1)
        angles = self.angles(positions)
        for i in layers:
            adapter = adapters.get(i) if adapters else None
            x = x + self.attention(i, x, cache, slots, positions, masks[self.config.is_local(i)], angles[self.rope_bases[i]], write, adapter)
            x = x + self.mlp(i, x, adapter)
        return x

    def logits(self, x: torch.Tensor, norm_weight: torch.Tensor | None = None, bias: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token logits of hidden states ``x`` (..., d); the final norm's weight and a logit bias may be adapted ones."""
        h = rms_norm(x, self.output_norm if norm_weight is None else norm_weight, self.config.norm_eps)
        return F.linear(h, self.output, bias)

    def slide(self, cache: KVCache, slot: int, drop: int, length: int) -> None:
        """In ``slot``, forget positions 1..drop of ``length`` and move the rest down by ``drop``, keys turned back by
        ``drop`` positions (llama.cpp's K-shift), so each reads as if computed at its new position."""
        kept = slice(1, length - drop)
        for i in range(self.config.n_layer):
            cos, sin = rope_angles(self.config, self.rope_bases[i], torch.tensor([-drop], device=self.device))
            keys = cache.k[i][slot, :, 1 + drop : length]
            cache.k[i][slot, :, kept] = rotate(keys, cos, sin, self.config.rope_neox)
            cache.v[i][slot, :, kept] = cache.v[i][slot, :, 1 + drop : length].clone()


def _linear(x: torch.Tensor, weight: torch.Tensor, adapter, name: str) -> torch.Tensor:
    """``x @ weight^T``, plus the low-rank adapter's term where one adapts this weight."""
    out = F.linear(x, weight)
    if adapter is not None and name in adapter:
        down, up = adapter[name]
        out = out + F.linear(F.linear(x, down), up)
    return out
