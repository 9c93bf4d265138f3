"""The fallback for bytes the model cannot code: zstd frames as FORMAT.md ("Method 1: zstd") allows them."""

from __future__ import annotations

import tracemalloc

import pytest
import zstandard

from nacrith import fallback
from nacrith.container import METHOD_STORED, METHOD_ZSTD
from nacrith.errors import CorruptArchiveError

TEXT = b"To be, or not to be, that is the question:\n" * 3


def frame(descriptor: int, *fields: bytes, blocks: bytes, checksum: bytes = b"") -> bytes:
    """A Zstandard frame: magic, frame header descriptor, the header's other fields, blocks, checksum."""
    return bytes.fromhex("28b52ffd") + bytes([descriptor]) + b"".join(fields) + blocks + checksum


def block(kind: int, size: int, content: bytes, last: bool = True) -> bytes:
    return (size << 3 | kind << 1 | last).to_bytes(3, "little") + content


RLE_64 = block(1, 64, b"a")
"""One RLE block: 64 bytes of ``a``."""


def test_pack_writes_zstd_only_when_smaller() -> None:
    assert fallback.pack(b"\x00\x01\x02\x03") == (METHOD_STORED, b"\x00\x01\x02\x03")
    method, payload = fallback.pack(TEXT)
    assert method == METHOD_ZSTD and len(payload) < len(TEXT)
    params = zstandard.get_frame_parameters(payload)
    assert params.content_size == zstandard.CONTENTSIZE_UNKNOWN and not params.has_checksum and params.dict_id == 0
    assert fallback.unpack(method, payload, len(TEXT)) == TEXT


def test_a_frame_with_a_checksum_is_accepted_and_checked() -> None:
    payload = zstandard.ZstdCompressor(level=19, write_content_size=False, write_checksum=True).compress(TEXT)
    assert fallback.unpack(METHOD_ZSTD, payload, len(TEXT)) == TEXT
    damaged = payload[:-1] + bytes([payload[-1] ^ 1])
    with pytest.raises(CorruptArchiveError, match="does not decompress"):
        fallback.unpack(METHOD_ZSTD, damaged, len(TEXT))


def test_a_frame_cut_anywhere_is_rejected() -> None:
    """Every prefix: libzstd's streaming decoder alone accepts a frame whose checksum is cut off."""
    payload = zstandard.ZstdCompressor(level=19, write_content_size=False, write_checksum=True).compress(TEXT)
    for cut in range(len(payload)):
        with pytest.raises(CorruptArchiveError, match="cut short" if cut >= 4 else "not a Zstandard frame"):
            fallback.unpack(METHOD_ZSTD, payload[:cut], len(TEXT))


def test_a_frame_without_its_last_block_is_rejected() -> None:
    assert fallback.unpack(METHOD_ZSTD, frame(0x00, b"\x00", blocks=RLE_64), 64) == b"a" * 64
    with pytest.raises(CorruptArchiveError, match="before its last block"):
        fallback.unpack(METHOD_ZSTD, frame(0x00, b"\x00", blocks=block(1, 64, b"a", last=False)), 64)


@pytest.mark.parametrize("magic", ["502a4d18", "5f2a4d18"])
def test_a_skippable_frame_is_rejected_as_one(magic: str) -> None:
    payload = bytes.fromhex(magic) + bytes(4) + frame(0x00, b"\x00", blocks=RLE_64)
    with pytest.raises(CorruptArchiveError, match="skippable frame"):
        fallback.unpack(METHOD_ZSTD, payload, 64)


@pytest.mark.parametrize("payload", [b"", b"\x28\xb5\x2f", b"not a zstd frame", bytes.fromhex("28b52ffe0000") + RLE_64])
def test_what_is_not_a_zstd_frame_is_rejected(payload: bytes) -> None:
    with pytest.raises(CorruptArchiveError, match="not a Zstandard frame"):
        fallback.unpack(METHOD_ZSTD, payload, 64)


@pytest.mark.parametrize(
    "descriptor, fields",
    [(0x20, [b"\x40"]), (0x40, [b"\x00", b"\x40\x00"]), (0x80, [b"\x00", b"\x40\x00\x00\x00"]), (0xC0, [b"\x00", bytes(8)])],
    ids=["single segment", "2 bytes", "4 bytes", "8 bytes"],
)
def test_a_frame_content_size_is_rejected(descriptor: int, fields: list[bytes]) -> None:
    with pytest.raises(CorruptArchiveError, match="Frame_Content_Size"):
        fallback.unpack(METHOD_ZSTD, frame(descriptor, *fields, blocks=RLE_64), 64)


@pytest.mark.parametrize("flag, size", [(1, 1), (2, 2), (3, 4)])
def test_a_dictionary_id_other_than_0_is_rejected(flag: int, size: int) -> None:
    with pytest.raises(CorruptArchiveError, match="dictionary 7"):
        fallback.unpack(METHOD_ZSTD, frame(flag, b"\x00", (7).to_bytes(size, "little"), blocks=RLE_64), 64)
    # RFC 8878: a Dictionary_ID of 0 is the same as none.
    assert fallback.unpack(METHOD_ZSTD, frame(flag, b"\x00", bytes(size), blocks=RLE_64), 64) == b"a" * 64


def test_a_window_over_2_27_is_rejected() -> None:
    assert fallback.unpack(METHOD_ZSTD, frame(0x00, b"\x88", blocks=RLE_64), 64) == b"a" * 64  # 2**27
    for window in (0x89, 0x90, 0xFF):  # 2**27 + 2**24, 2**28, the largest
        with pytest.raises(CorruptArchiveError, match="window"):
            fallback.unpack(METHOD_ZSTD, frame(0x00, bytes([window]), blocks=RLE_64), 64)


def test_reserved_bits_and_block_types_are_rejected() -> None:
    with pytest.raises(CorruptArchiveError, match="reserved bit"):
        fallback.unpack(METHOD_ZSTD, frame(0x08, b"\x00", blocks=RLE_64), 64)
    with pytest.raises(CorruptArchiveError, match="reserved type"):
        fallback.unpack(METHOD_ZSTD, frame(0x00, b"\x00", blocks=block(3, 64, b"a")), 64)


def test_the_length_must_be_exact() -> None:
    payload = frame(0x00, b"\x00", blocks=RLE_64)
    for length in (63, 65, 1):
        with pytest.raises(CorruptArchiveError, match="the table says"):
            fallback.unpack(METHOD_ZSTD, payload, length)


def test_bytes_after_the_frame_are_ignored() -> None:
    assert fallback.unpack(METHOD_ZSTD, frame(0x00, b"\x00", blocks=RLE_64) + b"junk", 64) == b"a" * 64


def test_a_frame_that_expands_far_past_its_length_allocates_only_the_length() -> None:
    """2**12 RLE blocks of 2**17 bytes each, 512 MiB of output from 16 KiB, for a chunk of 100 bytes."""
    blocks = block(1, 1 << 17, b"a", last=False) * ((1 << 12) - 1) + block(1, 1 << 17, b"a")
    payload = frame(0x00, b"\x38", blocks=blocks)  # a window of 2**17
    tracemalloc.start()
    try:
        with pytest.raises(CorruptArchiveError, match="more than 100 bytes"):
            fallback.unpack(METHOD_ZSTD, payload, 100)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"decoding allocated {peak} bytes"
