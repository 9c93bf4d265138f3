"""Base64 blocks in text, coded as the bytes they stand for: found only where the layout gives them back
byte for byte, and placed back exactly by the decoder. No model: the inputs here are base64 and other bytes."""

from __future__ import annotations

import base64
import io
import random

import pytest

import nacrith
from nacrith.container import Base64Run, FrameReader, OtherBytes, write_other
from nacrith.container.structures import CodingParams
from nacrith.errors import CorruptArchiveError
from nacrith.transforms import (
    BASE64_CRLF,
    BASE64_LAST_LINE_END,
    BASE64_PADDED,
    MIN_BASE64,
    base64_length,
    base64_text,
    find_base64,
)

RAW = random.Random(11).randbytes(3000)
MIME = base64.encodebytes(RAW)  # 76 characters a line, LF after every line
PROSE = b"Please find the data attached; it is the one we spoke of.\n\n"


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """These inputs need no model: fail at once if one is asked for."""

    def refuse(self: object) -> None:
        raise AssertionError("the model was asked for")

    monkeypatch.setattr(nacrith.engine.Engine, "model", property(refuse))


def _lines(chars: bytes, length: int, end: bytes, last_end: bool) -> bytes:
    text = end.join(chars[i : i + length] for i in range(0, len(chars), length))
    return text + end if last_end else text


@pytest.mark.parametrize("size", [2997, 2998, 2999, 3000])
@pytest.mark.parametrize("length", [64, 76, 75, 1000, 10_000])
@pytest.mark.parametrize("end", [b"\n", b"\r\n"])
@pytest.mark.parametrize("last_end", [True, False])
@pytest.mark.parametrize("padded", [True, False])
def test_every_layout_is_found_and_given_back(size: int, length: int, end: bytes, last_end: bool, padded: bool) -> None:
    chars = base64.b64encode(RAW[:size])
    if not padded:
        chars = chars.rstrip(b"=")
    block = _lines(chars, length, end, last_end)
    text = PROSE + block + b"-- \nthe end\n"
    [found] = find_base64(text)
    assert (found.start, found.end, found.decoded) == (len(PROSE), len(PROSE) + len(block), RAW[:size])
    assert base64_text(found.decoded, found.line_length, found.flags) == block
    assert base64_length(size, found.line_length, found.flags) == len(block)
    assert bool(found.flags & BASE64_CRLF) == (end == b"\r\n" and len(chars) > length or end == b"\r\n" and last_end)
    assert bool(found.flags & BASE64_LAST_LINE_END) == last_end


def test_a_data_uri_is_one_line() -> None:
    chars = base64.b64encode(RAW[:600])
    text = b'<img src="data:image/png;base64,' + chars + b'" alt="">'
    [found] = find_base64(text)
    assert text[found.start : found.end] == chars and found.line_length == len(chars) and found.flags == BASE64_PADDED


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b.replace(b"\n", b"\r\n", 1),  # one CR LF among LFs
        lambda b: b[: 76 * 5 + 4] + b"\n" + b[76 * 5 + 4 :],  # a line cut short in the middle
    ],
    ids=["mixed line ends", "a short line inside"],
)
def test_what_cannot_be_given_back_byte_for_byte_is_not_all_taken(damage) -> None:
    block = damage(MIME)
    for found in find_base64(PROSE + block):
        assert base64_text(found.decoded, found.line_length, found.flags) == (PROSE + block)[found.start : found.end]
        assert found.end - found.start < len(block)


def test_non_canonical_last_character_is_refused() -> None:
    chars = base64.b64encode(RAW[:301])  # 301 bytes: two padding characters, 4 bits past the data
    assert chars.endswith(b"==")
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    bad = chars[:-3] + bytes([alphabet[alphabet.index(chars[-3]) + 1]]) + b"=="  # canonical: a multiple of 16
    assert base64.b64decode(bad) == RAW[:301] and bad != chars  # decoders accept it, but it would not come back
    assert find_base64(PROSE + bad + b"\n") == []


@pytest.mark.parametrize(
    "text",
    [
        b"0123456789abcdef" * 64,  # hex: 16 symbols
        b"ACGT" * 300,  # DNA
        base64.b64encode(RAW)[: MIN_BASE64 - 4],  # too short
        b"Supercalifragilisticexpialidocious" * 20,
    ],
    ids=["hex", "dna", "short", "a long word"],
)
def test_text_that_merely_looks_like_base64_stays_text(text: bytes) -> None:
    assert find_base64(PROSE + text + b"\n") == []


def test_blocks_are_found_exactly_in_random_text() -> None:
    rng = random.Random(5)
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    for _ in range(300):
        parts = []
        for _ in range(rng.randint(1, 6)):
            kind = rng.random()
            if kind < 0.4:
                chars = base64.b64encode(rng.randbytes(rng.randint(150, 900)))
                if rng.random() < 0.3:
                    chars = chars.rstrip(b"=")
                parts.append(_lines(chars, rng.choice([4, 60, 64, 76, 77, 2000]), rng.choice([b"\n", b"\r\n"]), rng.random() < 0.7))
            elif kind < 0.7:
                parts.append(bytes(rng.choice(alphabet + b"=\r\n") for _ in range(rng.randint(1, 400))))
            else:
                parts.append(PROSE[: rng.randint(1, len(PROSE))])
        text = b"".join(parts)
        blocks = find_base64(text)
        at = 0
        for found in blocks:
            assert at <= found.start < found.end and found.end - found.start >= MIN_BASE64
            assert base64_text(found.decoded, found.line_length, found.flags) == text[found.start : found.end]
            assert base64_length(len(found.decoded), found.line_length, found.flags) == found.end - found.start
            at = found.end


@pytest.mark.parametrize(
    "data",
    [MIME, MIME[:-1], MIME.replace(b"\n", b"\r\n"), base64.b64encode(RAW), base64.b64encode(RAW[:2999]).rstrip(b"="), MIME + MIME],
    ids=["mime", "no last line end", "crlf", "one line", "unpadded", "two blocks back to back"],
)
def test_base64_alone_is_coded_as_its_bytes_and_needs_no_model(data: bytes, no_model: None) -> None:
    archive = nacrith.compress(data)
    assert nacrith.decompress(archive) == data
    assert len(archive) < len(RAW) * (1 if data != MIME + MIME else 2) + 40  # random bytes: stored, plus the header and table
    info = nacrith.inspect(archive).frames[0]
    assert [c.original_size for c in info.chunks] == [len(data)]
    d = nacrith.NacrithDecompressor()
    assert b"".join(d.decompress(archive[i : i + 5]) for i in range(0, len(archive), 5)) == data


# --- the table of base64 runs in the container -------------------------------------------------------

PARAMS = CodingParams(24, 8, 1024, 768, 65536, 1, None, 8192)
"""Segment size 8192."""


def _block(runs: list[int], table: list[Base64Run]) -> bytes:
    other = bytes(sum(runs[1::2]))
    return write_other(OtherBytes(runs, 0, len(other), nacrith.container.crc32(other), other, table))


def _read_block(block: bytes) -> OtherBytes:
    reader = FrameReader(io.BytesIO(block[1:]))
    return reader._read_other(PARAMS)


def test_a_table_is_written_after_the_method_and_read_back() -> None:
    table = [Base64Run(1, 76, BASE64_PADDED | BASE64_LAST_LINE_END), Base64Run(5, 64, BASE64_CRLF)]
    block = _block([10, 300, 4, 7, 2, 90], table)
    runs = bytes.fromhex("02 06 0a ac02 04 07 02 5a")  # block type, run count, runs
    method = bytes.fromhex("80")  # stored, and a table follows
    entries = bytes.fromhex("02 01 4c 06 05 40 01")  # count; run 1, 76 a line, padded and ended; run 5, 64, CR LF
    assert block.startswith(runs + method + entries + bytes.fromhex("8d03"))  # then the payload length, 397
    other = _read_block(block)
    assert other.base64 == table and other.method == 0 and other.length == 397
    assert other.placed_length == base64_length(300, 76, 6) + 7 + base64_length(90, 64, 1)


@pytest.mark.parametrize(
    "runs, table, message",
    [
        ([10, 300, 4], [Base64Run(0, 76, 0)], "not a run of other bytes"),
        ([10, 300, 4, 7, 2], [Base64Run(3, 76, 0), Base64Run(1, 76, 0)], "not a run of other bytes"),
        ([10, 300, 4], [Base64Run(3, 76, 0)], "not a run of other bytes"),
        ([10, 300, 4], [Base64Run(1, 0, 0)], "line length 0"),
        ([10, 300, 4], [Base64Run(1, 76, 8)], "reserved flag bits"),
        ([10, 6100, 4], [Base64Run(1, 76, 0)], "place more than a segment"),
        ([10, 300, 4], [Base64Run(1, 76, 0), Base64Run(1, 76, 0)], "base64 runs among 1 runs"),
    ],
    ids=["a text run", "out of order", "past the runs", "no line length", "a reserved flag", "over the segment", "too many"],
)
def test_a_bad_table_is_rejected(runs: list[int], table: list[Base64Run], message: str) -> None:
    with pytest.raises(CorruptArchiveError, match=message):
        _read_block(_block(runs, table))
