"""Where the encoder cuts text: chunk counts that fill the lanes, and cuts at safe places."""

from __future__ import annotations

import pytest

from nacrith.chunking import chunk_count, cut_points

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
