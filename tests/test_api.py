"""The streaming objects of nacrith.api: NacrithDecompressor as lzma.LZMADecompressor is, and the compressor's checks.

The archives hold random bytes, which go to the fallback: the model file is only opened for
its start token, never evaluated.
"""

from __future__ import annotations

import random

import pytest

import nacrith
from nacrith import NacrithCompressor, NacrithDecompressor

A = random.Random(21).randbytes(3000)
B = random.Random(22).randbytes(700)

OPTIONS = dict(lanes=1, chunk_bytes=256)
"""Groups of 256 bytes: A makes an archive of a dozen groups."""


@pytest.fixture(scope="module")
def first() -> bytes:
    return nacrith.compress(A, **OPTIONS)


@pytest.fixture(scope="module")
def second() -> bytes:
    return nacrith.compress(B, **OPTIONS)


def _drain(d: NacrithDecompressor, data: bytes, max_length: int) -> list[bytes]:
    """Feed ``data`` once, then take output in pieces of at most ``max_length`` until more input is needed."""
    parts = [d.decompress(data, max_length)]
    while not d.needs_input and not d.eof:
        parts.append(d.decompress(b"", max_length))
    return parts


# --- one frame --------------------------------------------------------------------------------


def test_one_frame_stops_at_its_end_and_hands_back_the_rest(first: bytes, second: bytes) -> None:
    d = NacrithDecompressor()
    assert d.decompress(first + second) == A
    assert d.eof and d.unused_data == second and not d.needs_input
    d.check_complete()
    for more in (b"", b"x", second):
        with pytest.raises(EOFError):
            d.decompress(more)


def test_one_frame_is_not_at_its_end_until_its_end_block(first: bytes) -> None:
    d = NacrithDecompressor()
    out = d.decompress(first[:-1])
    assert not d.eof and d.needs_input and d.unused_data == b""
    with pytest.raises(nacrith.TruncatedArchiveError, match="truncated"):
        d.check_complete()
    assert out + d.decompress(first[-1:]) == A and d.eof and d.unused_data == b""


# --- across frames ----------------------------------------------------------------------------


def test_across_frames_concatenated_archives_decode_to_both_contents(first: bytes, second: bytes) -> None:
    empty = nacrith.compress(b"")
    d = NacrithDecompressor(read_across_frames=True)
    assert d.decompress(first) == A and d.eof  # the input so far ends after an end block
    assert d.decompress(empty + second[:10]) == b"" and not d.eof
    assert d.decompress(second[10:]) == B and d.eof and d.unused_data == b""
    d.check_complete()
    assert nacrith.decompress(first + empty + second + first) == A + B + A


@pytest.mark.parametrize("garbage", [b"\x00", b"garbage", b"NCR!", b"\x8eNCX"])
def test_across_frames_trailing_garbage_is_refused_naming_its_offset(first: bytes, second: bytes, garbage: bytes) -> None:
    at = len(first) + len(second)
    d = NacrithDecompressor(read_across_frames=True)
    assert d.decompress(first + second) == A + B
    with pytest.raises(nacrith.CorruptArchiveError, match=f"after the end of the archive at byte {at}$"):
        d.decompress(garbage)  # the offset counts from the first byte ever given, not this call's
    with pytest.raises(nacrith.CorruptArchiveError, match=f"at byte {at}$"):
        nacrith.decompress(first + second + garbage)


def test_across_frames_the_start_of_a_magic_number_waits_then_is_truncation(first: bytes) -> None:
    d = NacrithDecompressor(read_across_frames=True)
    assert d.decompress(first + b"\x8eN") == A
    assert not d.eof and d.needs_input
    with pytest.raises(nacrith.TruncatedArchiveError, match="truncated"):
        d.check_complete()


# --- max_length ---------------------------------------------------------------------------------


@pytest.mark.parametrize("across", [False, True])
@pytest.mark.parametrize("max_length", [1, 100, 256, 1000])
def test_max_length_returns_at_most_that_and_holds_the_rest(first: bytes, across: bool, max_length: int) -> None:
    d = NacrithDecompressor(read_across_frames=across)
    out = d.decompress(first, max_length)
    assert len(out) == max_length and not d.needs_input and not d.eof  # output held back: call again with b""
    parts = [out, *_drain(d, b"", max_length)]
    assert all(len(p) <= max_length for p in parts)
    assert b"".join(parts) == A and d.eof


def test_max_length_zero_returns_nothing_and_loses_nothing(first: bytes) -> None:
    d = NacrithDecompressor()
    assert d.decompress(first, 0) == b"" and not d.eof
    assert d.decompress(b"") == A and d.eof


def test_max_length_with_input_in_pieces(first: bytes, second: bytes) -> None:
    d = NacrithDecompressor(read_across_frames=True)
    data = first + second
    out = []
    for i in range(0, len(data), 100):
        parts = _drain(d, data[i : i + 100], 150)
        assert all(len(p) <= 150 for p in parts)
        out += parts
    assert b"".join(out) == A + B and d.eof


# --- byte by byte, and completeness ---------------------------------------------------------------------


@pytest.mark.parametrize("across", [False, True])
def test_one_byte_at_a_time_gives_the_same_output(first: bytes, second: bytes, across: bool) -> None:
    data = first + second if across else first
    d = NacrithDecompressor(read_across_frames=across)
    out = b"".join(d.decompress(data[i : i + 1]) for i in range(len(data)))
    assert out == (A + B if across else A)
    assert d.eof and d.unused_data == b""
    d.check_complete()


def test_garbage_one_byte_at_a_time_is_refused_at_the_same_offset(first: bytes) -> None:
    d = NacrithDecompressor(read_across_frames=True)
    for byte in first:
        d.decompress(bytes([byte]))
    with pytest.raises(nacrith.CorruptArchiveError, match=f"at byte {len(first)}$"):
        d.decompress(b"!")


@pytest.mark.parametrize("across", [False, True])
def test_check_complete_refuses_empty_and_cut_input(first: bytes, across: bool) -> None:
    d = NacrithDecompressor(read_across_frames=across)
    with pytest.raises(nacrith.TruncatedArchiveError, match="empty input"):
        d.check_complete()
    d.decompress(b"")
    with pytest.raises(nacrith.TruncatedArchiveError, match="empty input"):
        d.check_complete()
    for cut in (1, 4, 5, 40, len(first) // 2, len(first) - 5, len(first) - 1):
        d = NacrithDecompressor(read_across_frames=across)
        d.decompress(first[:cut])
        with pytest.raises(nacrith.TruncatedArchiveError, match="truncated archive"):
            d.check_complete()


# --- the compressor ------------------------------------------------------------------------------


@pytest.mark.parametrize("given", [len(A) - 1, len(A) + 1, 0])
def test_content_size_must_match_what_is_compressed(given: int) -> None:
    c = NacrithCompressor(content_size=given, **OPTIONS)
    c.compress(A)
    with pytest.raises(ValueError, match=f"content_size was given as {given}, but {len(A)} bytes were written"):
        c.flush()


def test_content_size_that_matches_is_recorded() -> None:
    c = NacrithCompressor(content_size=len(A), **OPTIONS)
    archive = c.compress(A[:1000]) + c.compress(A[1000:]) + c.flush()
    assert archive == nacrith.compress(A, **OPTIONS)
    assert nacrith.inspect(archive).frames[0].declared_size == len(A)


def test_bad_arguments_and_a_finished_compressor_are_refused() -> None:
    with pytest.raises(ValueError, match="content_size"):
        NacrithCompressor(content_size=-1)
    c = NacrithCompressor()
    c.flush()
    with pytest.raises(ValueError, match="after the compressor finished"):
        c.compress(b"x")
    with pytest.raises(ValueError, match="repeated call to flush"):
        c.flush()
