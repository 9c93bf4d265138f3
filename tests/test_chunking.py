"""Where the encoder cuts text: which bytes are text, chunk counts that fill the lanes, and cuts at safe places."""

from __future__ import annotations

import random

import pytest

from nacrith.chunking import MAX_BINARY_SHARE, MIN_TEXT_RUN, Piece, chunk_count, cut_points, safe_cut, split_text_runs

KIB = 1024


@pytest.mark.parametrize("size", [1_000_000, 600_000, 2_500_000])
def test_more_than_a_group_of_chunks_fills_every_group(size: int) -> None:
    count = chunk_count(size, 8, 64 * KIB, 16 * KIB)
    assert count % 8 == 0
    assert size / count <= 64 * KIB - 8 * KIB  # still room to move each cut back to a line end


def test_a_short_text_fills_the_lanes_with_chunks_no_shorter_than_the_minimum() -> None:
    assert chunk_count(152_089, 8, 64 * KIB, 16 * KIB) == 8
    assert chunk_count(40_000, 8, 64 * KIB, 16 * KIB) == 2
    assert chunk_count(12_000, 8, 64 * KIB, 16 * KIB) == 1
    assert chunk_count(0, 8, 64 * KIB, 16 * KIB) == 0


def test_whole_groups_never_make_chunks_shorter_than_the_minimum() -> None:
    # 9 chunks of 20 KiB are needed; 16 would be 11 KiB each: keep 9
    assert chunk_count(180 * KIB, 8, 23 * KIB, 16 * KIB) == 9


def test_cut_points_end_at_line_ends_and_cover_the_text() -> None:
    data = b"".join(b"line %d of some text\n" % i for i in range(50_000))
    count = chunk_count(len(data), 8, 64 * KIB, 16 * KIB)
    ends = cut_points(data, count, 64 * KIB)
    assert ends[-1] == len(data) and len(ends) == count
    assert all(data[end - 1 : end] == b"\n" for end in ends)
    lengths = [b - a for a, b in zip([0, *ends], ends)]
    assert max(lengths) <= 64 * KIB


# --- split_text_runs: text for the model, the rest for the fallback ---------------------------------

TEXT = b"All work and no play makes Jack a dull boy.\n" * 12
"""Valid UTF-8, 528 bytes: longer than MIN_TEXT_RUN."""

T = len(TEXT)


def test_empty_input_has_no_pieces() -> None:
    assert split_text_runs(b"") == []


@pytest.mark.parametrize(
    "data",
    [TEXT, b"x", "Grüße, 日本語, 😀\n".encode(), b"tabs\tand\r\nline ends\x0b\x0c\x1b[0m" * 10],
    ids=["ascii", "one byte", "multi-byte", "control codes text holds"],
)
def test_valid_utf8_is_one_text_piece_whatever_its_length(data: bytes) -> None:
    assert split_text_runs(data) == [Piece(0, len(data), True)]


def test_binary_data_is_one_binary_piece() -> None:
    data = random.Random(1).randbytes(4000)
    assert split_text_runs(data) == [Piece(0, len(data), False)]
    assert split_text_runs(b"\xff") == [Piece(0, 1, False)]


def test_a_few_bad_bytes_in_text_are_cut_out_and_the_text_kept() -> None:
    data = TEXT + b"\xff\xfe" + TEXT
    assert split_text_runs(data) == [Piece(0, T, True), Piece(T, T + 2, False), Piece(T + 2, 2 * T + 2, True)]


def test_a_character_cut_short_at_the_end_is_binary() -> None:
    data = TEXT + "\u20ac".encode()[:2]  # the euro sign's first two bytes of three
    assert split_text_runs(data) == [Piece(0, T, True), Piece(T, T + 2, False)]


@pytest.mark.parametrize("length, kept", [(MIN_TEXT_RUN - 1, False), (MIN_TEXT_RUN, True)])
def test_text_between_bad_bytes_shorter_than_the_minimum_run_joins_the_binary(length: int, kept: bool) -> None:
    island = b"i" * length
    data = TEXT + b"\xff" + island + b"\xfe" + TEXT
    a, b = len(TEXT), len(TEXT) + 1 + length + 1
    if kept:
        expected = [Piece(0, a, True), Piece(a, a + 1, False), Piece(a + 1, b - 1, True), Piece(b - 1, b, False), Piece(b, len(data), True)]
    else:
        expected = [Piece(0, a, True), Piece(a, b, False), Piece(b, len(data), True)]
    assert split_text_runs(data) == expected


def test_short_text_at_either_end_joins_the_binary_beside_it() -> None:
    data = b"ab\xff" + TEXT + b"\xfecd"
    assert split_text_runs(data) == [Piece(0, 3, False), Piece(3, T + 3, True), Piece(T + 3, T + 6, False)]


@pytest.mark.parametrize("bad, whole_binary", [(100, False), (101, True)])
def test_more_than_the_binary_share_of_bad_bytes_makes_it_all_binary(bad: int, whole_binary: bool) -> None:
    assert MAX_BINARY_SHARE == 0.1
    a = (1000 - bad) // 2
    data = b"t" * a + b"\xff" * bad + b"t" * (1000 - bad - a)  # 1000 bytes, `bad` of them invalid
    if whole_binary:
        assert split_text_runs(data) == [Piece(0, 1000, False)]
    else:
        assert split_text_runs(data) == [Piece(0, a, True), Piece(a, a + bad, False), Piece(a + bad, 1000, True)]


@pytest.mark.parametrize("controls, whole_binary", [(100, False), (101, True)])
def test_more_than_the_binary_share_of_rare_control_codes_makes_it_all_binary(controls: int, whole_binary: bool) -> None:
    data = (b"\x00" * controls + b"t" * 1000)[:1000]
    data = bytes(random.Random(controls).sample(list(data), len(data)))  # scattered, still valid UTF-8
    assert split_text_runs(data) == [Piece(0, 1000, not whole_binary)]


def _mixed(rng: random.Random) -> bytes:
    parts = []
    for _ in range(rng.randint(1, 12)):
        kind = rng.random()
        if kind < 0.5:
            parts.append("".join(rng.choice("ab c\n\u00e9\u65e5\U0001f600") for _ in range(rng.randint(1, 300))).encode())
        elif kind < 0.8:
            parts.append(bytes(rng.choice([0x80, 0xBF, 0xC3, 0xE6, 0xF0, 0xFF]) for _ in range(rng.randint(1, 3))))
        else:
            parts.append(b"x" * rng.randint(1, 200))
    return b"".join(parts)


def test_pieces_cover_the_input_in_order_and_every_text_piece_is_whole_utf8() -> None:
    rng = random.Random(7)
    for _ in range(300):
        data = _mixed(rng)
        pieces = split_text_runs(data)
        assert pieces[0].start == 0 and pieces[-1].end == len(data)
        for before, after in zip(pieces, pieces[1:]):
            assert before.end == after.start and before.is_text != after.is_text  # neighbours differ in kind
        for piece in pieces:
            assert piece.end > piece.start
            if piece.is_text:
                data[piece.start : piece.end].decode("utf-8")  # never a character cut at either end
                assert piece.end - piece.start >= MIN_TEXT_RUN or len(pieces) == 1


# --- safe_cut: where a chunk may end --------------------------------------------------------------------


def test_a_cut_prefers_a_line_end_to_a_nearer_space() -> None:
    data = b"one two\nthree four five six"
    assert safe_cut(data, len(data) - 2, 0) == 8  # just after the line end


def test_without_a_line_end_a_cut_goes_after_the_last_space() -> None:
    data = b"one two three four"
    assert safe_cut(data, 16, 0) == 14


def test_without_line_end_or_space_a_cut_goes_before_an_ascii_byte() -> None:
    e = "\u00e9".encode()  # two bytes, neither ASCII
    data = e * 10 + b"x" + e * 10
    assert safe_cut(data, 31, 0) == 20  # the cut leaves the x to the next chunk
    assert safe_cut(b"abcdef", 4, 0) == 4  # ASCII everywhere: the ideal place itself


def test_a_cut_at_or_past_the_end_is_the_end() -> None:
    assert safe_cut(b"abc def", 7, 0) == 7
    assert safe_cut(b"abc def", 100, 0) == 7


def test_a_cut_stays_after_lowest_and_within_the_search() -> None:
    data = b"a\nb c" + b"z" * 100
    assert safe_cut(data, 50, 5) == 50  # the line end and space are not after lowest
    assert safe_cut(data, 50, 0) == 2
    assert safe_cut(data, 50, 0, search=10) == 50  # nor within 10 bytes of the ideal cut


def test_a_cut_is_never_inside_a_utf8_sequence_when_an_ascii_byte_is_near() -> None:
    rng = random.Random(3)
    for _ in range(300):
        text = "".join(rng.choice("\u00e9\u65e5\U0001f600a") for _ in range(200)).encode()
        ideal = rng.randrange(1, len(text))
        lowest = rng.randrange(0, ideal)
        cut = safe_cut(text, ideal, lowest, search=64)
        assert lowest < cut <= ideal
        if b"a" in text[max(lowest + 1, ideal - 64) : ideal + 1]:
            text[:cut].decode("utf-8")  # a whole number of characters before the cut
            text[cut:].decode("utf-8")


def test_a_cut_is_never_inside_a_utf8_sequence() -> None:
    data = ("\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8" * 300).encode()  # three bytes each, no ASCII
    for ideal in (1000, 1001, 512):
        cut = safe_cut(data, ideal, 0)
        assert 0 < cut <= ideal and cut % 3 == 0, cut
