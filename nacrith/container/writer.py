"""Structures to bytes: a frame is written front to back and never patched, so an encoder can stream
groups out as it codes them and memory does not grow with the input."""

from __future__ import annotations

from ..constants import FORMAT_VERSION, MAGIC
from .structures import FINGERPRINT_BYTES, NEURAL_METHODS, EndBlock, FrameHeader, Group

__all__ = ["write_header", "write_group", "write_end", "varint"]

FLAG_CONTENT_SIZE = 0x01
FLAG_MODEL_NAME = 0x02
FLAG_ENSEMBLE = 0x04
FLAGS_KNOWN = FLAG_CONTENT_SIZE | FLAG_MODEL_NAME | FLAG_ENSEMBLE

BLOCK_END = 0x00
BLOCK_GROUP = 0x01


def varint(value: int) -> bytes:
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


def _short_string(text: str) -> bytes:
    raw = text.encode("utf-8")[:255].decode("utf-8", "ignore").encode("utf-8")  # never cut a character
    return bytes([len(raw)]) + raw


def write_header(header: FrameHeader) -> bytes:
    """The frame header: magic, version, flags, sizes, model identity, coding parameters."""
    model, params = header.model, header.params
    if len(model.fingerprint) != FINGERPRINT_BYTES:
        raise ValueError(f"model fingerprint must be {FINGERPRINT_BYTES} bytes")
    flags = 0
    if header.content_size is not None:
        flags |= FLAG_CONTENT_SIZE
    if model.name:
        flags |= FLAG_MODEL_NAME
    if params.ensemble is not None:
        flags |= FLAG_ENSEMBLE
    out = bytearray(MAGIC)
    out += bytes([FORMAT_VERSION, flags])
    if header.content_size is not None:
        out += varint(header.content_size)
    out += model.fingerprint
    out += _short_string(model.llama_version)
    if model.name:
        out += _short_string(model.name)
    out.append(params.precision_bits)
    for value in (params.lanes, params.window, params.slide_keep, params.chunk_bytes, params.start_token):
        out += varint(value)
    if params.ensemble is not None:
        for value in params.ensemble.values():
            out += varint(value)
    return bytes(out)


def write_group(group: Group) -> bytes:
    """A group block: its chunk table, then the payloads in table order."""
    if not group.entries or len(group.entries) != len(group.payloads):
        raise ValueError("a group needs one payload per chunk entry, and at least one chunk")
    out = bytearray([BLOCK_GROUP])
    out += varint(len(group.entries))
    for entry, payload in zip(group.entries, group.payloads):
        if entry.payload_length != len(payload):
            raise ValueError("chunk entry payload_length does not match its payload")
        out.append(entry.method)
        out += varint(entry.length)
        if entry.method in NEURAL_METHODS:
            out += varint(entry.tokens)
        out += varint(entry.payload_length)
        out += entry.crc.to_bytes(4, "little")
    for payload in group.payloads:
        out += payload
    return bytes(out)


def write_end(end: EndBlock) -> bytes:
    """The end block: total size and CRC-32 of everything the frame decodes to."""
    return bytes([BLOCK_END]) + varint(end.content_size) + end.crc.to_bytes(4, "little")

