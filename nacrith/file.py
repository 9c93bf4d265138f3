"""File objects over archives, like ``lzma.LZMAFile`` and ``lzma.open``.

Reading feeds the archive to a :class:`~nacrith.NacrithDecompressor` that reads across
frames, a block at a time, so memory holds about one group whatever the file's size;
writing feeds a :class:`~nacrith.NacrithCompressor`.
"""

from __future__ import annotations

import builtins
import io
import os
from typing import IO, Any, BinaryIO

from .api import NacrithCompressor, NacrithDecompressor
from .dictionary import as_dictionary
from .engine import engine_for
from .random_access import IndexedArchive, open_indexed

__all__ = ["NacrithFile", "open"]

READ_BLOCK = 1 << 16
"""Archive bytes read at a time: small next to a group, so output follows input closely."""

_READ_OPTIONS = ("model", "threads", "progress", "workers", "gpu", "backend", "device", "memory_limit", "dictionary")
"""NacrithDecompressor's keywords (``nacrith decompress --range`` passes the command line's)."""


class NacrithFile(io.BufferedIOBase):
    """A file object over an archive: read decodes group by group; write codes as groups fill.

    Reading takes the options of :class:`~nacrith.NacrithDecompressor` ``model``, ``threads``, ``progress``,
    ``workers``, ``gpu`` and ``memory_limit``; writing those of :class:`~nacrith.NacrithCompressor`.
    """

    def __init__(self, filename: str | bytes | os.PathLike[Any] | BinaryIO, mode: str = "rb", **options: Any) -> None:
        if mode not in ("r", "rb", "w", "wb", "x", "xb"):
            raise ValueError(f"invalid mode: {mode!r}")
        self._mode = mode.rstrip("b")
        # Options first: a bad one must not leave a new file behind, nor empty an existing one.
        if self._mode == "r":
            unknown = set(options) - set(_READ_OPTIONS)
            if unknown:
                raise TypeError(f"options for writing given in read mode: {', '.join(sorted(unknown))}")
            if "dictionary" in options:  # loaded once, for the stream reader and the random-access one
                options = {**options, "dictionary": as_dictionary(options["dictionary"])}
            self._options = options
            self._start_reading()
            self._pos = 0
            self._indexed: IndexedArchive | None | bool = False
            """The random-access view of the archive (None: there is none; False: not looked for yet)."""
        else:
            self._compressor = NacrithCompressor(**options)
        if isinstance(filename, (str, bytes, os.PathLike)):
            self._fp: BinaryIO = builtins.open(filename, self._mode + "b")
            self._owns = True
        elif hasattr(filename, "read" if self._mode == "r" else "write"):
            self._fp = filename
            self._owns = False
        else:
            raise TypeError("filename must be a path or a file object")

    def readable(self) -> bool:
        self._check_open()
        return self._mode == "r"

    def writable(self) -> bool:
        self._check_open()
        return self._mode != "r"

    def _start_reading(self) -> None:
        self._decompressor = NacrithDecompressor(read_across_frames=True, **self._options)
        self._at_end = False

    def seekable(self) -> bool:
        """Whether :meth:`seek` works: in a seekable file, as in gzip's files. In an indexed archive a seek
        costs only the segments read after it; in others it decodes what lies before. Never when writing."""
        self._check_open()
        return self._mode == "r" and bool(self._fp.seekable())

    def tell(self) -> int:
        self._check("r")
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to ``offset`` (from the start, the current position or the end, as ``whence`` says).

        In an indexed archive the next read decodes only the segments it needs. Otherwise a seek
        forward decodes and skips what lies between, and a seek backward starts again from the
        beginning, as gzip's files do; the end is known only by decoding to it.
        """
        self._check("r")
        if not self._fp.seekable():
            raise io.UnsupportedOperation("the archive is not in a seekable file")
        indexed = self._random_access()
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence == io.SEEK_END:
            if indexed is None:
                while self._read_some(READ_BLOCK * 16):
                    pass
                offset += self._pos
            else:
                offset += indexed.size
        elif whence != io.SEEK_SET:
            raise ValueError(f"invalid whence: {whence}")
        offset = max(0, offset)
        if indexed is None:
            if offset < self._pos:
                self._fp.seek(0)
                self._start_reading()
                self._pos = 0
            while self._pos < offset and self._read_some(min(offset - self._pos, READ_BLOCK * 16)):
                pass
        else:
            self._pos = offset
        return self._pos

    def _random_access(self) -> IndexedArchive | None:
        if self._indexed is False:
            fp = self._fp
            here = fp.tell() if fp.seekable() else None
            o = self._options

            def engine():  # called once the archive's header is read: its backend is known
                params = self._indexed.header.params  # type: ignore[union-attr]
                return engine_for(params, o.get("model"), o.get("threads"), 0 if o.get("gpu") else None, o.get("backend"), o.get("device"))

            self._indexed = open_indexed(fp, engine, o.get("memory_limit"), o.get("dictionary"))
            if self._indexed is None and here is not None:
                fp.seek(here)  # the stream reader goes on where it was
        return self._indexed  # type: ignore[return-value]

    def read(self, size: int | None = -1) -> bytes:
        self._check("r")
        if self._indexed:
            indexed = self._indexed
            end = indexed.size if size is None or size < 0 else self._pos + size
            data = indexed.read(self._pos, end)
            self._pos += len(data)
            return data
        if size is None or size < 0:
            return b"".join(iter(lambda: self._read_some(READ_BLOCK * 16), b""))
        parts, want = [], size
        while want > 0:
            data = self._read_some(want)
            if not data:
                break
            parts.append(data)
            want -= len(data)
        return b"".join(parts)

    def read1(self, size: int = -1) -> bytes:
        """At most ``size`` bytes (any number when negative) with at most one read of the archive."""
        self._check("r")
        if self._indexed:
            return self.read(size if size >= 0 else READ_BLOCK * 16)
        return self._read_some(size if size >= 0 else READ_BLOCK * 16)

    def readinto(self, buffer: Any) -> int:
        with memoryview(buffer) as view, view.cast("B") as target:
            data = self.read(len(target))
            target[: len(data)] = data
        return len(data)

    def _read_some(self, size: int) -> bytes:
        """Up to ``size`` decoded bytes from the stream, b"" only at the end of the archive."""
        if size == 0:
            return b""
        data = self._stream_some(size)
        self._pos += len(data)
        return data

    def _stream_some(self, size: int) -> bytes:
        d = self._decompressor
        while not self._at_end:
            if d.needs_input:
                block = self._fp.read(READ_BLOCK)
                if not block:
                    d.check_complete()
                    self._at_end = True
                    break
            else:
                block = b""
            data = d.decompress(block, size)
            if data:
                return data
        return b""

    def write(self, data: Any) -> int:
        self._check("w")
        with memoryview(data) as view:
            length = view.nbytes
            self._fp.write(self._compressor.compress(view.tobytes()))
        return length

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def _check(self, want: str) -> None:
        self._check_open()
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
