"""Archives to mutate: every layout of the container, built without a model, and the version 1 archives that need none.

Each entry is an archive and the bytes it decodes to. They are written with the container's
writer (fixed model identity and build tag), so they are the same on every run and machine:
a mutant found failing can be rebuilt from its seed.
"""

from __future__ import annotations

import random
from pathlib import Path

from nacrith import fallback
from nacrith.constants import DEFAULT_SEGMENT_BYTES, PRECISION_BITS
from nacrith.container import (
    LAYOUT_CHUNK,
    LAYOUT_INDEXED,
    LAYOUT_SEGMENT,
    METHOD_NEURAL,
    METHOD_STORED,
    METHOD_XZ,
    METHOD_ZSTD,
    ChunkEntry,
    CodingParams,
    EndBlock,
    FrameHeader,
    Group,
    IndexEntry,
    ModelInfo,
    OtherBytes,
    crc32,
    write_chunk,
    write_end,
    write_group,
    write_header,
    write_index,
    write_other,
)
from nacrith.neural.params import EnsembleParams

__all__ = ["Sample", "model_free", "V1_DATA"]

Sample = tuple[bytes, bytes]
"""An archive and its content."""

V1_DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "v1"
V1_MODEL_FREE = ("empty", "binary")
"""The version 1 archives of tests/data/v1 that decode without a model (the others hold neural chunks)."""

SMOLLM2 = ModelInfo(bytes.fromhex("b179c9523d0e6a0f"), b"\xab\xcd", preset=1)
NAMED = ModelInfo(bytes(range(1, 9)), b"\x01\x02", "other.gguf")
DEFAULTS = CodingParams(PRECISION_BITS, 8, 1024, 768, 65536, 1, EnsembleParams(), DEFAULT_SEGMENT_BYTES)
SMALL = CodingParams(PRECISION_BITS, 2, 64, 48, 4096, 7, EnsembleParams(ngram_orders=3, history_bits=16), 8192)
"""Parameters that differ from the defaults, so the header carries a parameter list."""


def neural_group_frame(model: ModelInfo, params: CodingParams, lengths: list[int], payload: bytes = b"\x55") -> bytes:
    """A crafted frame of one segment whose one group holds a neural chunk of each length, each with
    ``payload`` and a CRC-32 of 0: what a hostile header can ask of a decoder's memory and time."""
    entries = [ChunkEntry(METHOD_NEURAL, n, 0, len(payload), 0) for n in lengths]
    header = write_header(FrameHeader(model, params, None, 2, LAYOUT_SEGMENT))
    return header + write_group(Group(entries, [payload] * len(entries))) + write_end(EndBlock(sum(lengths), 0))


def neural_chunk_frame(model: ModelInfo, params: CodingParams, length: int, payload: bytes = b"\x55") -> bytes:
    """The same as a one-chunk frame (layout 0): one neural chunk claiming ``length`` bytes."""
    header = write_header(FrameHeader(model, params, length, 2, LAYOUT_CHUNK, METHOD_NEURAL))
    return header + write_chunk(ChunkEntry(METHOD_NEURAL, length, 0, len(payload), 0), payload)


def _header(layout: int, params: CodingParams = DEFAULTS, size: int | None = None, method: int = 0, model: ModelInfo = SMOLLM2) -> bytes:
    return write_header(FrameHeader(model, params, size, 2, layout, method))


def _one_chunk(data: bytes, method: int) -> bytes:
    payload = fallback.encode(method, data)
    entry = ChunkEntry(method, len(data), 0, len(payload), crc32(data))
    return _header(LAYOUT_CHUNK, size=len(data), method=method) + write_chunk(entry, payload)


def _segment(data: bytes, method: int) -> bytes:
    payload = fallback.encode(method, data)
    other = OtherBytes([0, len(data)], method, len(payload), crc32(data), payload)
    return write_other(other) + write_end(EndBlock(len(data), crc32(data)))


def _indexed(parts: list[tuple[bytes, int]], params: CodingParams = SMALL) -> bytes:
    bodies = [_segment(data, method) for data, method in parts]
    index = [IndexEntry(len(data), len(body), crc32(data)) for (data, _), body in zip(parts, bodies)]
    return _header(LAYOUT_INDEXED, params, sum(len(d) for d, _ in parts)) + b"".join(bodies) + write_index(index)


def model_free() -> dict[str, Sample]:
    """Every layout, every fallback method, a named model with a parameter list, version 1, and concatenations."""
    rng = random.Random(2024)
    text_like = b"log line 17: \x00\x01 value=" * 30
    noise = rng.randbytes(300)
    repetitive = b"abcabcabd" * 40
    samples: dict[str, Sample] = {
        "one chunk stored": (_one_chunk(noise[:40], METHOD_STORED), noise[:40]),
        "one chunk zstd": (_one_chunk(repetitive, METHOD_ZSTD), repetitive),
        "one segment xz": (_header(LAYOUT_SEGMENT) + _segment(text_like, METHOD_XZ), text_like),
        "one segment, named model, parameters": (_header(LAYOUT_SEGMENT, SMALL, len(noise), model=NAMED) + _segment(noise, METHOD_STORED), noise),
        "indexed": (_indexed([(repetitive, METHOD_ZSTD), (noise[:30], METHOD_STORED), (text_like, METHOD_XZ)]), repetitive + noise[:30] + text_like),
        "empty": (_header(LAYOUT_SEGMENT, size=0) + write_end(EndBlock(0, 0)), b""),
    }
    for name in V1_MODEL_FREE:
        samples[f"version 1 {name}"] = ((V1_DATA / f"{name}.nacr").read_bytes(), (V1_DATA / f"{name}.content").read_bytes())
    parts = [samples[n] for n in ("one chunk stored", "indexed", "version 1 binary", "empty", "one chunk zstd")]
    samples["concatenated"] = (b"".join(a for a, _ in parts), b"".join(c for _, c in parts))
    return samples
