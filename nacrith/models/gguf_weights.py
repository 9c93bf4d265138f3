"""A GGUF model's shape and its weights as float32 arrays, for the torch backend (:mod:`.torch_lm`).

The gguf package (llama.cpp's own reader) reads the file and dequantizes each tensor once;
the float32 result is cached on disk (``$XDG_CACHE_HOME/nacrith/torch/``), a raw file plus
an index that holds its SHA-256, so a damaged or half-written cache is never used: a
mismatch recomputes it. The arrays keep llama.cpp's layout: a linear layer's weight is
(out, in), and the q/k rows are in the order llama.cpp's RoPE expects (for ``llama``,
the converter interleaved them for GPT-J-style pairs; :mod:`.torch_lm` rotates those pairs).

Only two architectures are known, those of nacrith's models: ``llama`` (SmolLM2) and
``gemma3``; another raises ModelNotFoundError naming it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_output, write_atomically
from ..errors import ModelNotFoundError

__all__ = ["Config", "read_config", "load_weights", "CACHE_VERSION"]

CACHE_VERSION = 1
"""Part of a cache file's name: a change in how weights are laid out makes old caches unused, not misread."""

_BLOCK = 1 << 22
"""Bytes hashed at a time while checking a cache (a gemma cache is over 1 GB)."""


@dataclass(frozen=True)
class Config:
    """What the transformer needs to know of a model, read from its GGUF metadata."""

    arch: str
    n_layer: int
    d_model: int
    n_head: int
    n_kv_head: int
    head_dim: int
    d_ff: int
    vocab_size: int
    norm_eps: float
    rope_base: float
    rope_base_local: float
    """RoPE base of the sliding-window layers (gemma3: 10000); the same as ``rope_base`` elsewhere."""
    rope_neox: bool
    """Rotate the halves of a head (NeoX, gemma3) rather than adjacent pairs (llama.cpp's llama order)."""
    swa_window: int
    """Sliding-window attention span of the local layers (0: every layer attends to the whole cache)."""
    swa_pattern: int
    """Every ``swa_pattern``-th layer is global, the others local (gemma3: 6)."""
    embed_scale: float
    attn_scale: float
    gemma: bool
    """Gemma's block: q/k norms, norms after attention and MLP, GELU (tanh) gate; else llama's (SiLU gate)."""

    def is_local(self, layer: int) -> bool:
        """Whether ``layer`` attends to its last ``swa_window`` positions only (llama.cpp's swa pattern)."""
        return self.swa_window > 0 and layer % self.swa_pattern < self.swa_pattern - 1


def _field(reader, key: str, default=None):
    field = reader.fields.get(key)
    if field is None:
        if default is None:
            raise ModelNotFoundError(f"the GGUF has no {key}: not a model the torch backend can run")
        return default
    return field.contents()


def read_config(reader) -> Config:
    """The :class:`Config` of an open ``gguf.GGUFReader``."""
    arch = _field(reader, "general.architecture")
    if arch not in ("llama", "gemma3"):
        raise ModelNotFoundError(f"the torch backend runs llama and gemma3 models, not {arch!r}; use --backend llama")
    key = lambda name, default=None: _field(reader, f"{arch}.{name}", default)  # noqa: E731
    d_model, n_head = int(key("embedding_length")), int(key("attention.head_count"))
    head_dim = int(key("attention.key_length", d_model // n_head))
    embd = next(t for t in reader.tensors if t.name == "token_embd.weight")
    gemma = arch == "gemma3"
    rope_base = float(key("rope.freq_base", 10000.0))
    return Config(
        arch=arch,
        n_layer=int(key("block_count")),
        d_model=d_model,
        n_head=n_head,
        n_kv_head=int(key("attention.head_count_kv", n_head)),
        head_dim=head_dim,
        d_ff=int(key("feed_forward_length")),
        vocab_size=int(embd.shape[1]),
        norm_eps=float(key("attention.layer_norm_rms_epsilon")),
        rope_base=rope_base,
        rope_base_local=10000.0 if gemma else rope_base,  # llama.cpp's fixed value for gemma3's local layers
        rope_neox=gemma,
        swa_window=int(key("attention.sliding_window", 0)) if gemma else 0,
        swa_pattern=6 if gemma else 1,
        embed_scale=math.sqrt(d_model) if gemma else 1.0,
        attn_scale=1.0 / math.sqrt(head_dim),
        gemma=gemma,
    )


def _dequantized(path: Path) -> tuple[Config, dict[str, np.ndarray]]:
    import gguf  # the torch extra's dependency; only this module reads GGUF tensors

    reader = gguf.GGUFReader(str(path))
    config = read_config(reader)
    weights = {}
    for t in reader.tensors:
        array = gguf.quants.dequantize(t.data, t.tensor_type)
        weights[t.name] = np.ascontiguousarray(array, dtype=np.float32).reshape([int(n) for n in reversed(t.shape)])
    if "output.weight" not in weights:  # tied embeddings: the output layer is the embedding matrix
        weights["output.weight"] = weights["token_embd.weight"]
    return config, weights


def load_weights(path: str | os.PathLike[str], fingerprint: bytes, cache: Path | None) -> tuple[Config, dict[str, np.ndarray]]:
    """The model's config and float32 weights, from the cache when it holds them intact, else dequantized
    (and cached, when ``cache`` is a folder that can be written)."""
    path = Path(path)
    if cache is not None:
        found = _read_cache(cache, fingerprint)
        if found is not None:
            return found
    config, weights = _dequantized(path)
    if cache is not None:
        try:
            _write_cache(cache, fingerprint, config, weights)
        except OSError:
            pass  # a read-only cache only costs the dequantization next time
    return config, weights


def _names(cache: Path, fingerprint: bytes) -> tuple[Path, Path]:
    base = cache / f"{fingerprint.hex()}-f32-v{CACHE_VERSION}"
    return base.with_suffix(".bin"), base.with_suffix(".json")


def _write_cache(cache: Path, fingerprint: bytes, config: Config, weights: dict[str, np.ndarray]) -> None:
    data_path, index_path = _names(cache, fingerprint)
    cache.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    tensors = []
    offset = 0
    with atomic_output(data_path) as stream:
        for name, array in weights.items():
            if name == "output.weight" and array is weights["token_embd.weight"]:
                continue  # tied: stored once
            raw = array.tobytes()
            stream.write(raw)
            digest.update(raw)
            tensors.append({"name": name, "shape": list(array.shape), "offset": offset})
            offset += len(raw)
    index = {"config": asdict(config), "tensors": tensors, "size": offset, "sha256": digest.hexdigest()}
    write_atomically(index_path, json.dumps(index).encode())  # written last: its hash vouches for the data


def _read_cache(cache: Path, fingerprint: bytes) -> tuple[Config, dict[str, np.ndarray]] | None:
    data_path, index_path = _names(cache, fingerprint)
    try:
        index = json.loads(index_path.read_text())
        if data_path.stat().st_size != index["size"]:
            return None
        buffer = np.fromfile(data_path, dtype=np.uint8)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    digest = hashlib.sha256()
    for start in range(0, len(buffer), _BLOCK):
        digest.update(buffer[start : start + _BLOCK])
    if digest.hexdigest() != index.get("sha256"):
        return None
    floats = buffer.view(np.float32)
    weights = {}
    for t in index["tensors"]:
        count = int(np.prod(t["shape"]))
        weights[t["name"]] = floats[t["offset"] // 4 : t["offset"] // 4 + count].reshape(t["shape"])
    weights.setdefault("output.weight", weights["token_embd.weight"])
    return Config(**index["config"]), weights
