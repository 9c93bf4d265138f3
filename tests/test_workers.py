"""Segments coded by workers: processes on this machine, or Ray actors; the archive is the same for any number.

Worker processes are spawned, so these tests start real processes with the real model; the
inputs are a few segments of 4 KiB at window 64, small enough for seconds.
"""

from __future__ import annotations

import pytest

import nacrith
from nacrith.workers.local import WorkerPool, threads_per_worker

SEGMENT = 4096


@pytest.fixture(scope="module")
def text(alice: bytes) -> bytes:
    return alice[:4000] + bytes(range(256)) + alice[4000:5500]  # two segments, one with other bytes


@pytest.fixture(scope="module")
def single(text: bytes) -> bytes:
    return nacrith.compress(text, window=64, lanes=2, segment_bytes=SEGMENT)


def test_any_number_of_workers_writes_the_same_archive(text: bytes, single: bytes) -> None:
    assert len(nacrith.inspect(single).frames[0].segments) == 2
    with WorkerPool(2, threads=2) as pool:
        assert nacrith.compress(text, window=64, lanes=2, segment_bytes=SEGMENT, workers=pool) == single
        assert nacrith.decompress(single, workers=pool) == text


def test_threads_are_split_among_workers() -> None:
    assert [threads_per_worker(n, 4) for n in (1, 2, 3, 4, 8)] == [4, 2, 1, 1, 1]


def test_a_wrong_model_in_a_worker_is_named(single: bytes, tmp_path) -> None:
    import shutil

    from nacrith.models.registry import resolve_model_path

    other = tmp_path / "other.gguf"
    shutil.copyfile(resolve_model_path(), other)
    with open(other, "ab") as f:
        f.write(b"\0" * 16)
    with pytest.raises(nacrith.ModelMismatchError, match="other.gguf"):
        nacrith.decompress(single, workers=2, model=other)


def test_gpu_without_a_cuda_build_is_a_clear_error() -> None:
    with pytest.raises(nacrith.NacrithError, match="CUDA"):
        nacrith.compress(b"some text to code with the model. " * 4, gpu=True, window=64)


def test_ray_actors_write_the_same_archive(text: bytes, single: bytes) -> None:
    pytest.importorskip("ray")
    from nacrith.workers.cluster import RayPool

    with RayPool("local", 2, threads=1) as pool:
        assert nacrith.compress(text, window=64, lanes=2, segment_bytes=SEGMENT, workers=pool) == single
        assert nacrith.decompress(single, workers=pool) == text
