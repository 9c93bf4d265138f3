"""Reading format version 1 (FORMAT.md, "Version 1"): a frame of groups sharing one ensemble, then an end block.

nacrith writes version 2; version 1 archives are read into the same structures, as one
sequence of groups whose chunks carry their token counts.
"""

from __future__ import annotations

from ..constants import MAX_GROUP_CHUNKS
from ..errors import CorruptArchiveError
from ..neural.params import EnsembleParams
from .structures import (
    FINGERPRINT_BYTES,
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
    build_tag,
    neural_payload_bound,
)
from .stream import ByteReader

__all__ = ["read_header", "read_block"]

_FLAG_CONTENT_SIZE = 0x01
_FLAG_MODEL_NAME = 0x02
_FLAG_ENSEMBLE = 0x04
_FLAGS_KNOWN = _FLAG_CONTENT_SIZE | _FLAG_MODEL_NAME | _FLAG_ENSEMBLE
_METHODS = (METHOD_STORED, METHOD_ZSTD, METHOD_NEURAL, METHOD_NEURAL_CRLF)


def read_header(reader: ByteReader) -> FrameHeader:
    """The rest of a version 1 header, after its magic and version byte."""
    flags = reader.byte("flags")
    if flags & ~_FLAGS_KNOWN:
        raise CorruptArchiveError(f"reserved header flag bits set: 0x{flags:02x}")
    content_size = reader.varint("content size") if flags & _FLAG_CONTENT_SIZE else None
    fingerprint = reader.read(FINGERPRINT_BYTES, "model fingerprint")
    build = reader.short_string("llama.cpp version")
    name = reader.short_string("model name") if flags & _FLAG_MODEL_NAME else ""
    if flags & _FLAG_MODEL_NAME and not name:
        raise CorruptArchiveError("the model-name flag is set but the name is empty")
    precision = reader.byte("precision")
    lanes, window, keep, chunk_bytes, start = (reader.varint(w) for w in ("lanes", "window", "slide keep", "chunk size", "start token"))
    ensemble = None
    if flags & _FLAG_ENSEMBLE:
        count = len(EnsembleParams().values())
        ensemble = EnsembleParams.from_values([reader.varint(f"ensemble parameter {i + 1}") for i in range(count)])
    params = CodingParams(precision, lanes, window, keep, chunk_bytes, start, ensemble)
    params.validate()
    return FrameHeader(ModelInfo(fingerprint, build_tag(build), name, build), params, content_size, version=1)


def read_block(reader: ByteReader, params: CodingParams) -> Group | EndBlock:
    """The next block of a version 1 frame: a group (stored, zstd and neural chunks, with token counts) or the end."""
    kind = reader.byte("block type")
    if kind == 0:
        size = reader.varint("content size")
        return EndBlock(size, reader.u32("content checksum"))
    if kind != 1:
        raise CorruptArchiveError(f"unknown block type {kind} at byte {reader.offset - 1}")
    count = reader.varint("chunk count")
    if not 1 <= count <= MAX_GROUP_CHUNKS:
        raise CorruptArchiveError(f"group of {count} chunks; a group holds 1..{MAX_GROUP_CHUNKS}")
    entries = []
    for i in range(count):
        method = reader.byte(f"chunk {i} method")
        if method not in _METHODS:
            raise CorruptArchiveError(f"chunk {i}: unknown method {method}")
        length = reader.varint(f"chunk {i} length")
        tokens = reader.varint(f"chunk {i} token count") if method in NEURAL_METHODS else 0
        payload_length = reader.varint(f"chunk {i} payload length")
        entry = ChunkEntry(method, length, tokens, payload_length, reader.u32(f"chunk {i} checksum"))
        _check_entry(i, entry, params)
        entries.append(entry)
    neural = sum(e.method in NEURAL_METHODS for e in entries)
    if neural > params.lanes:
        raise CorruptArchiveError(f"group of {neural} neural chunks; the archive allows {params.lanes} lanes")
    return Group(entries, [reader.read(e.payload_length, f"chunk {i} payload") for i, e in enumerate(entries)])


def _check_entry(index: int, entry: ChunkEntry, params: CodingParams) -> None:
    """Bounds that keep a damaged table from asking for absurd work or memory."""
    longest = params.chunk_bytes if entry.method in NEURAL_METHODS else params.chunk_bytes * params.lanes
    if not 1 <= entry.length <= longest:
        raise CorruptArchiveError(f"chunk {index}: length {entry.length} outside 1..{longest}")
    if entry.method == METHOD_STORED and entry.payload_length != entry.length:
        raise CorruptArchiveError(f"chunk {index}: stored payload of {entry.payload_length} bytes for {entry.length}")
    if entry.method == METHOD_ZSTD and entry.payload_length >= entry.length:
        raise CorruptArchiveError(f"chunk {index}: zstd payload not smaller than its {entry.length} bytes")
    if entry.method in NEURAL_METHODS:
        if not 1 <= entry.tokens <= entry.length:
            raise CorruptArchiveError(f"chunk {index}: {entry.tokens} tokens for {entry.length} bytes")
        bound = neural_payload_bound(entry.tokens, params.precision_bits)
        if entry.payload_length > bound:
            raise CorruptArchiveError(f"chunk {index}: payload of {entry.payload_length} bytes exceeds {bound}")

