"""The Python API, shaped like the stdlib ``lzma`` module.

``compress``/``decompress`` are thin wrappers over the reusable ``NacrithCompressor`` and
``NacrithDecompressor``; :mod:`.file` gives file objects over them. Options are
keyword-only; bad arguments raise ``ValueError``; everything else is a ``NacrithError``.

The decompressor is the one decoder path: one-shot decompression, file objects and the
command line all feed it, so concatenated archives, trailing data and truncation are
judged in one place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .constants import DEFAULT_CHUNK_BYTES, DEFAULT_LANES, DEFAULT_WINDOW, MAGIC
from .container import CodingParams, FrameReader
from .dictionary import Dictionary, as_dictionary
from .engine import Engine, engine_for, shared_engine
from .errors import CorruptArchiveError, TruncatedArchiveError
from .container import LAYOUT_INDEXED
from .equal_info.archive import WindowFrameEncoder
from .equal_info.codec import equal_info_settings, window_params
from .frames import FrameDecoder, FrameEncoder, Progress
from .frames.parallel import ParallelFrameDecoder
from .memory import resolve_limit
from .neural.adapt import AdaptParams
from .neural.params import EnsembleParams
from .options import Options, adapt_params, ensemble_params
from .workers.local import SegmentPool, WorkerPool

__all__ = ["compress", "decompress", "NacrithCompressor", "NacrithDecompressor", "ModelFile", "resolve_model"]


@dataclass(frozen=True)
class ModelFile:
    """A model file as an archive names it: where it is and its fingerprint (no model is loaded)."""

    path: Path
    fingerprint: bytes


def resolve_model(model: str | os.PathLike[str] | None = None) -> ModelFile:
    """The model file ``model=`` names (a path, a preset name, or None for $NACRITH_MODEL or the
    embedded default); raises :class:`~nacrith.ModelNotFoundError` when there is none."""
    engine = shared_engine(model)
    return ModelFile(engine.path, engine.fingerprint)


class NacrithCompressor:
    """Compresses data incrementally into one archive. ``compress`` may return b"" until a group fills.

    >>> c = NacrithCompressor()
    >>> archive = c.compress(b"hello") + c.flush()
    """

    def __init__(
        self,
        *,
        model: str | os.PathLike[str] | None = None,
        lanes: int = DEFAULT_LANES,
        window: int = DEFAULT_WINDOW,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        segment_bytes: int | None = None,
        ensemble: bool | EnsembleParams = True,
        threads: int | None = None,
        workers: int | SegmentPool = 1,
        gpu: bool = False,
        backend: str = "llama",
        device: str | None = None,
        adapt: bool | AdaptParams = False,
        content_size: int | None = None,
        progress: Progress | None = None,
        dictionary: str | os.PathLike[str] | Dictionary | None = None,
        equal_info: int | None = None,
        token_bits: int | None = None,
        primer: int | None = None,
    ) -> None:
        """``equal_info``: write equal-info windows of this many bits (16 to 65536, a multiple of 8) instead of
        chunks: every window is exactly that much code and decodes alone (:mod:`nacrith.equal_info`); they use
        the LLM alone, so ``ensemble``, ``chunk_bytes``, ``segment_bytes``, ``workers`` and ``dictionary`` do not
        apply. ``token_bits`` (8 or 16; default 16 when it divides the window) and ``primer`` (default 0, the
        start token alone; 1 the built-in English primer) are recorded with them.
        ``ensemble``: True for the default models mixed with the LLM (with a dictionary: its parameters),
        False for the LLM alone, or an :class:`EnsembleParams` of your own (all of it is stored in the archive).
        ``segment_bytes``: the largest segment; each decodes alone, so they can be coded by several
        workers and read at random (default: 1 MiB, or 64 MiB when the input begins with binary data,
        which then loses nothing against xz). ``workers``: processes that code segments side by side (or a
        :class:`~nacrith.workers.local.WorkerPool` to share); the archive is the same for any number.
        ``gpu``: run the model on CUDA GPUs (worker ``i`` on device ``i``); the archive records it, and only
        a GPU decodes it. ``backend``: ``llama`` (llama.cpp, the default) or ``torch`` (``pip install "nacrith[torch]"``),
        on ``device`` (torch's: ``cpu``, ``cuda`` or ``cuda:N``); ``adapt``: with torch, the model learns the text as
        it codes it (True, or an :class:`AdaptParams` of your own): more time, and on a short text no fewer bits
        (BENCHMARKS.md). The archive records all of it, and decodes only with the same backend and device type.
        The torch backend does not take ``dictionary`` or ``equal_info`` yet.
        ``content_size``: the input's size, when known, recorded in the header and checked.
        ``dictionary``: a path or a loaded :class:`~nacrith.Dictionary` made by :func:`nacrith.train` for this
        model: every lane starts from its primer, every ensemble from its state; the archive records its
        identity and decodes only with it. Load it once (``Dictionary.load``) to compress many files."""
        loaded = as_dictionary(dictionary)
        options = Options(
            lanes=lanes,
            window=window,
            chunk_bytes=chunk_bytes,
            segment_bytes=segment_bytes,
            ensemble=ensemble_params(ensemble, loaded),
            dictionary=loaded,
            adapt=adapt_params(adapt),
        )
        if options.adapt is not None and backend != "torch":
            raise ValueError("adapt needs backend='torch' (--backend torch)")
        if content_size is not None and content_size < 0:
            raise ValueError("content_size must be >= 0")
        if backend == "torch" and loaded is not None:
            raise ValueError("the torch backend does not support dictionaries yet: use backend='llama' (--backend llama) with dictionary=")
        self._finished = False
        if equal_info is not None:
            if loaded is not None:
                raise ValueError("a dictionary does not go with equal_info: every window starts from the archive's own primer")
            if backend == "torch":
                raise ValueError("the torch backend does not support equal-info windows yet: use backend='llama' (--backend llama) with equal_info=")
            self._pool, self._owns_pool = None, False
            engine = shared_engine(model, threads, gpu=0 if gpu else None)
            settings = equal_info_settings(equal_info, token_bits, primer)
            params = window_params(engine.start_token(), settings, lanes=lanes, window=window, backend=engine.backend)
            self._encoder = WindowFrameEncoder(engine, params, content_size, progress)  # type: ignore[assignment]
            return
        elif token_bits is not None or primer is not None:
            raise ValueError("token_bits and primer go with equal_info")
        if backend != "torch":  # a wrong model or dictionary fails before any worker starts
            engine = shared_engine(model, threads, gpu=0 if gpu else None, backend=backend, device=device)
            if loaded is not None:
                loaded.check_model(engine.fingerprint)
        self._pool, self._owns_pool = _pool(workers, model, threads, gpu, backend, device)
        if backend == "torch":
            if self._pool is not None:
                threads = getattr(self._pool, "threads", threads)  # the workers' share: the archive records torch's threads
            engine = shared_engine(model, threads, gpu=0 if gpu else None, backend=backend, device=device)
        self._encoder = FrameEncoder(engine, options, content_size, progress, self._pool)

    def compress(self, data: bytes) -> bytes:
        if self._finished:
            raise ValueError("cannot call compress() after the compressor finished (flush() was called)")
        return self._encoder.write(bytes(data))

    def flush(self) -> bytes:
        if self._finished:
            raise ValueError("repeated call to flush()")
        self._finished = True
        try:
            return self._encoder.finish()
        finally:
            if self._owns_pool and self._pool is not None:
                self._pool.close()


def _pool(
    workers: int | SegmentPool,
    model: str | os.PathLike[str] | None,
    threads: int | None,
    gpu: bool,
    backend: str | None = None,
    device: str | None = None,
) -> tuple[SegmentPool | None, bool]:
    """The pool to use (None: this process alone), and whether the caller owns it (made it here)."""
    if not isinstance(workers, int):  # a pool of the caller's: processes here, or a Ray cluster
        return workers, False
    if workers < 1:
        raise ValueError(f"workers must be a pool or an int >= 1, got {workers!r}")
    if workers == 1:
        return None, False
    return WorkerPool(workers, model=model, threads=threads, gpu=gpu, backend=backend, device=device), True


class _View:
    """Reads a bytearray from a position without copying all of it (io.BytesIO would, once per block)."""

    def __init__(self, buffer: bytearray) -> None:
        self._buffer = buffer
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._buffer) if n < 0 else min(len(self._buffer), self._pos + n)
        with memoryview(self._buffer) as view:
            data = bytes(view[self._pos : end])
        self._pos = end
        return data


class NacrithDecompressor:
    """Decompresses an archive incrementally, like ``lzma.LZMADecompressor``.

    By default it reads one frame: bytes after its end go to ``unused_data`` and ``eof`` is
    set. With ``read_across_frames=True`` it reads concatenated archives (``cat a.nacr b.nacr``)
    as one content, as ``nacrith.decompress`` and the command line do: bytes after an end block
    must begin another frame (else :class:`~nacrith.CorruptArchiveError`, naming the byte),
    and ``eof`` says whether the input so far ends exactly after an end block.

    ``decompress(data, max_length)`` returns at most ``max_length`` bytes when it is not
    negative; the rest waits, and ``needs_input`` is False until it has been taken (call
    again with ``b""``). A group is decoded whole, so the work of one call is one group.

    ``memory_limit`` bounds the memory decoding may need, in bytes (None: half this machine's memory,
    at most 4 GiB): an archive whose model, contexts and ensemble would need more is refused with
    :class:`~nacrith.MemoryLimitError` before they are allocated, as ``xz --memlimit`` does. With
    workers, each process has the limit.
    """

    def __init__(
        self,
        *,
        model: str | os.PathLike[str] | None = None,
        threads: int | None = None,
        progress: Progress | None = None,
        read_across_frames: bool = False,
        workers: int | SegmentPool = 1,
        gpu: bool = False,
        backend: str | None = None,
        device: str | None = None,
        memory_limit: int | None = None,
        dictionary: str | os.PathLike[str] | Dictionary | None = None,
    ) -> None:
        """``workers``: processes that decode the segments of an indexed archive side by side (or a
        :class:`~nacrith.workers.local.WorkerPool` to share). ``gpu``: for archives made on a GPU.
        ``backend``: decode with this one (None: the one that coded each archive); ``device``: torch's.
        ``memory_limit``: bytes decoding may need (None: :func:`nacrith.memory.default_limit`).
        ``dictionary``: the one an archive was made with (a path or a loaded :class:`~nacrith.Dictionary`);
        an archive that names one decodes only with it, an archive that names none ignores it."""
        self._memory_limit = resolve_limit(memory_limit)
        self._model = model
        self._dictionary = as_dictionary(dictionary)
        self._threads = threads
        self._gpu = 0 if gpu else None
        self._backend = backend
        self._device = device
        self._progress = progress
        self._across = read_across_frames
        self._pool, self._owns_pool = _pool(workers, model, threads, gpu, backend, device)
        self._input = bytearray()
        """Archive bytes received and not yet parsed."""
        self._output = bytearray()
        """Decoded bytes not yet returned (``max_length``)."""
        self._parsed = 0
        """Archive bytes parsed so far: offsets in messages count from the first byte given."""
        self._frame: FrameDecoder | ParallelFrameDecoder | None = None
        self._reader: FrameReader | None = None
        self._frames_done = 0
        self._ended = False
        self._needs_input = True
        self.unused_data = b""

    @property
    def eof(self) -> bool:
        """One frame: its end was read and all its bytes returned. Across frames: the input so far ends right
        after a frame, and all its bytes were returned."""
        if self._output:
            return False
        if self._across:
            return self._frames_done > 0 and self._frame is None and not self._input
        return self._ended

    @property
    def needs_input(self) -> bool:
        return self._needs_input and not self._ended and not self._output

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if self._ended and not self._output:
            raise EOFError("already at end of stream")
        self._input += data
        while (max_length < 0 or len(self._output) < max_length) and self._parse_next():
            pass
        limit = len(self._output) if max_length < 0 else max_length
        out = bytes(self._output[:limit])
        del self._output[:limit]
        # More may be ready without new input: output held back, or input not yet parsed for it.
        self._needs_input = not self._output and (max_length < 0 or len(out) < max_length)
        return out

    def _parse_next(self) -> bool:
        """Read one header or block from the input and decode it; False when none is complete yet."""
        if self._ended or not self._input:
            return False
        try:
            if self._frame is None:
                if self._frames_done and not MAGIC.startswith(bytes(self._input[: len(MAGIC)])):
                    raise CorruptArchiveError(f"unexpected data after the end of the archive at byte {self._parsed}")
                reader = FrameReader(_View(self._input), self._parsed)
                header = reader.read_header()
                parallel = self._pool is not None and header.version == 2 and header.layout == LAYOUT_INDEXED
                engine = lambda params=header.params: self._engine(params)  # noqa: E731
                if parallel:
                    frame: FrameDecoder | ParallelFrameDecoder = ParallelFrameDecoder(
                        header, self._pool, self._progress, self._memory_limit, self._dictionary
                    )
                else:
                    frame = FrameDecoder(header, engine, self._progress, self._memory_limit, self._dictionary)
                self._reader, self._frame = reader, frame
            else:
                reader = self._reader
                reader.reattach(_View(self._input), self._parsed)
                block = reader.read_block()
                if isinstance(self._frame, ParallelFrameDecoder):
                    self._output += self._frame.decode(block, bytes(self._input[: reader.offset - self._parsed]), self._parsed)
                else:
                    self._output += self._frame.decode(block)
        except TruncatedArchiveError:
            return False  # wait for more input; a reader cut short is left as it was before the block
        del self._input[: reader.offset - self._parsed]
        self._parsed = reader.offset
        if self._frame.finished:
            self._frame = None
            self._frames_done += 1
            if not self._across:
                self._ended = True
                self.unused_data = bytes(self._input)
                self._input.clear()
                self.close()
        return True

    def close(self) -> None:
        """Stop the workers this decompressor started (done at the end of a one-frame stream anyway)."""
        if self._owns_pool and self._pool is not None:
            self._pool.close()
            self._pool = None

    def _engine(self, params: CodingParams) -> Engine:  # called on the first neural chunk only
        return engine_for(params, self._model, self._threads, self._gpu, self._backend, self._device)

    def check_complete(self) -> None:
        """Raise :class:`~nacrith.TruncatedArchiveError` unless the input given so far is a whole archive."""
        if not self.eof:
            if not self._parsed and not self._input and not self._frames_done:
                raise TruncatedArchiveError("empty input: no archive")
            raise TruncatedArchiveError("truncated archive: the input ends before the end of the archive")


def compress(
    data: bytes,
    *,
    model: str | os.PathLike[str] | None = None,
    lanes: int = DEFAULT_LANES,
    window: int = DEFAULT_WINDOW,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    segment_bytes: int | None = None,
    ensemble: bool | EnsembleParams = True,
    threads: int | None = None,
    workers: int | SegmentPool = 1,
    gpu: bool = False,
    backend: str = "llama",
    device: str | None = None,
    adapt: bool | AdaptParams = False,
    progress: Progress | None = None,
    dictionary: str | os.PathLike[str] | Dictionary | None = None,
    equal_info: int | None = None,
    token_bits: int | None = None,
    primer: int | None = None,
) -> bytes:
    """Compress ``data`` into one archive (its size recorded in the header); ``dictionary`` and
    ``equal_info=W`` (windows of W bits) as :class:`NacrithCompressor` takes them."""
    data = bytes(data)
    c = NacrithCompressor(
        model=model,
        lanes=lanes,
        window=window,
        chunk_bytes=chunk_bytes,
        segment_bytes=segment_bytes,
        ensemble=ensemble,
        threads=threads,
        workers=workers,
        gpu=gpu,
        backend=backend,
        device=device,
        adapt=adapt,
        content_size=len(data),
        progress=progress,
        dictionary=dictionary,
        equal_info=equal_info,
        token_bits=token_bits,
        primer=primer,
    )
    return c.compress(data) + c.flush()


def decompress(
    data: bytes,
    *,
    model: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    workers: int | SegmentPool = 1,
    gpu: bool = False,
    backend: str | None = None,
    device: str | None = None,
    progress: Progress | None = None,
    memory_limit: int | None = None,
    dictionary: str | os.PathLike[str] | Dictionary | None = None,
) -> bytes:
    """Decompress a whole archive, or several concatenated ones into the concatenation of their
    contents (as lzma.decompress does). Trailing garbage, truncation and damage raise a NacrithError;
    an archive that needs more than ``memory_limit`` bytes (as :class:`NacrithDecompressor`) raises
    :class:`~nacrith.MemoryLimitError`; an archive made with a dictionary needs it (``dictionary``),
    else ModelMismatchError. ``backend``: decode with this one (None: each archive's own); ``device``: torch's."""
    d = NacrithDecompressor(
        model=model,
        threads=threads,
        progress=progress,
        read_across_frames=True,
        workers=workers,
        gpu=gpu,
        backend=backend,
        device=device,
        memory_limit=memory_limit,
        dictionary=dictionary,
    )
    try:
        out = d.decompress(bytes(data))
        d.check_complete()
    finally:
        d.close()
    return out
