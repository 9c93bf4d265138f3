"""Archives of format version 1, written by nacrith before version 2, still decode to their contents.

The archives in tests/data/v1 were written by the version 1 encoder (commit dbfc042): empty
input, binary data (zstd), CRLF text (neural-crlf), text with the ensemble off, and text
around binary bytes in two groups of two lanes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import nacrith

DATA = Path(__file__).resolve().parent / "data" / "v1"
NAMES = sorted(p.stem for p in DATA.glob("*.nacr"))
MODEL_FREE = ("empty", "binary")


def _pair(name: str) -> tuple[bytes, bytes]:
    return (DATA / f"{name}.nacr").read_bytes(), (DATA / f"{name}.content").read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_version_1_archive_decodes_to_its_content(name: str) -> None:
    archive, content = _pair(name)
    assert archive[4] == 1, "a version 1 archive"
    assert nacrith.decompress(archive) == content


@pytest.mark.parametrize("name", NAMES)
def test_version_1_archive_is_inspected_as_version_1(name: str) -> None:
    archive, content = _pair(name)
    [frame] = nacrith.inspect(archive).frames
    assert (frame.version, frame.original_size, frame.compressed_size) == (1, len(content), len(archive))
    assert frame.model.build.startswith("0.3.")  # version 1 stores the whole build identity


def test_version_1_and_2_frames_concatenated_decode_one_after_another() -> None:
    old, content = _pair("binary")
    new = nacrith.compress(b"\x00\x01 fresh bytes \xff" * 50)
    assert nacrith.decompress(old + new + old) == content + b"\x00\x01 fresh bytes \xff" * 50 + content


@pytest.mark.parametrize("name", MODEL_FREE)
def test_damaged_version_1_archive_is_rejected(name: str) -> None:
    archive, _ = _pair(name)
    for cut in range(len(archive)):
        with pytest.raises(nacrith.TruncatedArchiveError):
            nacrith.decompress(archive[:cut])
