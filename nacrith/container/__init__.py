"""The .nacr container: frame header, chunk groups, end block (normative spec: FORMAT.md).

This module turns structures into bytes and back and checks everything a decoder
must reject. It knows nothing of models or coders: a model is a fingerprint and a
few strings here, a payload is opaque bytes.

The layout is written front to back and never patched, so an encoder can stream
groups out as it codes them and memory does not grow with the input.
"""

from .reader import FrameReader, Prefixed, frames
from .structures import (
    METHOD_NEURAL,
    METHOD_NEURAL_CRLF,
    METHOD_STORED,
    METHOD_ZSTD,
    NEURAL_METHODS,
    ChunkEntry,
    CodingParams,
    EndBlock,
    FrameHeader,
    Group,
    ModelInfo,
    crc32,
    method_name,
    neural_payload_bound,
)
from .writer import write_end, write_group, write_header

__all__ = [
    "frames",
    "Prefixed",
    "METHOD_STORED",
    "METHOD_ZSTD",
    "METHOD_NEURAL",
    "METHOD_NEURAL_CRLF",
    "NEURAL_METHODS",
    "method_name",
    "ModelInfo",
    "CodingParams",
    "FrameHeader",
    "ChunkEntry",
    "Group",
    "EndBlock",
    "write_header",
    "write_group",
    "write_end",
    "FrameReader",
    "crc32",
    "neural_payload_bound",
]
