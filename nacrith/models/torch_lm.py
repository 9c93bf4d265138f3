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


import numpy as np
import torch
import torch.nn.functional as F

from .gguf_weights import Config

__all__ = ["Transformer", "KVCache", "rope_turns"]


def rope_turns(config: Config, base: float, positions: torch.Tensor) -> torch.Tensor:
    """Every position's rotations as unit complex numbers (complex64), shape (*positions.shape, head_dim / 2).

    Pair ``i`` turns by ``position * base ** (-2 i / head_dim)``, as in llama.cpp; cos and sin are
    computed in float64 and rounded once, so negative positions (a K-shift) are as exact.
    """
    half = config.head_dim // 2
    inv_freq = base ** (-2.0 * torch.arange(half, dtype=torch.float64, device=positions.device) / config.head_dim)
    angles = positions.to(torch.float64).unsqueeze(-1) * inv_freq
    return torch.complex(torch.cos(angles).to(torch.float32), torch.sin(angles).to(torch.float32))


def rotate(x: torch.Tensor, turn: torch.Tensor, neox: bool) -> torch.Tensor:
    """``x`` (..., head_dim) turned by ``turn`` (..., head_dim / 2), unit complex numbers broadcast over heads.

    llama.cpp's llama order rotates adjacent pairs (x[2i], x[2i+1]); NeoX order (gemma3) the
    halves (x[i], x[i + head_dim/2]). Each pair is a complex number, and turning it a product.
    """
    if neox:
        half = x.shape[-1] // 2
        turned = torch.complex(x[..., :half], x[..., half:]) * turn
        return torch.cat((turned.real, turned.imag), dim=-1)
    turned = torch.view_as_complex(x.float().unflatten(-1, (-1, 2)).contiguous()) * turn
    return torch.view_as_real(turned).flatten(-2)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


class KVCache:
    """Keys and values of ``lanes`` slots of ``window`` positions, per layer: (lanes, n_kv_head, window, head_dim)."""

    def __init__(self, config: Config, lanes: int, window: int, device: torch.device) -> None:
        shape = (lanes, config.n_kv_head, window, config.head_dim)
        self.k = [torch.zeros(shape, device=device) for _ in range(config.n_layer)]
        self.v = [torch.zeros(shape, device=device) for _ in range(config.n_layer)]

    def write(self, layer: int, slots: slice, positions: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
        """Store keys and values (B, T, n_kv_head, head_dim) of the lanes in ``slots`` at ``positions`` (B, T)."""
        B, T, heads, dim = k.shape
        window = self.k[layer].shape[2]
        lanes = torch.arange(slots.start, slots.start + B, device=positions.device).view(B, 1, 1)
        rows = ((lanes * heads + torch.arange(heads, device=positions.device).view(1, heads, 1)) * window + positions.unsqueeze(1)).view(-1)
        for cache, values in ((self.k[layer], k), (self.v[layer], v)):
            cache.view(-1, dim).index_copy_(0, rows, values.transpose(1, 2).reshape(-1, dim))

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

        def tensor(*names: str) -> torch.Tensor:
            """The weights of ``names`` stacked by rows, in memory of torch's own: aligned as MKL's CNR mode wants
            (a view into a cache file's buffer could take another code path in the decoder than in the encoder)."""
            return torch.cat([torch.from_numpy(np.asarray(weights[n], dtype=np.float32)) for n in names]).to(device)

        self.embedding = tensor("token_embd.weight")
        self.output = self.embedding if weights["output.weight"] is weights["token_embd.weight"] else tensor("output.weight")
        self.output_norm = tensor("output_norm.weight")
        norms = ["attn_norm", "ffn_norm"] + (["attn_q_norm", "attn_k_norm", "post_attention_norm", "post_ffw_norm"] if c.gemma else [])
        self.layers = []
        for i in range(c.n_layer):
            layer = {n: tensor(f"blk.{i}.{n}.weight") for n in [*norms, "attn_output", "ffn_down"]}
            # One product for q, k and v, one for the MLP's gate and up: fewer, larger products for small batches.
            layer["qkv"] = tensor(*(f"blk.{i}.attn_{n}.weight" for n in "qkv"))
            layer["attn_q"], layer["attn_k"], layer["attn_v"] = layer["qkv"].split([c.n_head * c.head_dim, *[c.n_kv_head * c.head_dim] * 2])
            layer["gate_up"] = tensor(f"blk.{i}.ffn_gate.weight", f"blk.{i}.ffn_up.weight")
            layer["ffn_gate"], layer["ffn_up"] = layer["gate_up"].split(c.d_ff)
            self.layers.append(layer)
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

    def turns(self, positions: torch.Tensor) -> dict[float, torch.Tensor]:
        """RoPE's turns for ``positions`` (B, T), per base in use, shaped to broadcast over heads: (B, T, 1, hd/2)."""
        return {base: rope_turns(self.config, base, positions).unsqueeze(2) for base in set(self.rope_bases)}

    def attention(
        self,
        i: int,
        x: torch.Tensor,
        cache: KVCache,
        slots: slice,
        positions: torch.Tensor,
        mask: torch.Tensor,
        turn: torch.Tensor,
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
        if write:
            q, k, v = F.linear(h, w["qkv"]).split([c.n_head * c.head_dim, *[c.n_kv_head * c.head_dim] * 2], dim=-1)
            if adapter is not None and "attn_q" in adapter:
                q = q + _low_rank(h, adapter["attn_q"])
        else:
            q = _linear(h, w["attn_q"], adapter, "attn_q")
        q = q.reshape(B, T, c.n_head, c.head_dim)
        if c.gemma:
            q = rms_norm(q, w["attn_q_norm"], c.norm_eps)
        q = rotate(q, turn, c.rope_neox)
        if write:
            k = k.reshape(B, T, c.n_kv_head, c.head_dim)
            if c.gemma:
                k = rms_norm(k, w["attn_k_norm"], c.norm_eps)
            cache.write(i, slots, positions, rotate(k, turn, c.rope_neox), v.reshape(B, T, c.n_kv_head, c.head_dim))
        k_cache, v_cache = cache.k[i][slots], cache.v[i][slots]
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
        gate, up = F.linear(h, w["gate_up"]).split(c.d_ff, dim=-1)
        if adapter is not None:
            gate = gate + _low_rank(h, adapter["ffn_gate"]) if "ffn_gate" in adapter else gate
            up = up + _low_rank(h, adapter["ffn_up"]) if "ffn_up" in adapter else up
        gate = F.gelu(gate, approximate="tanh") if c.gemma else F.silu(gate)
        out = _linear(gate * up, w["ffn_down"], adapter, "ffn_down")
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
        turns = self.turns(positions)
        for i in layers:
            adapter = adapters.get(i) if adapters else None
            x = x + self.attention(i, x, cache, slots, positions, masks[self.config.is_local(i)], turns[self.rope_bases[i]], write, adapter)
            x = x + self.mlp(i, x, adapter)
        return x

    def logits(self, x: torch.Tensor, norm_weight: torch.Tensor | None = None, bias: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token logits of hidden states ``x`` (..., d); the final norm's weight and a logit bias may be adapted ones."""
        h = rms_norm(x, self.output_norm if norm_weight is None else norm_weight, self.config.norm_eps)
        logits = F.linear(h, self.output)
        return logits if bias is None else logits + bias

    def slide(self, cache: KVCache, slot: int, drop: int, length: int) -> None:
        """In ``slot``, forget positions 1..drop of ``length`` and move the rest down by ``drop``, keys turned back by
        ``drop`` positions (llama.cpp's K-shift), so each reads as if computed at its new position."""
        kept = slice(1, length - drop)
        for i in range(self.config.n_layer):
            turn = rope_turns(self.config, self.rope_bases[i], torch.tensor([-drop], device=self.device))
            keys = cache.k[i][slot, :, 1 + drop : length]
            cache.k[i][slot, :, kept] = rotate(keys, turn, self.config.rope_neox)
            cache.v[i][slot, :, kept] = cache.v[i][slot, :, 1 + drop : length].clone()


def _low_rank(x: torch.Tensor, adapter: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    down, up = adapter
    return F.linear(F.linear(x, down), up)


def _linear(x: torch.Tensor, weight: torch.Tensor, adapter, name: str) -> torch.Tensor:
    """``x @ weight^T``, plus the low-rank adapter's term where one adapts this weight."""
    out = F.linear(x, weight)
    if adapter is not None and name in adapter:
        out = out + _low_rank(x, adapter[name])
    return out
