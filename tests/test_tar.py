"""Text inside other bytes: tarballs, files of binary records, mail with base64, through the real model.

The inputs are short (a few hundred bytes of text each) and the window 64 tokens, so that each
test takes seconds; BENCHMARKS.md ("Text inside any input") measures the same kinds of input at
full size.
"""

from __future__ import annotations

import base64
import io
import lzma
import os
import random
import shutil
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import nacrith

FAST = dict(window=64)
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def texts(alice: bytes) -> dict[str, bytes]:
    """Three short documents: two of prose, one of code."""
    return {
        "docs/one.txt": alice[3000:3500],
        "docs/two.txt": alice[9000:9400],
        "docs/code.py": b"def add(a, b):\n    return a + b\n\n\nprint(add(2, 3))\n" * 4,
    }


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _neural_bytes(archive: bytes) -> int:
    return sum(c.original_size for f in nacrith.inspect(archive).frames for c in f.chunks if c.neural)


def _xz(data: bytes) -> int:
    return len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))


def test_a_tar_of_text_files_is_coded_by_the_model(texts: dict[str, bytes]) -> None:
    data = _tar(texts)
    assert len(data) == 10240  # tar pads to records of 10 KiB: mostly NUL bytes
    archive = nacrith.compress(data, **FAST)
    assert nacrith.decompress(archive) == data
    text = sum(len(t) for t in texts.values())
    info = nacrith.inspect(archive).frames[0]
    assert [c.neural for c in info.chunks] == [False, True]  # headers and padding in one stream; one chunk across them
    assert text <= _neural_bytes(archive) <= text + 64  # the files, and at most a filename beside one
    assert len(archive) < 0.5 * _xz(data)


def test_a_tar_round_trips_through_a_shell_pipeline(texts: dict[str, bytes], tmp_path: Path) -> None:
    if not shutil.which("tar"):
        pytest.skip("no tar command")
    source, restored = tmp_path / "in", tmp_path / "out"
    for name, data in texts.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    restored.mkdir()
    nacrith_cmd = f"{sys.executable} -m nacrith"
    pipeline = f"tar c -C {source} docs | {nacrith_cmd} compress -T 1 --window 64 | {nacrith_cmd} decompress -T 1 | tar x -C {restored}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(["sh", "-c", "set -e; " + pipeline], env=env, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for name, data in texts.items():
        assert (restored / name).read_bytes() == data


def test_text_with_binary_records_keeps_its_text_for_the_model(alice: bytes) -> None:
    rng = random.Random(4)
    lines = alice[4000:5600].split(b"\r\n")
    records = [line + b"\r\n" + struct.pack("<IH", 1_700_000_000 + i, i) + rng.randbytes(20) for i, line in enumerate(lines)]
    data = b"".join(records)
    archive = nacrith.compress(data, **FAST)
    assert nacrith.decompress(archive) == data
    assert _neural_bytes(archive) >= 0.8 * sum(len(line) + 2 for line in lines if len(line) > 64)
    assert len(archive) < 0.9 * _xz(data)  # 580 of the records' bytes are random


def test_mail_with_a_base64_attachment(english: bytes) -> None:
    attachment = random.Random(6).randbytes(900)
    data = b"From: a@example.org\nSubject: the file\n\n" + english + b"\n\n" + base64.encodebytes(attachment) + b"\n-- \nA.\n"
    archive = nacrith.compress(data, **FAST)
    assert nacrith.decompress(archive) == data
    other = [c for c in nacrith.inspect(archive).frames[0].chunks if not c.neural]
    assert len(other) == 1 and other[0].payload_size <= len(attachment)  # the attachment, as the bytes it stands for
    assert len(archive) < len(attachment) + 0.3 * len(english) + 64


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 3000,
        b"".join(b"ab\x00" for _ in range(1000)),  # text and NUL alternating every few bytes
        b"\xff\xfe" + b"word " * 30 + b"\xc3",  # invalid UTF-8 at both ends
        b"text " * 20 + "\u20ac".encode()[:2] + b"\x00" + "\u20ac".encode()[2:] + b" more" * 20,  # a character cut by a gap
        bytes(range(256)) * 8,
    ],
    ids=["empty", "all nul", "alternating", "invalid ends", "a cut character", "every byte value"],
)
def test_edge_cases_round_trip(data: bytes) -> None:
    assert nacrith.decompress(nacrith.compress(data, **FAST)) == data


def test_binary_with_short_strings_is_no_bigger_than_xz() -> None:
    """Binary records with names in them (a symbol table, a database page): the names are islands of
    text too short for the model, so the whole goes to the fallback."""
    rng = random.Random(8)
    words = [b"open", b"close", b"read_all", b"main", b"error_handler", b"buffer_size"]
    data = b"".join(struct.pack("<IQ", rng.randrange(1 << 32), rng.randrange(1 << 40)) + rng.choice(words) + b"\x00" for _ in range(800))
    archive = nacrith.compress(data, **FAST)
    assert nacrith.decompress(archive) == data
    assert _neural_bytes(archive) == 0
    assert len(archive) <= 1.01 * _xz(data) + 16  # the header and block; xz's own container is bigger
