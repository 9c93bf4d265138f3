"""Structures to bytes (version 2): written front to back and never patched, so an encoder can stream
segments out as it codes them and memory does not grow with the input."""

from __future__ import annotations

from ..constants import FORMAT_VERSION, MAGIC
from .fields import MODEL_PRESETS, params_to_pairs
from .structures import (
    BUILD_TAG_BYTES,
    FINGERPRINT_BYTES,
    LAYOUT_CHUNK,
    NEURAL_METHODS,
    ChunkEntry,
    EndBlock,
    FrameHeader,
    Group,
    IndexEntry,
    LAYOUT_WINDOWS,
    OtherBytes,
    WindowBlock,
)

__all__ = ["write_header", "write_chunk", "write_group", "write_other", "write_end", "write_index", "write_windows", "varint", "short_string"]

BLOCK_END = 0x00
BLOCK_GROUP = 0x01
BLOCK_OTHER = 0x02
BLOCK_INDEX = 0x03
BLOCK_WINDOWS = 0x04
"""Equal-info windows (layout 3 only)."""

OTHER_BASE64 = 0x80
"""Bit 7 of the other-bytes block's method: a table of base64 runs follows the method."""

DESCRIPTOR_LAYOUT = 0x03
DESCRIPTOR_CONTENT_SIZE = 0x04
DESCRIPTOR_PARAMETERS = 0x08
DESCRIPTOR_MODEL_SHIFT = 4
DESCRIPTOR_METHOD_SHIFT = 6

FOOTER_MAGIC = b"\x8eNCX"
"""The last 4 bytes of an indexed frame, after the index's size: a reader finds the index from the end."""
FOOTER_BYTES = 4 + len(FOOTER_MAGIC)


def varint(value: int) -> bytes:
    """Unsigned LEB128, minimal."""
    if value < 0 or value >= 1 << 63:
        raise ValueError(f"varint out of range: {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def short_string(text: str) -> bytes:
    raw = text.encode("utf-8")[:255].decode("utf-8", "ignore").encode("utf-8")  # never cut a character
    return bytes([len(raw)]) + raw


def write_header(header: FrameHeader) -> bytes:
    """The frame header: magic, version, descriptor, build tag, then what the descriptor says follows."""
    model, params = header.model, header.params
    if len(model.fingerprint) != FINGERPRINT_BYTES or len(model.build_tag) != BUILD_TAG_BYTES:
        raise ValueError("bad model identity")
    preset = MODEL_PRESETS.get(model.preset)
    if preset is not None and preset.fingerprint != model.fingerprint:
        raise ValueError(f"model preset {model.preset} is another model")
    pairs = params_to_pairs(params, preset.start_token if preset else None)
    if header.layout == LAYOUT_CHUNK and header.content_size is None:
        raise ValueError("a one-chunk frame needs its content size")
    if (header.layout == LAYOUT_WINDOWS) != (params.equal_info is not None):
        raise ValueError("equal-info parameters go with layout 3, and only there")
    descriptor = header.layout | (model.preset << DESCRIPTOR_MODEL_SHIFT)
    if header.layout == LAYOUT_CHUNK:
        descriptor |= header.chunk_method << DESCRIPTOR_METHOD_SHIFT
    if header.content_size is not None:
        descriptor |= DESCRIPTOR_CONTENT_SIZE
    if pairs:
        descriptor |= DESCRIPTOR_PARAMETERS
    out = bytearray(MAGIC)
    out += bytes([FORMAT_VERSION, descriptor])
    out += model.build_tag
    if header.content_size is not None:
        out += varint(header.content_size)
    if preset is None:
        out += model.fingerprint + short_string(model.name)
    if pairs:
        for key, value in pairs:
            out += varint(key) + varint(value)
        out += varint(0)
    return bytes(out)


def write_chunk(entry: ChunkEntry, payload: bytes) -> bytes:
    """The body of a one-chunk frame: payload length, CRC-32, payload (its method and length are in the header)."""
    if entry.payload_length != len(payload):
        raise ValueError("chunk entry payload_length does not match its payload")
    return varint(entry.payload_length) + entry.crc.to_bytes(4, "little") + payload


def write_group(group: Group) -> bytes:
    """A group block: its chunk table (neural chunks only), then the payloads in table order."""
    if not group.entries or len(group.entries) != len(group.payloads):
        raise ValueError("a group needs one payload per chunk entry, and at least one chunk")
    out = bytearray([BLOCK_GROUP])
    out += varint(len(group.entries))
    for entry, payload in zip(group.entries, group.payloads):
        if entry.method not in NEURAL_METHODS or entry.payload_length != len(payload):
            raise ValueError("a group holds neural chunks, each with its payload")
        out.append(entry.method)
        out += varint(entry.length)
        out += varint(entry.payload_length)
        out += entry.crc.to_bytes(4, "little")
    for payload in group.payloads:
        out += payload
    return bytes(out)


def write_other(other: OtherBytes) -> bytes:
    """The block of a segment's other bytes: where they go (the runs), then their one payload."""
    if other.payload_length != len(other.payload) or len(other.runs) < 2:
        raise ValueError("bad other-bytes block")
    out = bytearray([BLOCK_OTHER])
    out += varint(len(other.runs))
    for run in other.runs:
        out += varint(run)
    out.append(other.method | (OTHER_BASE64 if other.base64 else 0))
    if other.base64:
        out += varint(len(other.base64))
        for b in other.base64:
            out += varint(b.run) + varint(b.line_length) + bytes([b.flags])
    out += varint(other.payload_length)
    out += other.crc.to_bytes(4, "little")
    return bytes(out) + other.payload


def write_windows(block: WindowBlock, bits: int) -> bytes:
    """A window block: the window count, each window's text length, the CRC-32 of their text, then their code."""
    if not block.lengths or len(block.code) * 8 != len(block.lengths) * bits or min(block.lengths) < 1:
        raise ValueError("a window block needs windows of at least one byte, each with its code")
    out = bytearray([BLOCK_WINDOWS])
    out += varint(len(block.lengths))
    for length in block.lengths:
        out += varint(length)
    out += block.crc.to_bytes(4, "little")
    return bytes(out) + block.code


def write_end(end: EndBlock) -> bytes:
    """A segment's end block: its size and the CRC-32 of its bytes."""
    return bytes([BLOCK_END]) + varint(end.content_size) + end.crc.to_bytes(4, "little")


def write_index(entries: list[IndexEntry]) -> bytes:
    """The seek index (one entry per segment) and the footer that lets a reader find it from the end."""
    out = bytearray([BLOCK_INDEX])
    out += varint(len(entries))
    for entry in entries:
        out += varint(entry.plain_size) + varint(entry.archive_size) + entry.crc.to_bytes(4, "little")
    return bytes(out) + len(out).to_bytes(4, "little") + FOOTER_MAGIC
