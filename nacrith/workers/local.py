"""Workers on this machine: N processes, each loading the model once and coding whole segments.

Segments go out in order and come back in order (a bounded reorder buffer: at most a few
segments per worker in flight), so the archive is byte for byte what one process writes and
memory stays flat in the input size. Processes are started with ``spawn``: llama.cpp's
threads do not survive a fork. ``-T`` threads are split among the workers; llama.cpp's
threads spin, so more threads than cores in all slows everything down.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Protocol

from ..container import CodingParams, FrameHeader
from ..engine import Engine, engine_for, shared_engine
from ..segments.progress import Progress
from ..options import Options
from ..segments.decoder import decode_segment
from ..segments.encoder import CodedSegment, encode_segment

if TYPE_CHECKING:
    from ..dictionary import Dictionary

__all__ = ["SegmentPool", "WorkerPool", "threads_per_worker"]

IN_FLIGHT_PER_WORKER = 2
"""Segments queued per worker: one being coded, one waiting, so no worker idles between segments."""

class SegmentPool(Protocol):
    """Workers that run the functions of this module on segments: processes here, or Ray actors (:mod:`.cluster`)."""

    workers: int
    threads: int
    """Each worker's threads: a torch archive records them."""

    def _submit(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function(*args)`` on a worker; a future with ``result()`` and ``done()``."""

    def encoder(self, options: Options, params: CodingParams, progress: Progress | None = None) -> "PoolCoder": ...

    def decoder(self, header: FrameHeader, memory_limit: int | None = None, dictionary: "Dictionary | None" = None) -> "PoolDecoder": ...

    def close(self) -> None: ...


_spec: dict | None = None
"""What the worker process runs the model with (set by :func:`_start`): the model, threads, gpu, backend, device."""


def threads_per_worker(workers: int, threads: int | None) -> int:
    """Each worker's share of ``threads`` (default: the cores this process may use), at least 1."""
    if not threads:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, threads // workers)


def _start(model: str | None, threads: int, gpu: int | None, backend: str | None = None, device: str | None = None) -> None:
    global _spec
    _spec = {"model": model, "threads": threads, "gpu": gpu, "backend": backend, "device": device}
    _engine_for(None)  # a wrong model or backend fails at the start, as in the main process


def _engine_for(params: CodingParams | None) -> Engine:
    """The worker's engine for an archive of ``params`` (None: the backend asked for, else llama.cpp)."""
    assert _spec is not None
    s = _spec
    if params is None:
        return shared_engine(s["model"], s["threads"], gpu=s["gpu"], backend=s["backend"] or "llama", device=s["device"])
    return engine_for(params, s["model"], s["threads"], s["gpu"], s["backend"], s["device"])


def _encode(data: bytes, options: Options, params: CodingParams) -> CodedSegment:
    return encode_segment(data, _engine_for(params), options, params)


def _decode(
    header: FrameHeader, blocks: bytes, number: int, offset: int, memory_limit: int | None = None, dictionary: "Dictionary | None" = None
) -> bytes:
    engine = _engine_for(header.params)
    return decode_segment(header, blocks, lambda: engine, number, offset, memory_limit, dictionary)


class WorkerPool:
    """``workers`` processes with the model; worker ``i`` on GPU ``i`` when ``gpu`` (llama.cpp layers offloaded)."""

    def __init__(
        self,
        workers: int,
        *,
        model: str | os.PathLike[str] | None = None,
        threads: int | None = None,
        gpu: bool = False,
        backend: str | None = None,
        device: str | None = None,
    ) -> None:
        """``backend`` and ``device``: what the workers run the model with (backend None: llama.cpp to encode,
        each archive's own to decode)."""
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        context = multiprocessing.get_context("spawn")
        each = self.threads = threads_per_worker(workers, threads)
        model_arg = os.fspath(model) if model is not None else None
        # One executor per worker, so that each one's device (worker i on GPU i) is fixed at its start.
        self._executors = [
            ProcessPoolExecutor(1, mp_context=context, initializer=_start, initargs=(model_arg, each, i if gpu else None, backend, device))
            for i in range(workers)
        ]
        self._next = 0

    def _submit(self, function: object, *args: object) -> Future:
        executor = self._executors[self._next % self.workers]
        self._next += 1
        return executor.submit(function, *args)  # type: ignore[arg-type]

    def encoder(self: SegmentPool, options: Options, params: CodingParams, progress: Progress | None = None) -> "PoolCoder":
        return PoolCoder(self, options, params, progress)

    def decoder(self: SegmentPool, header: FrameHeader, memory_limit: int | None = None, dictionary: "Dictionary | None" = None) -> "PoolDecoder":
        """``memory_limit``: what each worker's decoding of a segment may need (None: the default limit)."""
        return PoolDecoder(self, header, memory_limit, dictionary)

    def close(self) -> None:
        for executor in self._executors:
            executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PoolCoder:
    """A :class:`~nacrith.segments.coders.SegmentCoder` over a :class:`WorkerPool`: results in submission order."""

    def __init__(self, pool: SegmentPool, options: Options, params: CodingParams, progress: Progress | None) -> None:
        self._pool, self._options, self._params, self._progress = pool, options, params, progress
        self._pending: deque[Future] = deque()
        self._done: list[CodedSegment] = []

    def submit(self, segment: bytes) -> None:
        if len(self._pending) >= IN_FLIGHT_PER_WORKER * self._pool.workers:
            self._take(self._pending.popleft())  # the oldest is the next to write anyway
        self._pending.append(self._pool._submit(_encode, segment, self._options, self._params))

    def ready(self, *, wait: bool) -> list[CodedSegment]:
        while self._pending and (wait or self._pending[0].done()):
            self._take(self._pending.popleft())
        out, self._done = self._done, []
        return out

    def _take(self, future: Future) -> None:
        segment = future.result()
        if self._progress:
            self._progress(segment.plain_size, segment.tokens, segment.bits)
        self._done.append(segment)


class PoolDecoder:
    """Decodes one frame's segments on a :class:`WorkerPool`, handing their bytes back in order."""

    def __init__(self, pool: SegmentPool, header: FrameHeader, memory_limit: int | None = None, dictionary: "Dictionary | None" = None) -> None:
        self._pool, self._header, self._memory_limit = pool, header, memory_limit
        self._dictionary = dictionary if header.params.dictionary else None
        self._pending: deque[Future] = deque()
        self._done: list[bytes] = []

    def submit(self, blocks: bytes, number: int, offset: int) -> None:
        """A segment's blocks (``number``: its place in the frame; ``offset``: where its blocks start, for messages)."""
        if len(self._pending) >= IN_FLIGHT_PER_WORKER * self._pool.workers:
            self._done.append(self._pending.popleft().result())
        self._pending.append(self._pool._submit(_decode, self._header, blocks, number, offset, self._memory_limit, self._dictionary))

    def ready(self, *, wait: bool) -> list[bytes]:
        while self._pending and (wait or self._pending[0].done()):
            self._done.append(self._pending.popleft().result())
        out, self._done = self._done, []
        return out
