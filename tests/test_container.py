"""The container: exact bytes, round trips, and every archive a decoder must reject (FORMAT.md).

No model is needed: archives here hold stored and zstd chunks, or neural chunks that are
only parsed. Decoding whole archives goes through nacrith.decompress with model loading
replaced by a sentinel exception (NeedsModel), so a test sees exactly when a damaged
archive would have asked for the model, or by an engine for another model (OtherModel),
as the default model is for these archives.
"""

from __future__ import annotations

import io
import random
import struct
import tracemalloc
import zlib
from pathlib import Path

import pytest

import nacrith
import nacrith.api
from nacrith import fallback
from nacrith.constants import MAGIC, MAX_CHUNK_BYTES, MAX_GROUP_CHUNKS, MAX_LANES
from nacrith.container import (
    METHOD_NEURAL,
    METHOD_STORED,
    METHOD_ZSTD,
    NEURAL_METHODS,
    ChunkEntry,
    CodingParams,
    EndBlock,
    FrameHeader,
    FrameReader,
    Group,
    ModelInfo,
    crc32,
    write_end,
    write_group,
    write_header,
)
from nacrith.errors import (
    CorruptArchiveError,
    ModelMismatchError,
    NacrithError,
    TruncatedArchiveError,
    UnsupportedFormatError,
)

FINGERPRINT = bytes.fromhex("0102030405060708")
MODEL = ModelInfo(FINGERPRINT, "0.3.36/abcdef01")
PARAMS = CodingParams(precision_bits=24, lanes=8, window=2048, slide_keep=1536, chunk_bytes=65536, start_token=1)

SMALL = CodingParams(precision_bits=24, lanes=2, window=16, slide_keep=12, chunk_bytes=64, start_token=1)
"""Small limits, so bounds are easy to reach: neural chunks up to 64 bytes, others up to 128."""


def read_all(data: bytes) -> tuple[FrameHeader, list[Group | EndBlock]]:
    reader = FrameReader(io.BytesIO(data))
    header = reader.read_header()
    return header, list(reader.blocks())


def frame(*groups: Group, params: CodingParams = SMALL, content_size: int | None = None, end: EndBlock | None = None) -> bytes:
    """An archive of these groups; the end block is computed from nothing (containers do not check it)."""
    out = write_header(FrameHeader(MODEL, params, content_size))
    out += b"".join(write_group(g) for g in groups)
    return out + write_end(end or EndBlock(0, 0))


def chunk(method: int, length: int, payload: bytes, tokens: int = 0, crc: int = 0) -> tuple[ChunkEntry, bytes]:
    return ChunkEntry(method, length, tokens, len(payload), crc), payload


def group(*chunks: tuple[ChunkEntry, bytes]) -> Group:
    return Group([c[0] for c in chunks], [c[1] for c in chunks])


def packed_group(*contents: bytes) -> Group:
    """A group of real stored or zstd chunks, as the encoder writes them."""
    chunks = []
    for data in contents:
        method, payload = fallback.pack(data)
        chunks.append(chunk(method, len(data), payload, crc=crc32(data)))
    return group(*chunks)


def archive_of(*groups_contents: list[bytes], params: CodingParams = SMALL, content_size: bool = True) -> tuple[bytes, bytes]:
    """A complete, decodable archive without neural chunks, and its content."""
    content = b"".join(b"".join(g) for g in groups_contents)
    out = write_header(FrameHeader(MODEL, params, len(content) if content_size else None))
    out += b"".join(write_group(packed_group(*g)) for g in groups_contents)
    return out + write_end(EndBlock(len(content), crc32(content))), content


class NeedsModel(Exception):
    """Raised instead of loading a model. Not a NacrithError, so no test mistakes it for a rejection."""


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise NeedsModel("this test decodes without a model")

    monkeypatch.setattr(nacrith.api, "shared_engine", refuse)


class OtherModel:
    """An engine for a model other than the one these archives name; nothing of it may be loaded."""

    fingerprint = bytes(8)

    def describe(self) -> str:
        return "other.gguf [0000000000000000]"

    @property
    def model(self):  # type: ignore[no-untyped-def]
        raise NeedsModel("the model itself was used")


@pytest.fixture
def other_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Decoding meets a model that is not the archive's, as it would with the default model."""
    monkeypatch.setattr(nacrith.api, "shared_engine", lambda *args, **kwargs: OtherModel())


# --- golden bytes ----------------------------------------------------------------------------


def test_header_golden_bytes() -> None:
    header = FrameHeader(MODEL, PARAMS, content_size=300)
    assert write_header(header) == bytes.fromhex(
        "8e4e4352"  # magic
        "01"  # version
        "01"  # flags: content size
        "ac02"  # content size 300
        "0102030405060708"  # model fingerprint
        "0f" + b"0.3.36/abcdef01".hex() +  # llama.cpp build
        "18"  # precision 24
        "08"  # lanes 8
        "8010"  # window 2048
        "800c"  # slide keep 1536
        "808004"  # chunk size 65536
        "01"  # start token 1
    )


def test_header_with_model_name_and_no_content_size_golden_bytes() -> None:
    header = FrameHeader(ModelInfo(bytes(8), "b", "m.gguf"), CodingParams(1, 1, 2, 1, 1, 0))
    assert write_header(header) == bytes.fromhex(
        "8e4e4352" "01" "02"  # magic, version, flags: model name
        "0000000000000000" "0162" "066d2e67677566"  # fingerprint, build "b", name "m.gguf"
        "01" "01" "02" "01" "01" "00"  # precision 1, lanes 1, window 2, keep 1, chunk size 1, start token 0
    )


def test_group_golden_bytes() -> None:
    g = group(
        chunk(METHOD_STORED, 2, b"hi", crc=crc32(b"hi")),
        chunk(METHOD_ZSTD, 10, b"\xaa\xbb\xcc", crc=0xDEADBEEF),
        chunk(METHOD_NEURAL, 300, b"\x01\x02\x03\x04", tokens=70, crc=0x01020304),
    )
    assert write_group(g) == bytes.fromhex(
        "01"  # block type: group
        "03"  # three chunks
        "00" "02" "02" "ac2a93d8"  # stored, length 2, payload 2, CRC-32 of b"hi"
        "01" "0a" "03" "efbeadde"  # zstd, length 10, payload 3
        "02" "ac02" "46" "04" "04030201"  # neural, length 300, 70 tokens, payload 4
        "6869" "aabbcc" "01020304"  # payloads in table order
    )


def test_end_golden_bytes() -> None:
    assert write_end(EndBlock(300, 0xCAFEF00D)) == bytes.fromhex("00" "ac02" "0df0feca")


def test_empty_archive_golden_bytes(no_model: None) -> None:
    archive = write_header(FrameHeader(MODEL, PARAMS, 0)) + write_end(EndBlock(0, crc32(b"")))
    assert archive == bytes.fromhex(
        "8e4e4352010100" "0102030405060708" "0f" + b"0.3.36/abcdef01".hex() + "18088010800c80800401" "0000" "00000000"
    )
    assert nacrith.decompress(archive) == b""


def test_crc32_is_iso_3309() -> None:
    assert crc32(b"123456789") == 0xCBF43926 == zlib.crc32(b"123456789")
    assert crc32(b"") == 0
    assert crc32(b"56789", crc32(b"1234")) == 0xCBF43926  # running CRC, as the content CRC is built


# --- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        FrameHeader(MODEL, PARAMS),
        FrameHeader(MODEL, PARAMS, 0),
        FrameHeader(MODEL, PARAMS, (1 << 63) - 1),
        FrameHeader(ModelInfo(b"\xff" * 8, "", "a model.gguf"), SMALL, 5),
        FrameHeader(
            ModelInfo(bytes(8), "x" * 255, "\u00fc" * 127),
            CodingParams(30, MAX_LANES, 1 << 16, (1 << 16) - 1, MAX_CHUNK_BYTES, (1 << 63) - 1),
        ),
        FrameHeader(MODEL, CodingParams(1, 1, 2, 1, 1, 0)),
    ],
    ids=["stream", "empty", "largest size", "named model", "largest parameters", "smallest parameters"],
)
def test_header_round_trip(header: FrameHeader) -> None:
    data = write_header(header)
    reader = FrameReader(io.BytesIO(data))
    assert reader.read_header() == header
    assert reader.offset == len(data)


@pytest.mark.parametrize(
    "g",
    [
        group(chunk(METHOD_STORED, 1, b"x")),
        group(chunk(METHOD_ZSTD, 128, b"z" * 127)),
        group(chunk(METHOD_NEURAL, 64, b"\x80" * 41, tokens=10)),  # the largest payload 10 tokens may have
        group(chunk(METHOD_NEURAL, 64, b"", tokens=64)),
        group(chunk(METHOD_NEURAL, 3, b"a", 1), chunk(METHOD_STORED, 128, bytes(128)), chunk(METHOD_NEURAL, 5, b"b", 2)),
        group(*[chunk(METHOD_STORED, 1, bytes([i % 256])) for i in range(MAX_GROUP_CHUNKS)]),
    ],
    ids=["one byte", "longest zstd", "payload bound", "empty neural payload", "lanes between others", "most chunks"],
)
def test_group_round_trip(g: Group) -> None:
    header, blocks = read_all(frame(g, end=EndBlock(7, 0x89ABCDEF)))
    assert header.params == SMALL
    assert blocks == [g, EndBlock(7, 0x89ABCDEF)]


def test_many_groups_then_end_round_trip() -> None:
    groups = [group(chunk(METHOD_STORED, n, bytes(n), crc=n)) for n in (1, 2, 3)]
    _, blocks = read_all(frame(*groups, end=EndBlock(6, 1)))
    assert blocks == [*groups, EndBlock(6, 1)]


def test_reader_offset_counts_every_byte() -> None:
    data = frame(group(chunk(METHOD_STORED, 3, b"abc")))
    reader = FrameReader(io.BytesIO(data))
    reader.read_header()
    list(reader.blocks())
    assert reader.offset == len(data)


@pytest.mark.parametrize("value", [0, 1, 127, 128, 255, 16383, 16384, 1 << 32, (1 << 63) - 1])
def test_varint_round_trips_minimally(value: int) -> None:
    data = write_end(EndBlock(value, 0))
    assert len(data) == 1 + max(1, -(-value.bit_length() // 7)) + 4
    _, blocks = read_all(write_header(FrameHeader(MODEL, SMALL)) + data)
    assert blocks == [EndBlock(value, 0)]


def test_writer_refuses_what_it_cannot_write() -> None:
    with pytest.raises(ValueError, match="fingerprint"):
        write_header(FrameHeader(ModelInfo(b"short", "b"), SMALL))
    with pytest.raises(ValueError, match="varint"):
        write_end(EndBlock(1 << 63, 0))
    with pytest.raises(ValueError, match="varint"):
        write_end(EndBlock(-1, 0))
    with pytest.raises(ValueError, match="at least one chunk"):
        write_group(Group([], []))
    with pytest.raises(ValueError, match="payload"):
        write_group(Group([ChunkEntry(METHOD_STORED, 2, 0, 2, 0)], [b"abc"]))


# --- rejections: the header -----------------------------------------------------------------------

GOOD_HEADER = write_header(FrameHeader(MODEL, PARAMS, 300))
END = write_end(EndBlock(0, 0))


@pytest.mark.parametrize("data", [b"\x8eNCX\x01", b"NCR\x8e\x01\x00", b"hello, world", b"\x28\xb5\x2f\xfd" + bytes(20), b"ab"])
def test_bad_magic_is_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedFormatError, match="magic"):
        FrameReader(io.BytesIO(data)).read_header()


@pytest.mark.parametrize("version", [0, 2, 255])
def test_other_version_is_unsupported(version: int) -> None:
    data = MAGIC + bytes([version]) + GOOD_HEADER[5:]
    with pytest.raises(UnsupportedFormatError, match=f"version {version}"):
        FrameReader(io.BytesIO(data)).read_header()


@pytest.mark.parametrize("bit", range(3, 8))
def test_reserved_flag_bits_are_rejected(bit: int) -> None:
    data = GOOD_HEADER[:5] + bytes([GOOD_HEADER[5] | 1 << bit]) + GOOD_HEADER[6:]
    with pytest.raises(CorruptArchiveError, match="reserved header flag") as info:
        FrameReader(io.BytesIO(data)).read_header()
    assert not isinstance(info.value, TruncatedArchiveError)


@pytest.mark.parametrize(
    "size_bytes",
    ["ac8200", "8000", "ff00", "80808080808080808001", "ffffffffffffffffff7f"],
    ids=["300 in three bytes", "0 in two bytes", "127 in two bytes", "ten bytes", "ten bytes, max"],
)
def test_over_long_varints_are_rejected(size_bytes: str) -> None:
    data = GOOD_HEADER[:6] + bytes.fromhex(size_bytes) + GOOD_HEADER[8:]
    with pytest.raises(CorruptArchiveError, match="varint") as info:
        FrameReader(io.BytesIO(data)).read_header()
    assert not isinstance(info.value, TruncatedArchiveError)


def test_the_longest_varint_is_accepted() -> None:
    data = GOOD_HEADER[:6] + bytes.fromhex("ffffffffffffffff7f") + GOOD_HEADER[8:]
    assert FrameReader(io.BytesIO(data)).read_header().content_size == (1 << 63) - 1


def test_over_long_varints_are_rejected_in_blocks_too() -> None:
    header = write_header(FrameHeader(MODEL, SMALL))
    for block in ["008000" "00000000", "018100", "0101" "00" "8100" "01" "00000000" "78"]:
        with pytest.raises(CorruptArchiveError, match="over-long varint"):
            read_all(header + bytes.fromhex(block))


def test_strings_must_be_utf8() -> None:
    bad = write_header(FrameHeader(ModelInfo(FINGERPRINT, "\u00e9\u00e9"), SMALL))
    bad = bad.replace("\u00e9\u00e9".encode(), b"\xff\xfe")
    with pytest.raises(CorruptArchiveError, match="UTF-8"):
        FrameReader(io.BytesIO(bad)).read_header()


def _replace(params: CodingParams, **changes: int) -> CodingParams:
    return CodingParams(**{**params.__dict__, **changes})


IMPOSSIBLE = {
    "precision 0": dict(precision_bits=0),
    "precision 31": dict(precision_bits=31),
    "no lanes": dict(lanes=0),
    "too many lanes": dict(lanes=MAX_LANES + 1),
    "window 1": dict(window=1, slide_keep=1),
    "window too large": dict(window=(1 << 16) + 1),
    "keep nothing": dict(slide_keep=0),
    "keep the window": dict(slide_keep=16),
    "keep more than the window": dict(slide_keep=17),
    "chunk size 0": dict(chunk_bytes=0),
    "chunk size too large": dict(chunk_bytes=MAX_CHUNK_BYTES + 1),
}


@pytest.mark.parametrize("changes", IMPOSSIBLE.values(), ids=IMPOSSIBLE.keys())
def test_impossible_parameters_are_rejected(changes: dict) -> None:
    params = _replace(SMALL, **changes)
    with pytest.raises(CorruptArchiveError, match="impossible coding parameters"):
        params.validate()
    with pytest.raises(CorruptArchiveError, match="impossible coding parameters"):
        FrameReader(io.BytesIO(write_header(FrameHeader(MODEL, params)) + END)).read_header()


def test_every_impossible_parameter_is_named() -> None:
    with pytest.raises(CorruptArchiveError) as info:
        CodingParams(0, 0, 1, 0, 0, 0).validate()
    for name in ("precision", "lanes", "window", "slide keep", "chunk size"):
        assert name in str(info.value)


@pytest.mark.parametrize(
    "params",
    [CodingParams(1, 1, 2, 1, 1, 0), CodingParams(30, MAX_LANES, 1 << 16, (1 << 16) - 1, MAX_CHUNK_BYTES, 0)],
    ids=["smallest", "largest"],
)
def test_parameters_at_their_bounds_are_accepted(params: CodingParams) -> None:
    params.validate()
    assert FrameReader(io.BytesIO(write_header(FrameHeader(MODEL, params)))).read_header().params == params


def test_ensemble_parameters_round_trip_and_set_flag_bit_2() -> None:
    from nacrith.neural.params import EnsembleParams

    params = _replace(SMALL, ensemble=EnsembleParams(ngram_orders=3, bias_rate=1))
    data = write_header(FrameHeader(MODEL, params))
    assert data[5] & 0x04
    assert not write_header(FrameHeader(MODEL, SMALL))[5] & 0x04
    assert FrameReader(io.BytesIO(data)).read_header().params == params


@pytest.mark.parametrize(
    "changes, named",
    [
        (dict(ngram_orders=17), "ngram orders"),
        (dict(history_bits=27), "history bits"),
        (dict(mixer_rate=0), "mixer rate"),
        (dict(ngram_orders=16, ngram_table_bits=22), "MiB"),
        (dict(ngram_orders=0, match_min_length=0, bias_rate=0), "every model off"),
    ],
)
def test_impossible_ensemble_parameters_are_rejected_before_any_allocation(changes: dict, named: str) -> None:
    from nacrith.neural.params import EnsembleParams

    params = _replace(SMALL, ensemble=EnsembleParams(**changes))
    with pytest.raises(CorruptArchiveError, match=named):
        FrameReader(io.BytesIO(write_header(FrameHeader(MODEL, params)) + END)).read_header()


def test_a_header_cut_inside_the_ensemble_parameters_is_truncated() -> None:
    from nacrith.neural.params import EnsembleParams

    data = write_header(FrameHeader(MODEL, _replace(SMALL, ensemble=EnsembleParams())))
    with pytest.raises(TruncatedArchiveError, match="ensemble parameter"):
        FrameReader(io.BytesIO(data[:-2])).read_header()


# --- rejections: blocks and chunk tables ---------------------------------------------------------------

SMALL_HEADER = write_header(FrameHeader(MODEL, SMALL))


def _read_group(g: Group, params: CodingParams = SMALL) -> None:
    read_all(write_header(FrameHeader(MODEL, params)) + write_group(g) + END)


@pytest.mark.parametrize("kind", [2, 3, 0x80, 0xFF])
def test_unknown_block_type_is_rejected(kind: int) -> None:
    with pytest.raises(CorruptArchiveError, match=f"unknown block type {kind}"):
        read_all(SMALL_HEADER + bytes([kind]) + END)


@pytest.mark.parametrize("method", [4, 5, 0x80, 0xFF])
def test_unknown_method_is_rejected(method: int) -> None:
    with pytest.raises(CorruptArchiveError, match=f"unknown method {method}"):
        read_all(SMALL_HEADER + bytes([1, 1, method, 1, 1]) + bytes(4) + b"x" + END)


def test_group_of_no_chunks_is_rejected() -> None:
    with pytest.raises(CorruptArchiveError, match="group of 0 chunks"):
        read_all(SMALL_HEADER + b"\x01\x00" + END)


def test_group_of_too_many_chunks_is_rejected_before_its_table() -> None:
    count = MAX_GROUP_CHUNKS + 1
    with pytest.raises(CorruptArchiveError, match=f"group of {count} chunks") as info:
        read_all(SMALL_HEADER + b"\x01" + _varint(count))  # nothing follows: the count alone is enough
    assert not isinstance(info.value, TruncatedArchiveError)


OUT_OF_BOUNDS = {
    # ChunkEntry(method, length, tokens, payload length, CRC) against SMALL: C = 64, L = 2, P = 24
    "empty stored chunk": ChunkEntry(METHOD_STORED, 0, 0, 0, 0),
    "empty zstd chunk": ChunkEntry(METHOD_ZSTD, 0, 0, 0, 0),
    "empty neural chunk": ChunkEntry(METHOD_NEURAL, 0, 0, 0, 0),
    "neural longer than the chunk size": ChunkEntry(METHOD_NEURAL, 65, 1, 1, 0),
    "stored longer than chunk size x lanes": ChunkEntry(METHOD_STORED, 129, 0, 129, 0),
    "zstd longer than chunk size x lanes": ChunkEntry(METHOD_ZSTD, 129, 0, 1, 0),
    "stored payload shorter than its length": ChunkEntry(METHOD_STORED, 5, 0, 4, 0),
    "stored payload longer than its length": ChunkEntry(METHOD_STORED, 5, 0, 6, 0),
    "zstd payload as long as its length": ChunkEntry(METHOD_ZSTD, 5, 0, 5, 0),
    "neural chunk of no token": ChunkEntry(METHOD_NEURAL, 5, 0, 1, 0),
    "more tokens than bytes": ChunkEntry(METHOD_NEURAL, 5, 6, 1, 0),
    "neural payload over its bound": ChunkEntry(METHOD_NEURAL, 64, 10, 42, 0),
    "huge neural payload": ChunkEntry(METHOD_NEURAL, 64, 10, (1 << 63) - 1, 0),
    "huge stored chunk": ChunkEntry(METHOD_STORED, (1 << 63) - 1, 0, (1 << 63) - 1, 0),
}


@pytest.mark.parametrize("entry", OUT_OF_BOUNDS.values(), ids=OUT_OF_BOUNDS.keys())
def test_lengths_out_of_bounds_are_rejected_before_any_payload(entry: ChunkEntry) -> None:
    table = bytearray(b"\x01\x01" + bytes([entry.method]) + _varint(entry.length))
    if entry.method == METHOD_NEURAL:
        table += _varint(entry.tokens)
    table += _varint(entry.payload_length) + bytes(4)
    with pytest.raises(CorruptArchiveError, match="chunk 0") as info:
        read_all(SMALL_HEADER + bytes(table))  # no payload follows: the table alone is refused
    assert not isinstance(info.value, TruncatedArchiveError)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append(value & 0x7F | (0x80 if value >> 7 else 0))
        value >>= 7
        if not value:
            return bytes(out)


def test_neural_payload_bound_follows_tokens_and_precision() -> None:
    for precision, tokens in [(24, 10), (24, 1), (8, 3), (30, 7), (1, 1)]:
        params = _replace(SMALL, precision_bits=precision)
        bound = (tokens * (precision + 2) + 7) // 8 + 8
        _read_group(group(chunk(METHOD_NEURAL, 64, bytes(bound), tokens=tokens)), params)
        with pytest.raises(CorruptArchiveError, match=f"exceeds {bound}"):
            _read_group(group(chunk(METHOD_NEURAL, 64, bytes(bound + 1), tokens=tokens)), params)


def test_more_neural_chunks_than_lanes_are_rejected() -> None:
    neural = chunk(METHOD_NEURAL, 4, b"n", tokens=1)
    stored = chunk(METHOD_STORED, 1, b"s")
    _read_group(group(neural, stored, stored, neural, stored))  # two lanes: others do not count
    with pytest.raises(CorruptArchiveError, match="3 neural chunks; the archive allows 2 lanes"):
        _read_group(group(neural, stored, neural, neural))


def test_data_after_the_end_block_is_rejected(no_model: None) -> None:
    archive, content = archive_of([b"hello"])
    assert nacrith.decompress(archive) == content
    for extra in (b"\x00", b"\x01", b"NCR!", archive[1:]):
        with pytest.raises(CorruptArchiveError, match=f"after the end of the archive at byte {len(archive)}"):
            nacrith.decompress(archive + extra)
    for extra in (b"\x00", archive):  # a frame read alone must be the whole input
        with pytest.raises(CorruptArchiveError, match="after the end"):
            read_all(archive + extra)


def test_concatenated_archives_decode_to_the_concatenation(no_model: None, tmp_path: Path) -> None:
    """FORMAT.md, Overview: `cat a.nacr b.nacr` is an archive of both contents, as with gzip, xz and zstd."""
    first, a = archive_of([b"hello "])
    second, b = archive_of([b"world", b"!"], content_size=False)
    empty, _ = archive_of()
    joined = first + empty + second
    assert nacrith.decompress(joined) == a + b
    path = tmp_path / "joined.nacr"
    path.write_bytes(joined)
    with nacrith.open(path, "rb") as f:
        assert f.read() == a + b
    for cut in (len(joined) - 1, len(first) + len(empty) + 2):  # inside the last frame, inside its magic
        with pytest.raises(TruncatedArchiveError):
            nacrith.decompress(joined[:cut])


def test_streaming_decoder_hands_back_data_after_the_end(no_model: None) -> None:
    archive, content = archive_of([b"hello"])
    d = nacrith.NacrithDecompressor()
    assert d.decompress(archive + b"tail") == content
    assert d.eof and d.unused_data == b"tail"


# --- rejections: the frame as a whole (checked by the decoder, no model needed) --------------------------


def test_chunk_checksum_mismatch_is_rejected(no_model: None) -> None:
    archive, _ = archive_of([b"hello"])
    at = archive.index(crc32(b"hello").to_bytes(4, "little"))
    damaged = archive[:at] + bytes([archive[at] ^ 1]) + archive[at + 1 :]
    with pytest.raises(CorruptArchiveError, match="chunk 0 .*fails its checksum"):
        nacrith.decompress(damaged)


def test_zstd_payload_that_does_not_decompress_is_rejected() -> None:
    with pytest.raises(CorruptArchiveError, match="zstd"):
        fallback.unpack(METHOD_ZSTD, b"not a zstd frame", 100)
    method, payload = fallback.pack(b"abc" * 50)
    assert method == METHOD_ZSTD
    with pytest.raises(CorruptArchiveError, match="zstd"):
        fallback.unpack(METHOD_ZSTD, payload, 149)  # one byte less than it holds
    with pytest.raises(CorruptArchiveError, match="zstd"):
        fallback.unpack(METHOD_ZSTD, payload, 151)


@pytest.mark.parametrize(
    "end, header_size, message",
    [((6, None), 5, "declares 6"), ((5, 0), 5, "checksum"), ((5, None), 6, "header: 6")],
    ids=["end size", "end checksum", "header size"],
)
def test_end_block_must_match_the_content(end, header_size, message, no_model: None) -> None:
    content = b"hello"
    out = write_header(FrameHeader(MODEL, SMALL, header_size)) + write_group(packed_group(content))
    out += write_end(EndBlock(end[0], crc32(content) if end[1] is None else end[1]))
    with pytest.raises(CorruptArchiveError, match=message):
        nacrith.decompress(out)


def test_archive_without_neural_chunks_decodes_without_a_model(no_model: None) -> None:
    archive, content = archive_of([b"\x00\x01binary", b"abc" * 40], [b"tail"])
    assert nacrith.decompress(archive) == content


def test_neural_chunk_asks_for_the_model(no_model: None) -> None:
    archive = frame(group(chunk(METHOD_NEURAL, 4, b"\x80", tokens=1)), end=EndBlock(4, 0))
    with pytest.raises(NeedsModel):
        nacrith.decompress(archive)


# --- truncation and damage ---------------------------------------------------------------------------------


def _small_archives() -> dict[str, bytes]:
    plain, _ = archive_of([b"\x00\x01\x02hello", b"To be, or not to be. " * 3], [b"!\n"])
    neural = write_header(FrameHeader(ModelInfo(FINGERPRINT, "0.3.36/abcdef01", "tiny.gguf"), SMALL, 100))
    neural += write_group(
        group(
            chunk(METHOD_NEURAL, 40, bytes.fromhex("c0ffee1234"), tokens=9, crc=0x11111111),
            chunk(METHOD_STORED, 3, b"\xff\xfe\xfd", crc=crc32(b"\xff\xfe\xfd")),
            chunk(METHOD_NEURAL, 57, bytes.fromhex("0123456789abcdef"), tokens=20, crc=0x22222222),
        )
    )
    neural += write_end(EndBlock(100, 0x33333333))
    return {"plain": plain, "neural": neural}


SMALL_ARCHIVES = _small_archives()


@pytest.mark.parametrize("name", SMALL_ARCHIVES)
def test_truncation_at_every_offset_is_reported_as_truncation(name: str, tmp_path: Path) -> None:
    archive = SMALL_ARCHIVES[name]
    read_all(archive)  # whole, it reads
    assert issubclass(TruncatedArchiveError, CorruptArchiveError)
    path = tmp_path / "cut.nacr"
    tracemalloc.start()
    try:
        for cut in range(len(archive)):
            with pytest.raises(TruncatedArchiveError):
                read_all(archive[:cut])
            path.write_bytes(archive[:cut])
            with open(path, "rb") as f, pytest.raises(TruncatedArchiveError):
                reader = FrameReader(f)
                reader.read_header()
                list(reader.blocks())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"reading truncated archives allocated {peak} bytes"


def test_truncated_archive_fails_the_same_way_through_the_api(no_model: None) -> None:
    archive = SMALL_ARCHIVES["plain"]
    assert nacrith.decompress(archive)
    for cut in range(len(archive)):
        with pytest.raises(TruncatedArchiveError):
            nacrith.decompress(archive[:cut])


def _decode_or_error(data: bytes) -> bytes | NacrithError:
    try:
        return nacrith.decompress(data)
    except NacrithError as exc:  # anything else propagates and fails the test
        return exc


def _flip(data: bytes, bits: list[int]) -> bytes:
    out = bytearray(data)
    for bit in bits:
        out[bit >> 3] ^= 1 << (bit & 7)
    return bytes(out)


def test_every_single_bit_flip_is_detected_or_harmless(other_model: None) -> None:
    archive = SMALL_ARCHIVES["plain"]
    content = nacrith.decompress(archive)
    for bit in range(8 * len(archive)):
        result = _decode_or_error(_flip(archive, [bit]))
        # A flip in the model's identity or the coding parameters changes nothing here (no neural
        # chunk); anywhere else a CRC-32 catches every single-bit error, or a flip that makes a chunk
        # neural meets a model that is not the archive's (ModelMismatchError), as it would for real.
        assert isinstance(result, NacrithError) or result == content, f"bit {bit} gave wrong content silently"


def test_random_bit_flips_of_a_plain_archive_are_detected_or_harmless(other_model: None) -> None:
    rng = random.Random(20240601)
    archive = SMALL_ARCHIVES["plain"]
    content = nacrith.decompress(archive)
    for _ in range(600):
        bits = rng.sample(range(8 * len(archive)), rng.randint(1, 6))
        result = _decode_or_error(_flip(archive, bits))
        assert isinstance(result, NacrithError) or result == content, f"flips {bits}"


def _first_block(data: bytes) -> Group | EndBlock | NacrithError:
    """What the container reader alone makes of an archive's header and first block."""
    try:
        reader = FrameReader(io.BytesIO(data))
        reader.read_header()
        return reader.read_block()
    except NacrithError as exc:
        return exc


def _check_decoding_without_a_model(damaged: bytes, what: str) -> bool:
    """Decode ``damaged`` (the neural archive, damaged) with the model forbidden, and check the outcome
    against what the container reader makes of it; True when the decoder asked for the model.

    The decoder must reject, with the reader's own error, whatever the header and chunk table
    already show to be wrong, and so never load a model for it; otherwise it asks for the model
    as soon as it meets the group's first neural chunk, before checking any chunk of that group.
    It never returns bytes: neural chunks cannot be decoded without the model.
    """
    try:
        result: object = nacrith.decompress(damaged)
    except (NacrithError, NeedsModel) as exc:
        result = exc
    first = _first_block(damaged)
    assert not isinstance(result, bytes), f"{what}: decoded to {result!r} without the model"
    if isinstance(first, Group) and any(e.method in NEURAL_METHODS for e in first.entries):
        assert isinstance(result, NeedsModel), f"{what}: {result!r} instead of asking for the model"
        return True
    if isinstance(first, TruncatedArchiveError):
        assert type(result) is TruncatedArchiveError, f"{what}: {result!r}"
    elif isinstance(first, NacrithError):
        assert (type(result), str(result)) == (type(first), str(first)), f"{what}: {result!r} where the reader says {first!r}"
    else:  # an end block first, or a group with no neural chunk left: its sizes and checksums are wrong
        assert type(result) is CorruptArchiveError, f"{what}: {result!r}"
    return False


def test_every_single_bit_flip_of_a_neural_archive_is_rejected_or_asks_for_the_model(no_model: None) -> None:
    archive = SMALL_ARCHIVES["neural"]
    reader = FrameReader(io.BytesIO(archive))
    reader.read_header()
    header_end = reader.offset
    g = reader.read_block()
    assert isinstance(g, Group)
    payloads_start = reader.offset - sum(len(p) for p in g.payloads)

    asked = {bit for bit in range(8 * len(archive)) if _check_decoding_without_a_model(_flip(archive, [bit]), f"bit {bit}")}
    # Damage to a payload or to the end block can only be found by decoding: the model is asked for first.
    assert set(range(8 * payloads_start, 8 * len(archive))) <= asked
    # Neither a bad magic number nor a flip in the version byte ever asks for it.
    assert not asked & set(range(8 * 5))
    # Nor does a damaged block type: 1 becomes an end block or an unknown type.
    assert not asked & set(range(8 * header_end, 8 * header_end + 8))


def test_random_bit_flips_of_a_neural_archive_are_rejected_or_ask_for_the_model(no_model: None) -> None:
    rng = random.Random(20240602)
    archive = SMALL_ARCHIVES["neural"]
    outcomes = set()
    for _ in range(600):
        bits = rng.sample(range(8 * len(archive)), rng.randint(2, 6))
        outcomes.add(_check_decoding_without_a_model(_flip(archive, bits), f"flips {bits}"))
    assert outcomes == {True, False}


def test_a_neural_archive_names_its_model_before_decoding_with_another(other_model: None) -> None:
    with pytest.raises(ModelMismatchError, match=r"made with model tiny\.gguf \[0102030405060708\], but the model in use is other\.gguf"):
        nacrith.decompress(SMALL_ARCHIVES["neural"])


# --- hostile sizes and names: FORMAT.md's bounds, held without allocating what the file does not hold -----


def test_a_hostile_length_does_not_allocate_what_the_file_does_not_hold(tmp_path: Path) -> None:
    params = CodingParams(24, 16, 2048, 1536, MAX_CHUNK_BYTES, 1)  # stored chunks up to 1 GiB
    raw = write_header(FrameHeader(MODEL, params))
    raw += b"\x01\x01\x00" + _varint(1 << 30) + _varint(1 << 30) + bytes(4) + b"abc"
    path = tmp_path / "hostile.nacr"
    path.write_bytes(raw)
    tracemalloc.start()
    try:
        with open(path, "rb") as f, pytest.raises(TruncatedArchiveError):
            reader = FrameReader(f)
            reader.read_header()
            list(reader.blocks())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"a {len(raw)}-byte archive made the reader allocate {peak} bytes"


def test_a_zstd_frame_cannot_declare_a_huge_size() -> None:
    # Frame header descriptor 0xE0: single segment, 8-byte Frame_Content_Size (2**40), then an empty raw block.
    payload = bytes.fromhex("28b52ffd") + b"\xe0" + struct.pack("<Q", 1 << 40) + bytes.fromhex("010000")
    tracemalloc.start()
    try:
        with pytest.raises(CorruptArchiveError):
            fallback.unpack(METHOD_ZSTD, payload, 100)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20


def test_a_long_non_ascii_model_name_is_written_readably() -> None:
    header = FrameHeader(ModelInfo(FINGERPRINT, "b", "\u00e9" * 200), SMALL)
    read = FrameReader(io.BytesIO(write_header(header))).read_header()
    assert "\u00e9" * 127 == read.model.name
