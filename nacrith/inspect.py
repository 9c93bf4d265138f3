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

from .container import (
    LAYOUT_CHUNK,
    LAYOUT_INDEXED,
    LAYOUT_SEGMENT,
    LAYOUT_WINDOWS,
    NEURAL_METHODS,
    CodingParams,
    EndBlock,
    FrameReader,
    Group,
    ModelInfo,
    OneChunk,
    OtherBytes,
    WindowBlock,
    frames,
    method_name,
)
from .models import registry

__all__ = ["ChunkInfo", "SegmentInfo", "FrameInfo", "ArchiveInfo", "inspect"]

_LAYOUTS = {LAYOUT_CHUNK: "one chunk", LAYOUT_SEGMENT: "one segment", LAYOUT_INDEXED: "indexed segments", LAYOUT_WINDOWS: "equal-info windows"}


@dataclass(frozen=True)
class SegmentInfo:
    """Where a segment's bytes are, in the content and in the archive (what the seek index lists)."""

    plain_offset: int
    plain_size: int
    archive_offset: int
    """From the start of the frame's archive bytes."""
    archive_size: int
    crc32: int


@dataclass(frozen=True)
class ChunkInfo:
    segment: int
    group: int
    """-1 for a segment's other bytes (one stream, not a group)."""
    chunk: int
    """Index in its group's table."""
    method: str
    original_size: int
    tokens: int
    payload_size: int

    @property
    def neural(self) -> bool:
        return self.method.startswith("neural")

    @property
    def bits_per_byte(self) -> float:
        return 8.0 * self.payload_size / self.original_size


@dataclass(frozen=True)
class FrameInfo:
    offset: int
    """Where the frame starts in the archive."""
    version: int
    layout: str
    compressed_size: int
    original_size: int
    declared_size: int | None
    """The content size the header declares (None for a stream)."""
    model: ModelInfo
    params: CodingParams
    groups: int
    chunks: list[ChunkInfo] = field(default_factory=list)
    segments: list[SegmentInfo] = field(default_factory=list)
    crc32: int | None = None
    """The CRC-32 of the whole content, where the frame stores one (version 1, or a frame of one segment or chunk)."""
    windows: list[int] = field(default_factory=list)
    """Layout 3: every window's text length, in order."""

    @property
    def model_name(self) -> str:
        return registry.known_name(self.model.fingerprint) or self.model.name

    @property
    def neural_tokens(self) -> int:
        """Tokens the model coded, where the archive says (version 1); version 2 does not store them."""
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
            "format_version": self.version,
            "layout": self.layout,
            "original_size": self.original_size,
            "declared_size": self.declared_size,
            "compressed_size": self.compressed_size,
            **_ratios(self.original_size, self.compressed_size),
            "crc32": None if self.crc32 is None else f"{self.crc32:08x}",
            "model": {
                "name": self.model_name,
                "stored_name": self.model.name,
                "fingerprint": self.model.fingerprint.hex(),
                "build_tag": self.model.build_tag.hex(),
                "llama_cpp_build": self.model.build or None,
            },
            "params": dataclasses.asdict(self.params),
            "groups": self.groups,
            "methods": self.method_totals(),
            "segments": [{**dataclasses.asdict(g), "crc32": f"{g.crc32:08x}"} for g in self.segments],
            "windows": self._windows(),
            "chunks": [{**dataclasses.asdict(c), "bits_per_byte": c.bits_per_byte} for c in self.chunks],
        }


    def _windows(self) -> dict[str, Any] | None:
        """Layout 3: the window size, the count, and text bytes per window."""
        e = self.params.equal_info
        if e is None:
            return None
        count = len(self.windows)
        return {
            "bits": e.bits,
            "token_bits": e.token_bits,
            "primer": e.primer,
            "count": count,
            "average_bytes": self.original_size / count if count else None,
            "code_bits_ratio": 8 * self.original_size / (count * e.bits) if count else None,
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
    body = reader.offset
    chunks: list[ChunkInfo] = []
    groups = 0
    crc: int | None = None
    segment = 0
    window_blocks = 0
    for block in reader.blocks():
        if isinstance(block, OneChunk):
            e = block.entry
            chunks.append(ChunkInfo(0, 0, 0, e.method_name, e.length, 0, e.payload_length))
            crc = e.crc
        elif isinstance(block, OtherBytes):
            chunks.append(ChunkInfo(segment, -1, 0, method_name(block.method), block.placed_length, 0, block.payload_length))
        elif isinstance(block, Group):
            for index, e in enumerate(block.entries):
                tokens = e.tokens if e.method in NEURAL_METHODS else 0
                chunks.append(ChunkInfo(segment, groups, index, e.method_name, e.length, tokens, e.payload_length))
            groups += 1
        elif isinstance(block, WindowBlock):
            chunks.append(ChunkInfo(0, window_blocks, 0, "windows", block.length, len(block.lengths), len(block.code)))
            window_blocks += 1
        elif isinstance(block, EndBlock):
            segment += 1
            crc = block.crc
    if header.version == 1:
        original = sum(c.original_size for c in chunks)
        layout = "version 1 frame"
        segments = [SegmentInfo(0, original, body - start, reader.offset - body, crc or 0)]
    else:
        layout = _LAYOUTS[header.layout]
        segments, plain, archive = [], 0, body - start
        for entry in reader.segments:
            segments.append(SegmentInfo(plain, entry.plain_size, archive, entry.archive_size, entry.crc))
            plain += entry.plain_size
            archive += entry.archive_size
        if header.layout == LAYOUT_CHUNK:  # one chunk: one segment, without tables
            plain = chunks[0].original_size
            segments = [SegmentInfo(0, plain, body - start, reader.offset - body, crc or 0)]
        original = plain
        if header.layout == LAYOUT_INDEXED:
            crc = None
        if header.layout == LAYOUT_WINDOWS:
            original = sum(reader.windows)
            groups = window_blocks
    return FrameInfo(
        start, header.version, layout, reader.offset - start, original, header.content_size, header.model, header.params, groups, chunks, segments, crc,
        list(reader.windows),
    )


def _ratios(original: int, compressed: int) -> dict[str, float | None]:
    """zstd -l's ratio (original over compressed) and bits per original byte; None for empty input."""
    return {
        "ratio": original / compressed if compressed else None,
        "bits_per_byte": 8.0 * compressed / original if original else None,
    }
