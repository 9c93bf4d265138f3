"""The .nacr container: frame header, segments of blocks, seek index (normative spec: FORMAT.md).

This package turns structures into bytes and back and checks everything a decoder must
reject short of decoding. It knows nothing of models or coders: a model is a fingerprint and
a build tag here, a payload is opaque bytes. Version 2 is written; version 1 is read (:mod:`.v1`).
"""

from .fields import MODEL_PRESETS, ModelPreset, preset_of
from .reader import Block, FrameReader, Index, OneChunk, Prefixed, frames
from .structures import (
    BUILD_TAG_BYTES,
    FALLBACK_METHODS,
    LAYOUT_CHUNK,
    LAYOUT_INDEXED,
    LAYOUT_SEGMENT,
    METHOD_NAMES,
    METHOD_NEURAL,
    METHOD_NEURAL_CRLF,
    METHOD_STORED,
    METHOD_XZ,
    METHOD_ZSTD,
    NEURAL_METHODS,
    ChunkEntry,
    CodingParams,
    EndBlock,
    FrameHeader,
    Group,
    IndexEntry,
    ModelInfo,
    OtherBytes,
    build_tag,
    crc32,
    method_name,
    neural_payload_bound,
)
from .writer import write_chunk, write_end, write_group, write_header, write_index, write_other

__all__ = [
    "frames",
    "Prefixed",
    "FrameReader",
    "Block",
    "OneChunk",
    "Index",
    "MODEL_PRESETS",
    "ModelPreset",
    "preset_of",
    "METHOD_STORED",
    "METHOD_ZSTD",
    "METHOD_NEURAL",
    "METHOD_NEURAL_CRLF",
    "METHOD_XZ",
    "NEURAL_METHODS",
    "FALLBACK_METHODS",
    "METHOD_NAMES",
    "method_name",
    "LAYOUT_CHUNK",
    "LAYOUT_SEGMENT",
    "LAYOUT_INDEXED",
    "BUILD_TAG_BYTES",
    "ModelInfo",
    "CodingParams",
    "FrameHeader",
    "ChunkEntry",
    "Group",
    "OtherBytes",
    "EndBlock",
    "IndexEntry",
    "write_header",
    "write_chunk",
    "write_group",
    "write_other",
    "write_end",
    "write_index",
    "build_tag",
    "crc32",
    "neural_payload_bound",
]
