"""The version 2 container, model-free: golden bytes, round trips, and everything a decoder must reject.

Archives here hold stored, zstd and xz bytes, or neural chunks that are never decoded (the
``no_model`` fixture turns any attempt to load the model into an error the tests can see).
"""

from __future__ import annotations

import io
import os
import random

import pytest

import nacrith
import nacrith.api
from nacrith.constants import DEFAULT_SEGMENT_BYTES, MAGIC, PRECISION_BITS
from nacrith.container import (
    LAYOUT_CHUNK,
    LAYOUT_INDEXED,
    LAYOUT_SEGMENT,
    METHOD_NEURAL,
    METHOD_NEURAL_CRLF,
    METHOD_STORED,
    METHOD_XZ,
    METHOD_ZSTD,
    ChunkEntry,
    CodingParams,
    EndBlock,
    FrameHeader,
    FrameReader,
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
from nacrith.container.writer import varint
from nacrith.errors import CorruptArchiveError, NacrithError, TruncatedArchiveError, UnsupportedFormatError
from nacrith.neural.params import EnsembleParams

DEFAULT_MODEL = ModelInfo(bytes.fromhex("b179c9523d0e6a0f"), b"\xab\xcd", preset=1)
OTHER_MODEL = ModelInfo(bytes(range(1, 9)), b"\x01\x02", "other.gguf")
DEFAULTS = CodingParams(PRECISION_BITS, 8, 1024, 768, 65536, 1, EnsembleParams(), DEFAULT_SEGMENT_BYTES)
SMALL = CodingParams(PRECISION_BITS, 2, 64, 48, 4096, 1, EnsembleParams(), 8192)


class NeedsModel(NacrithError):
    """Raised instead of loading a model."""


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise NeedsModel("this test decodes without a model")

    monkeypatch.setattr(nacrith.api.NacrithDecompressor, "_engine", refuse)


def header(layout: int = LAYOUT_SEGMENT, params: CodingParams = SMALL, size: int | None = None, method: int = 0, model: ModelInfo = DEFAULT_MODEL) -> bytes:
    return write_header(FrameHeader(model, params, size, 2, layout, method))


def other_block(data: bytes, runs: list[int] | None = None, method: int = METHOD_STORED) -> bytes:
    payload = nacrith.fallback.encode(method, data)
    return write_other(OtherBytes(runs or [0, len(data)], method, len(payload), crc32(data), payload))


def segment(data: bytes) -> bytes:
    """A segment of other bytes only (stored)."""
    return other_block(data) + write_end(EndBlock(len(data), crc32(data)))


def indexed(parts: list[bytes], params: CodingParams = SMALL) -> bytes:
    bodies = [segment(p) for p in parts]
    index = [IndexEntry(len(p), len(b), crc32(p)) for p, b in zip(parts, bodies)]
    return header(LAYOUT_INDEXED, params) + b"".join(bodies) + write_index(index)


def read_all(archive: bytes) -> list:
    reader = FrameReader(io.BytesIO(archive))
    reader.read_header()
    return list(reader.blocks())


# --- golden bytes -----------------------------------------------------------------------------


def test_default_header_golden_bytes() -> None:
    """Default model and parameters: magic, version, descriptor, build tag, content size; nothing else."""
    data = header(LAYOUT_CHUNK, DEFAULTS, size=300, method=METHOD_NEURAL)
    assert data == bytes.fromhex("8e4e4352" "02" "94" "abcd" "ac02")
    # descriptor 0x94: layout 0, content size (0x04), model 1 (0x10), method 2 (0x80)


def test_header_with_a_named_model_and_parameters_golden_bytes() -> None:
    params = CodingParams(PRECISION_BITS, 2, 64, 48, 4096, 7, None, 8192)
    data = header(LAYOUT_INDEXED, params, model=OTHER_MODEL)
    assert data == bytes.fromhex(
        "8e4e4352" "02"
        "0a"  # layout 2, parameters (0x08), model 0 (by fingerprint)
        "0102"  # build tag
        "0102030405060708" "0a" + b"other.gguf".hex() +  # fingerprint, name
        "0202" "0340" "058020" "0607" "078040" "0800"  # lanes 2, window 64, chunk 4096, start 7, segment 8192, ensemble off
        "00"  # end of parameters (slide keep 48 is window 64's default)
    )


def test_one_chunk_frame_golden_bytes() -> None:
    data = b"hello"
    frame = header(LAYOUT_CHUNK, DEFAULTS, size=5, method=METHOD_STORED) + write_chunk(ChunkEntry(METHOD_STORED, 5, 0, 5, crc32(data)), data)
    assert frame == bytes.fromhex("8e4e4352" "02" "14" "abcd" "05" "05") + crc32(data).to_bytes(4, "little") + data
    assert nacrith.decompress(frame) == data


def test_blocks_golden_bytes() -> None:
    group = Group([ChunkEntry(METHOD_NEURAL, 300, 0, 2, 0x01020304), ChunkEntry(METHOD_NEURAL_CRLF, 5, 0, 1, 0)], [b"\xaa\xbb", b"\xcc"])
    assert write_group(group) == bytes.fromhex("01" "02" "02ac0202" "04030201" "030501" "00000000" "aabbcc")
    other = OtherBytes([3, 2, 1], METHOD_STORED, 2, 0x0A0B0C0D, b"xy")
    assert write_other(other) == bytes.fromhex("02" "03" "030201" "00" "02" "0d0c0b0a") + b"xy"
    assert write_end(EndBlock(300, 7)) == bytes.fromhex("00" "ac02" "07000000")
    index = write_index([IndexEntry(4096, 100, 1), IndexEntry(5, 20, 2)])
    body = bytes.fromhex("03" "02" "802064" "01000000" "0514" "02000000")
    assert index == body + len(body).to_bytes(4, "little") + b"\x8eNCX"


def test_empty_input_is_one_empty_segment(no_model: None) -> None:
    archive = nacrith.compress(b"")
    [frame] = nacrith.inspect(archive).frames
    assert (frame.layout, frame.original_size, len(frame.segments)) == ("one segment", 0, 1)
    assert nacrith.decompress(archive) == b""


# --- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        DEFAULTS,
        SMALL,
        CodingParams(30, 256, 1 << 16, 1, 1 << 26, 49151, EnsembleParams(ngram_orders=0, bias_rate=0), 1 << 30),
        CodingParams(1, 1, 2, 1, 1, 0, None, 4096),
    ],
)
@pytest.mark.parametrize("model", [DEFAULT_MODEL, OTHER_MODEL])
def test_header_round_trip(params: CodingParams, model: ModelInfo) -> None:
    for layout, size in ((LAYOUT_SEGMENT, None), (LAYOUT_INDEXED, 123456), (LAYOUT_CHUNK, 1)):
        data = header(layout, params, size, METHOD_NEURAL if layout == LAYOUT_CHUNK else 0, model)
        reader = FrameReader(io.BytesIO(data))
        got = reader.read_header()
        assert (got.model, got.params, got.content_size, got.layout, got.version) == (model, params, size, layout, 2)
        assert reader.offset == len(data)


def test_only_parameters_that_differ_from_their_defaults_are_written() -> None:
    assert len(header(LAYOUT_SEGMENT, DEFAULTS)) == 8
    import dataclasses

    one_off = dataclasses.replace(DEFAULTS, ensemble=dataclasses.replace(EnsembleParams(), mixer_rate=1000))
    assert header(LAYOUT_SEGMENT, one_off)[8:] == varint(17) + varint(1000) + b"\x00"


def test_indexed_frame_round_trip_and_its_index(no_model: None) -> None:
    parts = [os.urandom(100), b"a" * 4000, os.urandom(7)]
    archive = indexed(parts)
    assert nacrith.decompress(archive) == b"".join(parts)
    [frame] = nacrith.inspect(archive).frames
    assert [(s.plain_offset, s.plain_size) for s in frame.segments] == [(0, 100), (100, 4000), (4100, 7)]
    assert frame.segments[0].archive_offset == len(header(LAYOUT_INDEXED))
    assert frame.compressed_size == len(archive)


def test_other_bytes_and_text_interleave_by_their_runs(no_model: None) -> None:
    """Runs with no text can be placed without a model: a layout of other bytes between empty text runs."""
    data = b"abcdef"
    archive = header(LAYOUT_SEGMENT) + other_block(data, [0, 6]) + write_end(EndBlock(6, crc32(data)))
    assert nacrith.decompress(archive) == data


@pytest.mark.parametrize("method", [METHOD_STORED, METHOD_ZSTD, METHOD_XZ])
def test_other_bytes_in_every_fallback_method(method: int, no_model: None) -> None:
    data = b"\x00\x01\x02 some repeated bytes " * 40
    archive = header(LAYOUT_SEGMENT) + other_block(data, None, method) + write_end(EndBlock(len(data), crc32(data)))
    blocks = read_all(archive)
    assert isinstance(blocks[0], OtherBytes) and blocks[0].method in (method, METHOD_STORED)
    assert nacrith.decompress(archive) == data


def test_compress_picks_the_layout_by_size(no_model: None) -> None:
    small, big = os.urandom(1000), os.urandom(10_000)
    assert nacrith.inspect(nacrith.compress(small)).frames[0].layout == "one chunk"
    archive = nacrith.compress(big, segment_bytes=4096)
    [frame] = nacrith.inspect(archive).frames
    sizes = [s.plain_size for s in frame.segments]
    assert frame.layout == "indexed segments" and sum(sizes) == len(big) and max(sizes) <= 4096 and len(sizes) == 3
    assert nacrith.decompress(archive) == big


# --- rejections: the header ------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"\x8eNCQ\x02", b"PK\x03\x04", b"\x28\xb5\x2f\xfd"])
def test_bad_magic_is_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedFormatError, match="not a nacrith archive"):
        nacrith.decompress(data + bytes(20))


@pytest.mark.parametrize("version", [0, 3, 255])
def test_other_versions_are_unsupported(version: int) -> None:
    with pytest.raises(UnsupportedFormatError, match=f"version {version}"):
        nacrith.decompress(MAGIC + bytes([version]) + bytes(20))


@pytest.mark.parametrize(
    "descriptor, reason",
    [(0x13, "layout 3 and their window bits"), (0x31, "reserved model number"), (0x51, "reserved descriptor bits"), (0x10, "without its content size")],
)
def test_reserved_descriptor_values_are_rejected(descriptor: int, reason: str) -> None:
    with pytest.raises(CorruptArchiveError, match=reason):
        nacrith.decompress(MAGIC + bytes([2, descriptor]) + bytes(20))


def _with_pairs(pairs: bytes) -> bytes:
    return MAGIC + bytes([2, 0x19, 0xAB, 0xCD]) + pairs


@pytest.mark.parametrize(
    "pairs, error, reason",
    [
        (varint(99) + varint(1) + b"\x00", UnsupportedFormatError, "parameter 99, unknown"),
        (b"\x03\x40\x02\x02\x00", CorruptArchiveError, "out of order"),
        (b"\x02\x02\x02\x03\x00", CorruptArchiveError, "out of order or repeated"),
        (b"\x00", CorruptArchiveError, "no parameter follows"),
        (b"\x08\x00\x0a\x05\x00", CorruptArchiveError, "ensemble parameters given with the ensemble off"),
        (b"\x08\x02\x00", CorruptArchiveError, "ensemble switch"),
        (b"\x03\x01\x00", CorruptArchiveError, "window 1"),
        (b"\x07\x80\x10\x00", CorruptArchiveError, "segment size 2048"),
        (b"\x02" * 130 + b"\x00", CorruptArchiveError, "out of order"),
    ],
)
def test_bad_parameter_lists_are_rejected(pairs: bytes, error: type, reason: str) -> None:
    with pytest.raises(error, match=reason):
        nacrith.decompress(_with_pairs(pairs) + write_end(EndBlock(0, 0)))


def test_a_named_model_needs_its_start_token() -> None:
    data = header(LAYOUT_SEGMENT, DEFAULTS, model=OTHER_MODEL)
    assert b"\x06" in data[-4:], "the start token is written for a model named by fingerprint"
    bare = MAGIC + bytes([2, 0x01]) + b"\x01\x02" + bytes(range(1, 9)) + b"\x00"
    with pytest.raises(CorruptArchiveError, match="no start token"):
        nacrith.decompress(bare + write_end(EndBlock(0, 0)))


# --- rejections: blocks ------------------------------------------------------------------------------


def _segment_frame(*blocks: bytes) -> bytes:
    return header(LAYOUT_SEGMENT) + b"".join(blocks)


NEURAL = ChunkEntry(METHOD_NEURAL, 10, 0, 3, 0)


@pytest.mark.parametrize(
    "frame, reason",
    [
        (_segment_frame(b"\x07"), "unexpected block type 7"),
        (_segment_frame(b"\x03\x00"), "unexpected block type 3"),  # an index in a frame of one segment
        (_segment_frame(b"\x01\x00"), "group of 0 chunks"),
        (_segment_frame(b"\x01\x03"), "group of 3 chunks"),
        (_segment_frame(write_group(Group([NEURAL], [b"abc"])).replace(b"\x01\x01\x02", b"\x01\x01\x00", 1)), "method stored in a group"),
        (_segment_frame(b"\x01\x01\x02\x00"), "length 0 outside"),
        (_segment_frame(b"\x01\x01\x02" + varint(4097)), "length 4097 outside 1..4096"),
        (_segment_frame(b"\x01\x01\x02\x01" + varint(13)), "payload of 13 bytes exceeds 12"),
        (_segment_frame(b"\x02\x01"), "1 runs"),
        (_segment_frame(b"\x02\x03\x00\x05\x00"), "run 2 is empty"),
        (_segment_frame(b"\x02\x02\x00" + varint(9000)), "more than a segment"),
        (_segment_frame(b"\x02\x02\x00\x05\x02"), "coded with method neural"),
        (_segment_frame(b"\x02\x02\x00\x05\x00\x04"), "stored payload of 4 bytes for 5"),
        (_segment_frame(b"\x02\x02\x00\x05\x01\x05"), "zstd payload not smaller"),
        (_segment_frame(segment(b"abc")[:-6] + other_block(b"de")), "not at the start of segment 0"),
        (_segment_frame(other_block(b"abc") + write_end(EndBlock(4, 0))), "end block says 4 bytes, its blocks hold 3"),
        (_segment_frame(other_block(b"abc", [1, 3]) + write_end(EndBlock(4, 0))), "groups hold 0 bytes of text, its layout 1"),
        (_segment_frame(write_end(EndBlock(0, 0)) + b"\x00"), "after the end of the archive"),
        (header(LAYOUT_SEGMENT, size=5) + segment(b"abcdef"), "more than the 5 bytes the header declares"),
    ],
)
def test_bad_blocks_are_rejected_by_the_reader(frame: bytes, reason: str, no_model: None) -> None:
    with pytest.raises(CorruptArchiveError, match=reason):
        nacrith.decompress(frame)
    with pytest.raises(CorruptArchiveError, match=reason):
        nacrith.inspect(frame)


def test_a_segment_larger_than_the_header_allows_is_rejected(no_model: None) -> None:
    data = bytes(9000)
    archive = header(LAYOUT_SEGMENT) + other_block(data[:8192]) + write_end(EndBlock(8192, 0))
    nacrith.inspect(archive)  # at the limit: fine
    with pytest.raises(CorruptArchiveError):
        nacrith.inspect(header(LAYOUT_SEGMENT) + b"\x02\x02\x00" + varint(8193))


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda i: i.replace(b"\x03\x03", b"\x03\x02", 1), "lists 2 segments; the frame has 3"),
        (lambda i: i[:3] + bytes([i[3] ^ 1]) + i[4:], "the index disagrees with segment 0"),
        (lambda i: i[:-8] + (int.from_bytes(i[-8:-4], "little") + 1).to_bytes(4, "little") + i[-4:], "bad index footer"),
        (lambda i: i[:-1] + b"Y", "bad index footer"),
    ],
)
def test_an_index_that_disagrees_with_its_segments_is_rejected(damage, reason: str, no_model: None) -> None:
    parts = [b"a" * 100, b"b" * 200, b"c" * 5]
    archive = indexed(parts)
    index_at = archive.rindex(b"\x03\x03")
    damaged = archive[:index_at] + damage(archive[index_at:])
    with pytest.raises(CorruptArchiveError, match=reason):
        nacrith.decompress(damaged)


def test_bytes_after_an_archive_must_begin_another(no_model: None) -> None:
    archive = indexed([b"x" * 10])
    assert nacrith.decompress(archive + archive) == b"x" * 20
    for extra, where in ((b"garbage", len(archive)), (b"\x8eN!", len(archive))):
        with pytest.raises(CorruptArchiveError, match=f"after the end of the archive at byte {where}"):
            nacrith.decompress(archive + extra)
    with pytest.raises(TruncatedArchiveError):
        nacrith.decompress(archive + MAGIC[:2])


def test_a_neural_chunk_asks_for_the_model(no_model: None) -> None:
    frame = header(LAYOUT_CHUNK, DEFAULTS, size=10, method=METHOD_NEURAL) + write_chunk(NEURAL, b"abc")
    with pytest.raises(NeedsModel):
        nacrith.decompress(frame)
    assert nacrith.inspect(frame).frames[0].chunks[0].method == "neural"  # inspecting needs no model


# --- truncation and damage ----------------------------------------------------------------------------


def _model_free_archives() -> dict[str, bytes]:
    text_like = b"log line 17: \x00\x01 value=" * 30
    return {
        "one chunk": header(LAYOUT_CHUNK, DEFAULTS, size=5, method=METHOD_STORED) + write_chunk(ChunkEntry(0, 5, 0, 5, crc32(b"hello")), b"hello"),
        "one segment": _segment_frame(other_block(text_like, None, METHOD_XZ), write_end(EndBlock(len(text_like), crc32(text_like)))),
        "indexed": indexed([b"a" * 50, os.urandom(30), b"zz"]),
        "empty": nacrith.compress(b""),
    }


@pytest.mark.parametrize("name", list(_model_free_archives()))
def test_truncation_at_every_offset_is_truncation(name: str, no_model: None) -> None:
    archive = _model_free_archives()[name]
    for cut in range(len(archive)):
        with pytest.raises(TruncatedArchiveError):
            nacrith.decompress(archive[:cut])
        decompressor = nacrith.NacrithDecompressor(read_across_frames=True)
        decompressor.decompress(archive[:cut])
        assert not decompressor.eof


@pytest.mark.parametrize("name", list(_model_free_archives()))
def test_every_bit_flip_is_rejected_or_harmless(name: str, no_model: None) -> None:
    archive = _model_free_archives()[name]
    content = nacrith.decompress(archive)
    for at in range(len(archive)):
        for bit in range(8):
            damaged = archive[:at] + bytes([archive[at] ^ (1 << bit)]) + archive[at + 1 :]
            try:
                assert nacrith.decompress(damaged) == content, (at, bit)
            except (NacrithError, NeedsModel):
                pass


def test_random_damage_raises_only_nacrith_errors(no_model: None) -> None:
    rng = random.Random(5)
    archives = list(_model_free_archives().values())
    for _ in range(2000):
        archive = bytearray(rng.choice(archives))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(archive))
            archive[at : at + rng.randint(0, 3)] = bytes(rng.randrange(256) for _ in range(rng.randint(0, 3)))
        try:
            nacrith.decompress(bytes(archive))
        except (NacrithError, NeedsModel):
            pass


def test_binary_input_gets_segments_as_long_as_xz_s_dictionary(no_model: None) -> None:
    """Text is cut into 1 MiB segments; data that begins mostly binary into 64 MiB ones, so the cuts cost
    nothing against xz -9e (whose dictionary is 64 MiB). A size the caller chooses is kept."""
    import lzma

    rng = random.Random(7)
    words = [bytes(rng.randrange(256) for _ in range(rng.randrange(4, 40))) for _ in range(300)]
    data = b"".join(rng.choice(words) for _ in range(60_000))[: (3 << 20) // 2]  # 1.5 MiB, repetitive binary
    archive = nacrith.compress(data)
    [frame] = nacrith.inspect(archive).frames
    assert len(frame.segments) == 1 and frame.params.segment_bytes == 1 << 26
    assert len(archive) <= len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)) * 1.01 + 16
    assert nacrith.decompress(archive) == data
    chosen = nacrith.inspect(nacrith.compress(data[: 600_000], segment_bytes=1 << 18)).frames[0]
    assert chosen.params.segment_bytes == 1 << 18 and len(chosen.segments) == 3
