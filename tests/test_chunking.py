"""Where the encoder cuts text: which bytes are text, chunk counts that fill the lanes, and cuts at safe places."""

from __future__ import annotations

import random

import pytest

from nacrith.chunking import MAX_ABSORBED, MIN_TEXT_RUN, Piece, chunk_count, cut_points, safe_cut, split_text_runs

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
"""Text, 528 bytes: longer than MIN_TEXT_RUN."""

T = len(TEXT)


def _kinds(data: bytes) -> list[tuple[bytes, bool]]:
    return [(data[p.start : p.end], p.is_text) for p in split_text_runs(data)]


def test_empty_input_has_no_pieces() -> None:
    assert split_text_runs(b"") == []


@pytest.mark.parametrize(
    "data",
    [TEXT, b"x", "Grüße, 日本語, 😀\n".encode(), b"tabs\tand\r\nline ends\x0c\x1b[0m" * 10],
    ids=["ascii", "one byte", "multi-byte", "control codes text holds"],
)
def test_text_alone_is_one_text_piece_whatever_its_length(data: bytes) -> None:
    assert split_text_runs(data) == [Piece(0, len(data), True)]


def test_binary_data_is_one_binary_piece() -> None:
    data = random.Random(1).randbytes(4000)
    assert split_text_runs(data) == [Piece(0, len(data), False)]
    assert split_text_runs(b"\xff") == [Piece(0, 1, False)]
    assert split_text_runs(b"\x00" * 5000) == [Piece(0, 5000, False)]


def test_a_few_bad_bytes_in_text_are_cut_out_and_the_text_kept() -> None:
    data = TEXT + b"\xff\xfe" + TEXT
    assert split_text_runs(data) == [Piece(0, T, True), Piece(T, T + 2, False), Piece(T + 2, 2 * T + 2, True)]


@pytest.mark.parametrize("share", [0.05, 0.3, 0.6])
def test_text_is_found_whatever_the_share_of_bytes_that_are_not(share: float) -> None:
    """No whole-input rule: a tar of small files or a file of mostly binary records keeps its text."""
    gap = b"\x00" * int(T * share / (1 - share))
    data = gap + TEXT + gap + TEXT + gap
    g = len(gap)
    assert _kinds(data) == [(gap, False), (TEXT, True), (gap, False), (TEXT, True), (gap, False)]
    assert split_text_runs(data)[1] == Piece(g, g + T, True)


def test_nul_bytes_are_never_text() -> None:
    data = TEXT + b"\x00" + TEXT
    assert _kinds(data) == [(TEXT, True), (b"\x00", False), (TEXT, True)]


@pytest.mark.parametrize("gap", [b"\x1a", b"\x07\x08", b"\x7f"])
def test_a_gap_of_at_most_two_control_bytes_in_text_stays_text(gap: bytes) -> None:
    assert MAX_ABSORBED == 2
    for data in (TEXT + gap + TEXT, TEXT + gap, gap + TEXT):  # inside, at the end (alice29.txt's ^Z), at the start
        assert split_text_runs(data) == [Piece(0, len(data), True)]


def test_a_longer_gap_of_control_bytes_is_not_text() -> None:
    assert _kinds(TEXT + b"\x1a\x1a\x1a" + TEXT) == [(TEXT, True), (b"\x1a\x1a\x1a", False), (TEXT, True)]
    assert _kinds(TEXT + b"\x07\x00" + TEXT) == [(TEXT, True), (b"\x07\x00", False), (TEXT, True)]  # NUL never joins


def test_c1_controls_and_delete_runs_are_not_text() -> None:
    c1 = "\u0085\u0090\u009f".encode()  # valid UTF-8, but control characters
    assert _kinds(TEXT + c1 + TEXT) == [(TEXT, True), (c1, False), (TEXT, True)]


def test_a_character_cut_short_at_the_end_is_binary() -> None:
    data = TEXT + "\u20ac".encode()[:2]  # the euro sign's first two bytes of three
    assert split_text_runs(data) == [Piece(0, T, True), Piece(T, T + 2, False)]


@pytest.mark.parametrize("cut", [1, 2])
def test_a_three_byte_character_cut_by_a_run_boundary_is_not_text(cut: int) -> None:
    euro = "\u20ac".encode()
    data = TEXT + euro[:cut] + b"\x00" + euro[cut:] + TEXT
    pieces = split_text_runs(data)
    assert [p.is_text for p in pieces] == [True, False, True]
    assert (pieces[0].end, pieces[2].start) == (T, T + 4)  # the character's pieces go with the NUL between them


def test_a_character_whole_beside_binary_stays_text() -> None:
    euro = "\u20ac".encode()
    data = b"\xff" + euro + TEXT + euro + b"\x00"
    assert _kinds(data) == [(b"\xff", False), (euro + TEXT + euro, True), (b"\x00", False)]


@pytest.mark.parametrize("length, kept", [(MIN_TEXT_RUN - 1, False), (MIN_TEXT_RUN, True)])
def test_text_between_binary_bytes_shorter_than_the_minimum_run_is_binary(length: int, kept: bool) -> None:
    island = b"i" * length
    data = TEXT + b"\xff" + island + b"\x00" + TEXT
    if kept:
        assert _kinds(data) == [(TEXT, True), (b"\xff", False), (island, True), (b"\x00", False), (TEXT, True)]
    else:
        assert _kinds(data) == [(TEXT, True), (b"\xff" + island + b"\x00", False), (TEXT, True)]


def test_short_text_at_either_end_joins_the_binary_beside_it() -> None:
    data = b"ab\xff" + TEXT + b"\xfecd"
    assert split_text_runs(data) == [Piece(0, 3, False), Piece(3, T + 3, True), Piece(T + 3, T + 6, False)]


@pytest.mark.parametrize("every", [1, 2, 3, 7, 40])
def test_text_and_nul_alternating_every_few_bytes_is_all_binary(every: int) -> None:
    data = b"".join(b"x" * every + b"\x00" for _ in range(2000 // every))
    assert split_text_runs(data) == [Piece(0, len(data), False)]


def test_a_tar_header_is_binary_and_the_files_in_it_text() -> None:
    """A tar header's fields are short strings between NULs: no model restart for them."""
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in ("a.txt", "b.txt"):
            info = tarfile.TarInfo("docs/" + name)
            info.size = T
            tar.addfile(info, io.BytesIO(TEXT))
    data = buf.getvalue()
    texts = [data[p.start : p.end] for p in split_text_runs(data) if p.is_text]
    assert texts == [TEXT, TEXT]


def _mixed(rng: random.Random) -> bytes:
    parts = []
    for _ in range(rng.randint(1, 12)):
        kind = rng.random()
        if kind < 0.4:
            parts.append("".join(rng.choice("ab c\n\u00e9\u65e5\U0001f600") for _ in range(rng.randint(1, 300))).encode())
        elif kind < 0.6:
            parts.append(bytes(rng.choice([0x80, 0xBF, 0xC3, 0xE6, 0xF0, 0xFF]) for _ in range(rng.randint(1, 3))))
        elif kind < 0.8:
            parts.append(bytes(rng.choice([0x00, 0x01, 0x1A, 0x7F]) for _ in range(rng.randint(1, 4))))
        else:
            parts.append(b"x" * rng.randint(1, 200))
    return b"".join(parts)


def test_pieces_cover_the_input_in_order_and_every_text_piece_is_whole_utf8() -> None:
    rng = random.Random(7)
    for _ in range(500):
        data = _mixed(rng)
        pieces = split_text_runs(data)
        assert pieces[0].start == 0 and pieces[-1].end == len(data)
        for before, after in zip(pieces, pieces[1:]):
            assert before.end == after.start and before.is_text != after.is_text  # neighbours differ in kind
        for piece in pieces:
            assert piece.end > piece.start
            if piece.is_text:
                text = data[piece.start : piece.end]
                assert b"\x00" not in text and (piece.end - piece.start >= MIN_TEXT_RUN or len(pieces) == 1)
                text.decode("utf-8")  # never a character cut at either end


def test_segmentation_is_fast_on_binary_data() -> None:
    import time

    data = random.Random(2).randbytes(1 << 20)
    began = time.perf_counter()
    split_text_runs(data)
    assert time.perf_counter() - began < 2.0  # measured: about 0.3 s for 1 MiB


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
