"""nacrith.NacrithFile and nacrith.open: modes, the reading calls of io.BufferedIOBase, and broken archives.

The archives hold random bytes, which go to the fallback: the model file is only opened for
its start token, never evaluated.
"""

from __future__ import annotations

import array
import io
import random
from pathlib import Path

import pytest

import nacrith

DATA = random.Random(11).randbytes(12_000)

OPTIONS = dict(segment_bytes=4096)
"""Segments of 4 KiB: DATA makes an indexed archive of three, so reads can stop between them."""


@pytest.fixture(scope="module")
def archive() -> bytes:
    return nacrith.compress(DATA, **OPTIONS)


@pytest.fixture
def archive_file(tmp_path: Path, archive: bytes) -> Path:
    path = tmp_path / "data.nacr"
    path.write_bytes(archive)
    return path


# --- modes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["x", "xb"])
def test_x_mode_creates_a_new_file(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "new.nacr"
    with nacrith.NacrithFile(path, mode, **OPTIONS) as f:
        assert f.writable() and not f.readable()
        assert f.write(DATA[:1000]) == 1000
        assert f.write(memoryview(DATA)[1000:]) == len(DATA) - 1000
    assert nacrith.decompress(path.read_bytes()) == DATA


@pytest.mark.parametrize("mode", ["x", "xb", "xt"])
def test_x_mode_refuses_an_existing_file_and_leaves_it_alone(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "old.nacr"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        nacrith.open(path, mode)
    assert path.read_bytes() == b"precious"


@pytest.mark.parametrize("mode", ["xb", "wb"])
def test_bad_options_touch_no_file(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "out.nacr"
    if mode == "wb":
        path.write_bytes(b"precious")
    with pytest.raises((ValueError, nacrith.ModelNotFoundError)):
        nacrith.NacrithFile(path, mode, model=tmp_path / "no-such-model.gguf")
    if mode == "wb":
        assert path.read_bytes() == b"precious"
    else:
        assert not path.exists()


def test_other_modes_and_options_for_the_wrong_direction_are_refused(archive_file: Path) -> None:
    for mode in ("a", "r+", "rw", "ab", ""):
        with pytest.raises(ValueError, match="invalid mode"):
            nacrith.NacrithFile(archive_file, mode)
    with pytest.raises(TypeError, match="window"):
        nacrith.NacrithFile(archive_file, "rb", window=64)


def test_a_file_object_given_stays_open_and_a_path_opened_is_closed(archive: bytes, archive_file: Path) -> None:
    given = io.BytesIO(archive)
    with nacrith.NacrithFile(given) as f:
        assert f.read() == DATA
    assert not given.closed
    f = nacrith.NacrithFile(archive_file)
    inner = f._fp
    f.close()
    assert inner.closed and f.closed
    f.close()  # twice is harmless


# --- reading ----------------------------------------------------------------------------------


def test_read_with_and_without_a_size(archive_file: Path) -> None:
    with nacrith.open(archive_file) as f:
        assert f.read(0) == b""
        assert f.read(10) == DATA[:10]
        assert f.read(700) == DATA[10:710]  # across groups
        assert f.read() == DATA[710:]
        assert f.read() == b"" and f.read(5) == b""


@pytest.mark.parametrize("size", [1, 7, 256, 1000, -1])
def test_read1_returns_at_most_size_and_nothing_only_at_the_end(archive_file: Path, size: int) -> None:
    parts = []
    with nacrith.open(archive_file) as f:
        while part := f.read1(size):
            assert size < 0 or len(part) <= size
            parts.append(part)
        assert f.read1(size) == b""  # the end stays the end
    assert b"".join(parts) == DATA
    if size == 1:
        assert len(parts) == len(DATA)


def test_readinto_fills_a_bytearray_a_memoryview_and_an_array(archive_file: Path) -> None:
    with nacrith.open(archive_file) as f:
        buffer = bytearray(1000)
        assert f.readinto(buffer) == 1000 and buffer == DATA[:1000]
        larger = bytearray(b"-" * 300)
        assert f.readinto(memoryview(larger)[100:200]) == 100
        assert larger == b"-" * 100 + DATA[1000:1100] + b"-" * 100  # only the view's bytes were written
        words = array.array("I", bytes(400))
        assert f.readinto(words) == 400 and words.tobytes() == DATA[1100:1500]
        rest = bytearray(len(DATA))
        assert f.readinto(rest) == len(DATA) - 1500 and rest[: len(DATA) - 1500] == DATA[1500:]
        assert f.readinto(bytearray(10)) == 0


def test_readinto1_and_lines(archive_file: Path) -> None:
    with nacrith.open(archive_file) as f:
        buffer = bytearray(300)
        n = f.readinto1(buffer)
        assert 0 < n <= 300 and buffer[:n] == DATA[:n]
        first_line = DATA[n : DATA.index(b"\n", n) + 1]
        assert f.readline() == first_line
        assert b"".join(f) == DATA[n + len(first_line) :]


def test_concatenated_archives_read_as_one(tmp_path: Path, archive: bytes) -> None:
    path = tmp_path / "two.nacr"
    path.write_bytes(archive + nacrith.compress(b"") + archive)
    with nacrith.open(path) as f:
        assert f.read() == DATA * 2


@pytest.mark.parametrize("cut", [0, 3, 30, -1, -10, -500])
def test_a_truncated_or_empty_archive_raises_truncated_archive_error(tmp_path: Path, archive: bytes, cut: int) -> None:
    path = tmp_path / "cut.nacr"
    path.write_bytes(archive[:cut])
    with nacrith.open(path) as f, pytest.raises(nacrith.TruncatedArchiveError, match="empty input" if cut == 0 else "truncated"):
        f.read()


def test_a_truncated_archive_gives_what_it_holds_then_raises(tmp_path: Path, archive: bytes) -> None:
    path = tmp_path / "cut.nacr"
    path.write_bytes(archive[: len(archive) // 2])
    with nacrith.open(path) as f:
        assert f.read(100) == DATA[:100]  # streamed: the first segment decodes before the cut is seen
        with pytest.raises(nacrith.TruncatedArchiveError):
            while f.read1(1000):
                pass


def test_seeking_in_an_indexed_archive_decodes_only_the_segments_read(archive_file: Path) -> None:
    with nacrith.open(archive_file) as f:
        assert f.readable() and not f.writable() and f.seekable()
        assert f.seek(-10, io.SEEK_END) == len(DATA) - 10 and f.read() == DATA[-10:]
        f.seek(5000)
        assert f.tell() == 5000 and f.read(100) == DATA[5000:5100] and f.tell() == 5100
        assert f.seek(-200, io.SEEK_CUR) == 4900 and f.read(300) == DATA[4900:5200]
        assert f._indexed and f._indexed.decoded_segments == 2  # the last segment, then the middle one: never the first
        for call in (lambda: f.write(b"x"), lambda: f.truncate()):
            with pytest.raises(io.UnsupportedOperation):
                call()


def test_seeking_in_a_stream_decodes_what_lies_before(tmp_path: Path) -> None:
    """An archive without an index (one segment) seeks as gzip's files do: forward by decoding, back by starting over."""
    path = tmp_path / "one.nacr"
    path.write_bytes(nacrith.compress(DATA[:3000]))
    with nacrith.open(path) as f:
        assert f.seek(2000) == 2000 and f.read(10) == DATA[2000:2010]
        assert f.seek(5) == 5 and f.read(10) == DATA[5:15]
        assert f.seek(0, io.SEEK_END) == 3000 and f.read() == b""


def test_a_pipe_is_not_seekable() -> None:
    import os

    read_end, write_end = os.pipe()
    with open(write_end, "wb") as w:
        w.write(nacrith.compress(b"abc"))
    with open(read_end, "rb") as r, nacrith.open(r) as f:
        assert not f.seekable() and f.tell() == 0
        with pytest.raises(io.UnsupportedOperation):
            f.seek(1)
        assert f.read() == b"abc" and f.tell() == 3


def test_a_closed_file_refuses_every_call(archive_file: Path) -> None:
    with nacrith.open(archive_file) as f:
        pass
    for call in (f.read, f.read1, lambda: f.readinto(bytearray(1)), f.readable):
        with pytest.raises(ValueError, match="closed"):
            call()
