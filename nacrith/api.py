"""The Python API, shaped like the stdlib ``lzma`` module.

``compress``/``decompress`` are thin wrappers over the reusable ``NacrithCompressor``
and ``NacrithDecompressor``; ``open`` gives a file object over either. Options are
keyword-only; bad arguments raise ``ValueError``; everything else is a ``NacrithError``.
"""

from __future__ import annotations

import builtins
import io
import os
from typing import IO, Any, BinaryIO

from .codec import Engine, FrameDecoder, FrameEncoder, Options, Progress, decode_frames
from .constants import DEFAULT_CHUNK_BYTES, DEFAULT_LANES, DEFAULT_WINDOW
from .container import FrameReader
from .ensemble_params import EnsembleParams
from .errors import TruncatedArchiveError

__all__ = ["compress", "decompress", "NacrithCompressor", "NacrithDecompressor", "NacrithFile", "open", "engine"]

_engines: dict[tuple[str, int | None], Engine] = {}


def engine(model: str | os.PathLike[str] | None = None, threads: int | None = None) -> Engine:
    """The shared engine for a model file: loading a model and its contexts once per process, not per call."""
    probe = Engine(model, threads)
    key = (f"{probe.path.resolve()}:{probe.fingerprint.hex()}", threads)
    if key not in _engines:
        _engines[key] = probe
    return _engines[key]


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
        ensemble: bool | EnsembleParams = True,
        threads: int | None = None,
        content_size: int | None = None,
        progress: Progress | None = None,
    ) -> None:
        """``ensemble``: True for the default models mixed with the LLM, False for the LLM alone,
        or an :class:`EnsembleParams` of your own (all of it is stored in the archive)."""
        options = Options(lanes=lanes, window=window, chunk_bytes=chunk_bytes, ensemble=_ensemble_params(ensemble))
        if content_size is not None and content_size < 0:
            raise ValueError("content_size must be >= 0")
        self._encoder = FrameEncoder(engine(model, threads), options, content_size, progress)
        self._finished = False

    def compress(self, data: bytes) -> bytes:
        if self._finished:
            raise ValueError("cannot call compress() after the compressor finished (flush() was called)")
        return self._encoder.write(bytes(data))

    def flush(self) -> bytes:
        if self._finished:
            raise ValueError("repeated call to flush()")
        self._finished = True
        return self._encoder.finish()


def _ensemble_params(ensemble: bool | EnsembleParams) -> EnsembleParams | None:
    if isinstance(ensemble, EnsembleParams):
        return ensemble
    if isinstance(ensemble, bool):
        return EnsembleParams() if ensemble else None
    raise TypeError(f"ensemble must be True, False or an EnsembleParams, not {type(ensemble).__name__}")


class _ViewStream:
    """Reads a bytearray without copying all of it (io.BytesIO would, once per block)."""

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
    """Decompresses one archive incrementally. Bytes after its end go to ``unused_data``, as in lzma."""

    def __init__(self, *, model: str | os.PathLike[str] | None = None, threads: int | None = None, progress: Progress | None = None) -> None:
        self._model = model
        self._threads = threads
        self._progress = progress
        self._buffer = bytearray()
        self._decoder: FrameDecoder | None = None
        self.eof = False
        self.unused_data = b""

    @property
    def needs_input(self) -> bool:
        return not self.eof

    def decompress(self, data: bytes) -> bytes:
        if self.eof:
            raise EOFError("already at end of stream")
        self._buffer += data
        out = bytearray()
        while not self.eof:
            reader = FrameReader(_ViewStream(self._buffer))
            try:
                if self._decoder is None:
                    header = reader.read_header()
                    self._decoder = FrameDecoder(header, lambda: engine(self._model, self._threads), self._progress)
                else:
                    reader.header = self._decoder.header
                    block = reader.read_block()
                    out += self._decoder.decode(block)
                    self.eof = self._decoder.finished
            except TruncatedArchiveError:
                break  # wait for more input
            del self._buffer[: reader.offset]
        if self.eof:
            self.unused_data = bytes(self._buffer)
            self._buffer.clear()
        return bytes(out)


def compress(
    data: bytes,
    *,
    model: str | os.PathLike[str] | None = None,
    lanes: int = DEFAULT_LANES,
    window: int = DEFAULT_WINDOW,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ensemble: bool | EnsembleParams = True,
    threads: int | None = None,
    progress: Progress | None = None,
) -> bytes:
    """Compress ``data`` into one archive (its size recorded in the header)."""
    data = bytes(data)
    c = NacrithCompressor(
        model=model,
        lanes=lanes,
        window=window,
        chunk_bytes=chunk_bytes,
        ensemble=ensemble,
        threads=threads,
        content_size=len(data),
        progress=progress,
    )
    return c.compress(data) + c.flush()


def decompress(
    data: bytes,
    *,
    model: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
) -> bytes:
    """Decompress a whole archive, or several concatenated ones into the concatenation of their
    contents (as lzma.decompress does). Trailing garbage, truncation and damage raise a NacrithError."""
    return b"".join(decode_frames(io.BytesIO(bytes(data)), lambda: engine(model, threads), progress))


class NacrithFile(io.BufferedIOBase):
    """A file object over an archive: read decodes group by group; write codes as groups fill."""

    def __init__(self, filename: str | bytes | os.PathLike[Any] | BinaryIO, mode: str = "rb", **options: Any) -> None:
        if mode not in ("r", "rb", "w", "wb", "x", "xb"):
            raise ValueError(f"invalid mode: {mode!r}")
        self._mode = mode.rstrip("b")
        if isinstance(filename, (str, bytes, os.PathLike)):
            self._fp: BinaryIO = builtins.open(filename, self._mode + "b")
            self._owns = True
        elif hasattr(filename, "read" if self._mode == "r" else "write"):
            self._fp = filename
            self._owns = False
        else:
            raise TypeError("filename must be a path or a file object")
        if self._mode == "r":
            read_options = {k: v for k, v in options.items() if k in ("model", "threads", "progress")}
            self._chunks = decode_frames(self._fp, lambda: engine(read_options.get("model"), read_options.get("threads")), read_options.get("progress"))
            self._buffer = b""
            self._pos = 0
        else:
            self._compressor = NacrithCompressor(**options)

    def readable(self) -> bool:
        return self._mode == "r"

    def writable(self) -> bool:
        return self._mode != "r"

    def read(self, size: int | None = -1) -> bytes:
        self._check("r")
        parts = []
        want = -1 if size is None or size < 0 else size
        while want != 0:
            if self._pos >= len(self._buffer):
                try:
                    self._buffer, self._pos = next(self._chunks), 0
                except StopIteration:
                    break
            take = len(self._buffer) - self._pos if want < 0 else min(want, len(self._buffer) - self._pos)
            parts.append(self._buffer[self._pos : self._pos + take])
            self._pos += take
            if want > 0:
                want -= take
        return b"".join(parts)

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def write(self, data: Any) -> int:
        self._check("w")
        data = bytes(data)
        self._fp.write(self._compressor.compress(data))
        return len(data)

    def _check(self, want: str) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        if (want == "r") != (self._mode == "r"):
            raise io.UnsupportedOperation("not " + ("readable" if want == "r" else "writable"))

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._mode != "r":
                self._fp.write(self._compressor.flush())
        finally:
            try:
                if self._owns:
                    self._fp.close()
            finally:
                super().close()


def open(
    filename: str | bytes | os.PathLike[Any] | BinaryIO,
    mode: str = "rb",
    *,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    **options: Any,
) -> NacrithFile | IO[str]:
    """Open an archive in binary ("rb", "wb", "xb") or text ("rt", "wt", ...) mode, like lzma.open."""
    if "t" in mode:
        if "b" in mode:
            raise ValueError(f"invalid mode: {mode!r}")
        binary = NacrithFile(filename, mode.replace("t", ""), **options)
        return io.TextIOWrapper(binary, encoding, errors, newline)
    if encoding is not None or errors is not None or newline is not None:
        raise ValueError("encoding, errors and newline are for text mode only")
    return NacrithFile(filename, mode, **options)
