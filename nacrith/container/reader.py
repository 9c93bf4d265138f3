"""Bytes to structures: one frame read block by block, checking everything FORMAT.md says a decoder must reject."""

from __future__ import annotations

from typing import BinaryIO, Iterator

from ..constants import FORMAT_VERSION, MAGIC, MAX_GROUP_CHUNKS
from ..errors import CorruptArchiveError, TruncatedArchiveError, UnsupportedFormatError
from ..neural.params import EnsembleParams
from .structures import (
    FINGERPRINT_BYTES,
    METHOD_STORED,
    METHOD_ZSTD,
    NEURAL_METHODS,
    ChunkEntry,
    CodingParams,
    EndBlock,
    FrameHeader,
    Group,
    ModelInfo,
    METHOD_NAMES,
    neural_payload_bound,
)
from .writer import BLOCK_END, BLOCK_GROUP, FLAG_CONTENT_SIZE, FLAG_ENSEMBLE, FLAG_MODEL_NAME, FLAGS_KNOWN

__all__ = ["FrameReader", "Prefixed", "frames"]

_READ_PIECE = 1 << 20
_MAX_VARINT_BYTES = 9  # 63 bits: more than any size this format describes


class FrameReader:
    """Reads one frame from a binary stream, block by block, checking what FORMAT.md requires."""

    def __init__(self, stream: BinaryIO, offset: int = 0) -> None:
        """``offset``: where the frame starts in the whole input, so errors name the byte there."""
        self._stream = stream
        self.offset = offset
        self.header: FrameHeader | None = None

    def _read(self, n: int, what: str) -> bytes:
        # Read in bounded pieces: file.read(n) allocates n bytes first, and n may come from damage.
        parts, got = [], 0
        while got < n:
            piece = self._stream.read(min(n - got, _READ_PIECE))
            if not piece:
                break
            parts.append(piece)
            got += len(piece)
        data = b"".join(parts)
        if len(data) != n:
            raise TruncatedArchiveError(f"truncated archive: {what} at byte {self.offset} needs {n} bytes, got {len(data)}")
        self.offset += n
        return data

    def _byte(self, what: str) -> int:
        return self._read(1, what)[0]

    def _varint(self, what: str) -> int:
        value = 0
        for i in range(_MAX_VARINT_BYTES):
            byte = self._byte(what)
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if i and byte == 0:
                    raise CorruptArchiveError(f"over-long varint for {what} at byte {self.offset}")
                return value
        raise CorruptArchiveError(f"varint for {what} longer than {_MAX_VARINT_BYTES} bytes at byte {self.offset}")

    def _short_string(self, what: str) -> str:
        raw = self._read(self._byte(what), what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptArchiveError(f"{what} is not UTF-8") from None

    def read_header(self) -> FrameHeader:
        magic = self._stream.read(len(MAGIC))
        self.offset += len(magic)
        if len(magic) < len(MAGIC) and MAGIC.startswith(magic):
            raise TruncatedArchiveError(f"truncated archive: {len(magic)} bytes, shorter than a header")
        if magic != MAGIC:
            raise UnsupportedFormatError("not a nacrith archive (bad magic number)")
        version = self._byte("format version")
        if version != FORMAT_VERSION:
            raise UnsupportedFormatError(
                f"archive format version {version}; this nacrith reads version {FORMAT_VERSION} (upgrade nacrith?)"
            )
        flags = self._byte("flags")
        if flags & ~FLAGS_KNOWN:
            raise CorruptArchiveError(f"reserved header flag bits set: 0x{flags:02x}")
        content_size = self._varint("content size") if flags & FLAG_CONTENT_SIZE else None
        fingerprint = self._read(FINGERPRINT_BYTES, "model fingerprint")
        llama_version = self._short_string("llama.cpp version")
        name = self._short_string("model name") if flags & FLAG_MODEL_NAME else ""
        if flags & FLAG_MODEL_NAME and not name:
            raise CorruptArchiveError("the model-name flag is set but the name is empty")
        precision = self._byte("precision")
        lanes, window, keep, chunk_bytes, start = (
            self._varint(w) for w in ("lanes", "window", "slide keep", "chunk size", "start token")
        )
        ensemble = None
        if flags & FLAG_ENSEMBLE:
            count = len(EnsembleParams().values())
            ensemble = EnsembleParams.from_values([self._varint(f"ensemble parameter {i + 1}") for i in range(count)])
        params = CodingParams(precision, lanes, window, keep, chunk_bytes, start, ensemble)
        params.validate()
        self.header = FrameHeader(ModelInfo(fingerprint, llama_version, name), params, content_size)
        return self.header

    def read_block(self) -> Group | EndBlock:
        """The next block. Raises TruncatedArchiveError if the stream ends inside it."""
        if self.header is None:
            self.read_header()
        assert self.header is not None
        kind = self._byte("block type")
        if kind == BLOCK_END:
            size = self._varint("content size")
            crc = int.from_bytes(self._read(4, "content checksum"), "little")
            return EndBlock(size, crc)
        if kind != BLOCK_GROUP:
            raise CorruptArchiveError(f"unknown block type {kind} at byte {self.offset - 1}")
        return self._read_group(self.header.params)

    def blocks(self, *, last: bool = True) -> Iterator[Group | EndBlock]:
        """Yield each group, then the end block. ``last``: the input must end there (else the
        caller reads what follows, e.g. the next of several concatenated frames)."""
        while True:
            block = self.read_block()
            if isinstance(block, EndBlock):
                if last and self._stream.read(1):
                    raise CorruptArchiveError(f"unexpected data after the end of the archive at byte {self.offset}")
                yield block
                return
            yield block

    def _read_group(self, params: CodingParams) -> Group:
        count = self._varint("chunk count")
        if not 1 <= count <= MAX_GROUP_CHUNKS:
            raise CorruptArchiveError(f"group of {count} chunks; a group holds 1..{MAX_GROUP_CHUNKS}")
        entries = []
        for i in range(count):
            method = self._byte(f"chunk {i} method")
            if method not in METHOD_NAMES:
                raise CorruptArchiveError(f"chunk {i}: unknown method {method}")
            length = self._varint(f"chunk {i} length")
            tokens = self._varint(f"chunk {i} token count") if method in NEURAL_METHODS else 0
            payload_length = self._varint(f"chunk {i} payload length")
            crc = int.from_bytes(self._read(4, f"chunk {i} checksum"), "little")
            entry = ChunkEntry(method, length, tokens, payload_length, crc)
            _check_entry(i, entry, params)
            entries.append(entry)
        neural = sum(e.method in NEURAL_METHODS for e in entries)
        if neural > params.lanes:
            raise CorruptArchiveError(f"group of {neural} neural chunks; the archive allows {params.lanes} lanes")
        payloads = [self._read(e.payload_length, f"chunk {i} payload") for i, e in enumerate(entries)]
        return Group(entries, payloads)


def _check_entry(index: int, entry: ChunkEntry, params: CodingParams) -> None:
    """Bounds that keep a damaged table from asking for absurd work or memory."""
    longest = params.chunk_bytes if entry.method in NEURAL_METHODS else params.chunk_bytes * params.lanes
    if not 1 <= entry.length <= longest:
        raise CorruptArchiveError(f"chunk {index}: length {entry.length} outside 1..{longest}")
    if entry.method == METHOD_STORED and entry.payload_length != entry.length:
        raise CorruptArchiveError(f"chunk {index}: stored payload of {entry.payload_length} bytes for {entry.length}")
    if entry.method == METHOD_ZSTD and entry.payload_length >= entry.length:
        raise CorruptArchiveError(f"chunk {index}: zstd payload not smaller than its {entry.length} bytes")
    if entry.method in NEURAL_METHODS:
        if not 1 <= entry.tokens <= entry.length:
            raise CorruptArchiveError(f"chunk {index}: {entry.tokens} tokens for {entry.length} bytes")
        bound = neural_payload_bound(entry.tokens, params.precision_bits)
        if entry.payload_length > bound:
            raise CorruptArchiveError(f"chunk {index}: payload of {entry.payload_length} bytes exceeds {bound}")


class Prefixed:
    """A stream with some bytes already read from it put back in front."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix = prefix
        self._stream = stream

    def read(self, n: int = -1) -> bytes:
        if not self._prefix:
            return self._stream.read(n)
        if n < 0:
            head, self._prefix = self._prefix, b""
            return head + self._stream.read()
        head, self._prefix = self._prefix[:n], self._prefix[n:]
        return head + (self._stream.read(n - len(head)) if n > len(head) else b"")


def frames(stream: BinaryIO) -> Iterator[FrameReader]:
    """A reader for each frame of ``stream`` in turn, each handed out before its header is read.

    Concatenated archives (``cat a.nacr b.nacr``) are a valid input, as with gzip, xz and zstd
    (FORMAT.md, "Concatenated frames"). The caller reads each frame to its end block with
    ``blocks(last=False)`` before asking for the next. Bytes after an end block that do not
    begin another frame are rejected.
    """
    reader = FrameReader(stream)
    yield reader
    while True:
        start = reader.offset
        magic = stream.read(len(MAGIC))
        if not magic:
            return
        if not MAGIC.startswith(magic):  # a short, matching start is a truncated frame: read_header says so
            raise CorruptArchiveError(f"unexpected data after the end of the archive at byte {start}")
        reader = FrameReader(Prefixed(magic, stream), start)
        yield reader

