"""Archives of equal-info windows (layout 3), with a fake model: written, inspected, read back, rejected."""

from __future__ import annotations

import numpy as np
import pytest

import nacrith
from nacrith.container import FrameReader, WindowBlock
from nacrith.equal_info.archive import group_bytes
from nacrith.equal_info.codec import equal_info_settings, window_params
from tests.conftest import FakeWindowEngine

TEXT = (
    b"Alice was beginning to get very tired of sitting by her sister on the bank, and of having nothing to do: "
    b"once or twice she had peeped into the book her sister was reading, but it had no pictures or conversations "
    b"in it, 'and what is the use of a book,' thought Alice 'without pictures or conversations?'\n\n"
) * 4


def _blocks(archive: bytes) -> list:
    import io

    reader = FrameReader(io.BytesIO(archive))
    header = reader.read_header()
    return [header, *reader.blocks()]


@pytest.mark.parametrize("bits", [16, 32, 128])
@pytest.mark.parametrize(
    "data", [TEXT, b"", b"x", np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes()], ids=["text", "empty", "one byte", "random"]
)
def test_equal_info_archives_round_trip(fake_window_engine: FakeWindowEngine, bits: int, data: bytes) -> None:
    archive = nacrith.compress(data, equal_info=bits)
    header, *blocks = _blocks(archive)
    assert header.layout == 3 and header.params.equal_info.bits == bits and header.params.ensemble is None
    windows = [b for b in blocks if isinstance(b, WindowBlock)]
    assert all(len(b.code) * 8 == len(b.lengths) * bits for b in windows)
    assert nacrith.decompress(archive) == data


def test_the_header_records_w_the_token_width_and_the_primer(fake_window_engine: FakeWindowEngine) -> None:
    archive = nacrith.compress(TEXT, equal_info=24)
    params = _blocks(archive)[0].params
    assert (params.equal_info.bits, params.equal_info.token_bits, params.equal_info.primer) == (24, 8, 0)
    params = _blocks(nacrith.compress(TEXT, equal_info=64, token_bits=8, primer=1))[0].params
    assert (params.equal_info.token_bits, params.equal_info.primer) == (8, 1)
    with pytest.raises(ValueError, match="token bits"):
        nacrith.compress(TEXT, equal_info=24, token_bits=16)
    with pytest.raises(ValueError, match="window bits"):
        nacrith.compress(TEXT, equal_info=20)
    with pytest.raises(ValueError, match="go with equal_info"):
        nacrith.compress(TEXT, token_bits=8)


def test_long_input_streams_in_several_window_blocks(fake_window_engine: FakeWindowEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    params = window_params(0, equal_info_settings(16), lanes=2)
    assert group_bytes(params) == 2 * 65536
    monkeypatch.setattr("nacrith.equal_info.archive.group_bytes", lambda params: 600)
    data = TEXT[:1700]
    c = nacrith.NacrithCompressor(equal_info=16, lanes=2)
    archive = b"".join(c.compress(data[i : i + 500]) for i in range(0, len(data), 500)) + c.flush()
    blocks = [b for b in _blocks(archive)[1:] if isinstance(b, WindowBlock)]
    assert len(blocks) >= 3 and all(b.length <= 600 for b in blocks)
    d = nacrith.NacrithDecompressor()
    assert b"".join(d.decompress(archive[i : i + 999]) for i in range(0, len(archive), 999)) == data and d.eof


def test_a_damaged_window_is_named(fake_window_engine: FakeWindowEngine) -> None:
    archive = bytearray(nacrith.compress(TEXT, equal_info=32))
    archive[-12] ^= 0x10  # inside the code of the last windows (the end block is 6 to 9 bytes)
    with pytest.raises(nacrith.CorruptArchiveError, match="window block 0"):
        nacrith.decompress(bytes(archive))


@pytest.fixture
def fake_windows_engine(fake_window_engine: FakeWindowEngine, monkeypatch: pytest.MonkeyPatch) -> FakeWindowEngine:
    monkeypatch.setattr("nacrith.equal_info.shared_engine", lambda *args, **kwargs: fake_window_engine)
    return fake_window_engine


@pytest.mark.parametrize("bits, token_bits", [(16, 16), (32, 8), (128, 16), (24, 8)])
def test_windows_export_as_tokens_and_json_and_come_back(fake_windows_engine: FakeWindowEngine, tmp_path, bits: int, token_bits: int) -> None:
    import json

    import nacrith.equal_info as ei

    windows = ei.encode(TEXT, bits=bits, token_bits=token_bits)
    tokens = windows.tokens()
    assert tokens.dtype == (np.uint16 if token_bits == 16 else np.uint8) and tokens.shape == (len(windows), bits // token_bits)
    meta_path = windows.save(tmp_path / "notes.windows.npy")
    meta = json.loads(meta_path.read_text())
    assert (meta["window_bits"], meta["token_bits"], meta["windows"]) == (bits, token_bits, len(windows))
    assert meta["offsets"][0] == 0 and meta["offsets"][-1] == len(TEXT) and len(meta["offsets"]) == len(windows) + 1
    assert np.array_equal(np.load(tmp_path / "notes.windows.npy"), tokens)
    back = ei.Windows.load(tmp_path / "notes.windows.npy")
    assert back.code == windows.code and ei.decode(back) == TEXT
    # random access: by window number, and by byte range through the offsets
    k = len(windows) // 2
    assert ei.decode(back, select=[k]) == TEXT[back.offsets[k] : back.offsets[k + 1]]
    chosen = back.covering(100, 180)
    text = ei.decode(back, select=chosen)
    start = back.offsets[chosen[0]]
    assert text[100 - start : 180 - start] == TEXT[100:180]


def test_windows_files_that_disagree_are_rejected(fake_windows_engine: FakeWindowEngine, tmp_path) -> None:
    import json

    import nacrith.equal_info as ei

    meta_path = ei.encode(TEXT, bits=64).save(tmp_path / "w.npy")
    meta = json.loads(meta_path.read_text())
    meta["offsets"][3] = meta["offsets"][2]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(nacrith.CorruptArchiveError, match="offsets"):
        ei.Windows.load(tmp_path / "w.npy")
    (tmp_path / "w.json").unlink()
    with pytest.raises(nacrith.CorruptArchiveError, match="missing"):
        ei.Windows.load(tmp_path / "w.npy")


def _header_pairs(pairs: list[tuple[int, int]], layout: int = 3) -> bytes:
    """A version 2 header of model 1 with these parameter pairs and no content size."""
    from nacrith.container.writer import varint

    body = b"".join(varint(k) + varint(v) for k, v in pairs) + b"\0"
    return b"\x8eNCR\x02" + bytes([layout | 0x08 | 0x10]) + b"\xf9\x5b" + body


@pytest.mark.parametrize(
    "archive, error, reason",
    [
        (_header_pairs([(8, 0)]), nacrith.CorruptArchiveError, "layout 3 and their window bits"),
        (_header_pairs([(8, 0), (30, 64)], layout=1), nacrith.CorruptArchiveError, "layout 3 and their window bits"),
        (_header_pairs([(8, 0), (31, 8)]), nacrith.CorruptArchiveError, "without the window bits"),
        (_header_pairs([(30, 64)]), nacrith.CorruptArchiveError, "ensemble on"),
        (_header_pairs([(8, 0), (30, 20)]), nacrith.CorruptArchiveError, "window bits 20"),
        (_header_pairs([(8, 0), (30, 64), (31, 16), (32, 2)]), nacrith.CorruptArchiveError, "primer 2"),
        (_header_pairs([(8, 0), (30, 64), (33, 1)]), nacrith.UnsupportedFormatError, "parameter 33"),
        (_header_pairs([(8, 0), (30, 64)]) + b"\x04\x00", nacrith.CorruptArchiveError, "a block of 0 windows"),
        (_header_pairs([(8, 0), (30, 64)]) + b"\x04\x01\x00", nacrith.CorruptArchiveError, "length 0"),
        (_header_pairs([(8, 0), (30, 64)]) + b"\x01", nacrith.CorruptArchiveError, "unexpected block type 1"),
        (_header_pairs([(8, 0), (30, 64)]) + b"\x00\x05\0\0\0\0", nacrith.CorruptArchiveError, "the windows hold 0"),
        (_header_pairs([(8, 0), (30, 64)]) + b"\x04\x01\x05\0\0\0\0" + b"\0" * 7, nacrith.TruncatedArchiveError, "window code"),
    ],
)
def test_layout_3_headers_and_blocks_out_of_bounds_are_rejected(archive: bytes, error: type, reason: str) -> None:
    with pytest.raises(error, match=reason):
        nacrith.inspect(archive)


def test_an_empty_equal_info_archive_is_its_header_and_end_block(fake_window_engine: FakeWindowEngine) -> None:
    archive = nacrith.compress(b"", equal_info=64)
    header, end = _blocks(archive)
    assert end.content_size == 0 and nacrith.decompress(archive) == b""


def test_nacrith_open_reads_and_seeks_in_an_equal_info_archive(fake_window_engine: FakeWindowEngine, tmp_path) -> None:
    path = tmp_path / "notes.nacr"
    path.write_bytes(nacrith.compress(TEXT, equal_info=64))
    with nacrith.open(path, "rb") as f:
        assert f.read() == TEXT
        f.seek(100)
        assert f.read(50) == TEXT[100:150]
