"""What an archive holds, read from its container alone: no model is loaded, nothing is decoded.

``nacrith.inspect(archive)`` reads every frame's header, chunk tables and end block, and
checks what the container alone can check (FORMAT.md's rejections, short of decoding). The
CLI's ``info`` and the benchmark read archives through it.
"""

from __future__ import annotations

import builtins
import dataclasses
import io
import os
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from .constants import FORMAT_VERSION
from .container import NEURAL_METHODS, CodingParams, EndBlock, FrameReader, ModelInfo, frames
from .models import registry

__all__ = ["ChunkInfo", "FrameInfo", "ArchiveInfo", "inspect"]


@dataclass(frozen=True)
class ChunkInfo:
    group: int
    chunk: int
    """Index in its group's table."""
    method: str
    original_size: int
    tokens: int
    payload_size: int

    @property
    def neural(self) -> bool:
        return self.tokens > 0

    @property
    def bits_per_byte(self) -> float:
        return 8.0 * self.payload_size / self.original_size


@dataclass(frozen=True)
class FrameInfo:
    offset: int
    """Where the frame starts in the archive."""
    compressed_size: int
    original_size: int
    declared_size: int | None
    """The content size the header declares (None for a stream)."""
    crc32: int
    model: ModelInfo
    params: CodingParams
    groups: int
    chunks: list[ChunkInfo] = field(default_factory=list)

    @property
    def model_name(self) -> str:
        return registry.known_name(self.model.fingerprint) or self.model.name

    @property
    def neural_tokens(self) -> int:
        return sum(c.tokens for c in self.chunks)

    @property
    def most_lanes(self) -> int:
        """The most neural chunks any group codes side by side."""
        per_group: dict[int, int] = {}
        for c in self.chunks:
            per_group[c.group] = per_group.get(c.group, 0) + c.neural
        return max(per_group.values(), default=0)

    def method_totals(self) -> dict[str, dict[str, int]]:
        """How much of the input each method took: the first thing to check when an archive is larger than hoped."""
        totals: dict[str, dict[str, int]] = {}
        for c in self.chunks:
            total = totals.setdefault(c.method, {"chunks": 0, "original_size": 0, "payload_size": 0, "tokens": 0})
            total["chunks"] += 1
            total["original_size"] += c.original_size
            total["payload_size"] += c.payload_size
            total["tokens"] += c.tokens
        return totals

    def as_dict(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "format_version": FORMAT_VERSION,
            "original_size": self.original_size,
            "declared_size": self.declared_size,
            "compressed_size": self.compressed_size,
            **_ratios(self.original_size, self.compressed_size),
            "crc32": f"{self.crc32:08x}",
            "model": {
                "name": self.model_name,
                "stored_name": self.model.name,
                "fingerprint": self.model.fingerprint.hex(),
                "llama_cpp_build": self.model.llama_version,
            },
            "params": dataclasses.asdict(self.params),
            "groups": self.groups,
            "methods": self.method_totals(),
            "chunks": [{**dataclasses.asdict(c), "bits_per_byte": c.bits_per_byte} for c in self.chunks],
        }


@dataclass(frozen=True)
class ArchiveInfo:
    frames: list[FrameInfo]
    """One per concatenated archive, in order."""

    @property
    def original_size(self) -> int:
        return sum(f.original_size for f in self.frames)

    @property
    def compressed_size(self) -> int:
        return sum(f.compressed_size for f in self.frames)

    @property
    def neural_tokens(self) -> int:
        return sum(f.neural_tokens for f in self.frames)

    @property
    def most_lanes(self) -> int:
        return max((f.most_lanes for f in self.frames), default=0)

    def as_dict(self) -> dict[str, Any]:
        """One frame: its fields, ``frames: 1``; several: their totals and ``archives``, one dict each."""
        if len(self.frames) == 1:
            single = self.frames[0].as_dict()
            del single["offset"]
            return {**single, "frames": 1}
        return {
            "frames": len(self.frames),
            "original_size": self.original_size,
            "compressed_size": self.compressed_size,
            **_ratios(self.original_size, self.compressed_size),
            "archives": [f.as_dict() for f in self.frames],
        }


def inspect(archive: bytes | str | os.PathLike[str] | BinaryIO) -> ArchiveInfo:
    """The frames of ``archive`` (bytes, a path or a binary file object) and their chunk tables.

    Raises a :class:`~nacrith.NacrithError` for what the container shows to be damaged, as
    decoding would; bytes after an end block that begin no frame are rejected.
    """
    if isinstance(archive, (bytes, bytearray, memoryview)):
        return _inspect_stream(io.BytesIO(bytes(archive)))
    if isinstance(archive, (str, os.PathLike)):
        with builtins.open(archive, "rb") as stream:
            return _inspect_stream(stream)
    return _inspect_stream(archive)


def _inspect_stream(stream: BinaryIO) -> ArchiveInfo:
    return ArchiveInfo([_inspect_frame(reader) for reader in frames(stream)])


def _inspect_frame(reader: FrameReader) -> FrameInfo:
    start = reader.offset
    header = reader.read_header()
    chunks: list[ChunkInfo] = []
    groups = 0
    end: EndBlock | None = None
    for block in reader.blocks(last=False):
        if isinstance(block, EndBlock):
            end = block
            continue
        for index, entry in enumerate(block.entries):
            tokens = entry.tokens if entry.method in NEURAL_METHODS else 0
            chunks.append(ChunkInfo(groups, index, entry.method_name, entry.length, tokens, entry.payload_length))
        groups += 1
    assert end is not None, "FrameReader.blocks() ends with the end block or raises"
    return FrameInfo(start, reader.offset - start, end.content_size, header.content_size, end.crc, header.model, header.params, groups, chunks)


def _ratios(original: int, compressed: int) -> dict[str, float | None]:
    """zstd -l's ratio (original over compressed) and bits per original byte; None for empty input."""
    return {
        "ratio": original / compressed if compressed else None,
        "bits_per_byte": 8.0 * compressed / original if original else None,
    }
