"""The .nacr container: frame header, chunk groups, end block (normative spec: FORMAT.md).

This module turns structures into bytes and back and checks everything a decoder
must reject. It knows nothing of models or coders: a model is a fingerprint and a
few strings here, a payload is opaque bytes.

The layout is written front to back and never patched, so an encoder can stream
groups out as it codes them and memory does not grow with the input.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

from .constants import FORMAT_VERSION, MAGIC, MAX_CHUNK_BYTES, MAX_GROUP_CHUNKS, MAX_LANES, STATE_BITS
from .ensemble_params import EnsembleParams
from .errors import CorruptArchiveError, TruncatedArchiveError, UnsupportedFormatError

__all__ = [
    "frames",
    "Prefixed",
    "METHOD_STORED",
    "METHOD_ZSTD",
    "METHOD_NEURAL",
    "METHOD_NEURAL_CRLF",
    "NEURAL_METHODS",
    "ModelInfo",
    "CodingParams",
    "FrameHeader",
    "ChunkEntry",
    "Group",
    "EndBlock",
    "write_header",
    "write_group",
    "write_end",
    "FrameReader",
    "crc32",
    "neural_payload_bound",
]

METHOD_STORED = 0
METHOD_ZSTD = 1
METHOD_NEURAL = 2
METHOD_NEURAL_CRLF = 3
"""Neural, of the chunk with every CRLF line end made LF (the model codes web-style text better)."""
NEURAL_METHODS = frozenset({METHOD_NEURAL, METHOD_NEURAL_CRLF})
_METHODS = {METHOD_STORED: "stored", METHOD_ZSTD: "zstd", METHOD_NEURAL: "neural", METHOD_NEURAL_CRLF: "neural-crlf"}

_FLAG_CONTENT_SIZE = 0x01
_FLAG_MODEL_NAME = 0x02
_FLAG_ENSEMBLE = 0x04
_FLAGS_KNOWN = _FLAG_CONTENT_SIZE | _FLAG_MODEL_NAME | _FLAG_ENSEMBLE

_BLOCK_END = 0x00
_BLOCK_GROUP = 0x01

_FINGERPRINT_BYTES = 8
_READ_PIECE = 1 << 20
_MAX_WINDOW = 1 << 16
_MAX_VARINT_BYTES = 9  # 63 bits: more than any size this format describes


def neural_payload_bound(tokens: int, precision_bits: int) -> int:
    """Most payload bytes a neural chunk may have, a bound no coded chunk can exceed.

    A frequency of at least 1 in ``2**precision`` costs at most ``precision`` bits, and the
    coder's integer rounding less than 2 more: the interval it narrows spans more than
    ``2**30`` of the state, so ``span // total >= 2**(30 - precision)`` (FORMAT.md, "Chunk
    entry"). The finish adds 2 bits and a byte's padding, well inside the 8 spare bytes.
    """
    return (tokens * (precision_bits + 2) + 7) // 8 + 8


def crc32(data: bytes, value: int = 0) -> int:
    """CRC-32 (ISO 3309, as in gzip and zip): the checksum of chunks and of the whole content."""
    return zlib.crc32(data, value) & 0xFFFFFFFF


@dataclass(frozen=True)
class ModelInfo:
    """What identifies the predictor: decoding with anything else gives garbage."""

    fingerprint: bytes
    """First 8 bytes of the SHA-256 of the GGUF file."""
    llama_version: str
    """llama-cpp-python version that wrote the archive; logits can change between builds."""
    name: str = ""
    """File name of a model not known by fingerprint (empty for the built-in presets)."""


@dataclass(frozen=True)
class CodingParams:
    """Every parameter the neural decoder depends on, besides the model itself."""

    precision_bits: int
    lanes: int
    window: int
    slide_keep: int
    chunk_bytes: int
    start_token: int
    ensemble: EnsembleParams | None = None
    """The ensemble's parameters; None: the LLM alone, through the plain quantization."""

    def validate(self) -> None:
        """Raise CorruptArchiveError when a value is impossible (a damaged or hostile header)."""
        problems = []
        if not 1 <= self.precision_bits <= STATE_BITS - 2:
            problems.append(f"precision {self.precision_bits} bits (1..{STATE_BITS - 2})")
        if not 1 <= self.lanes <= MAX_LANES:
            problems.append(f"lanes {self.lanes} (1..{MAX_LANES})")
        if not 2 <= self.window <= _MAX_WINDOW:
            problems.append(f"window {self.window} (2..{_MAX_WINDOW})")
        if not 1 <= self.slide_keep < self.window:
            problems.append(f"slide keep {self.slide_keep} (1..window-1)")
        if not 1 <= self.chunk_bytes <= MAX_CHUNK_BYTES:
            problems.append(f"chunk size {self.chunk_bytes} (1..{MAX_CHUNK_BYTES})")
        if self.ensemble is not None:
            problems += self.ensemble.problems()
            if not self.ensemble.enabled:
                problems.append("an ensemble with every model off")
        if problems:
            raise CorruptArchiveError("impossible coding parameters: " + ", ".join(problems))


@dataclass(frozen=True)
class FrameHeader:
    model: ModelInfo
    params: CodingParams
    content_size: int | None = None
    """Original size when known in advance (not for a stream); the end block always has it."""


@dataclass(frozen=True)
class ChunkEntry:
    """One row of a group's chunk table."""

    method: int
    length: int
    """Original bytes of the chunk."""
    tokens: int
    """Token count (neural chunks only; 0 otherwise). Decoding stops after this many."""
    payload_length: int
    crc: int
    """CRC-32 of the chunk's original bytes: a bad model or build stops at the first bad chunk."""

    @property
    def method_name(self) -> str:
        return _METHODS.get(self.method, f"unknown({self.method})")


@dataclass
class Group:
    """Chunks coded together: the neural ones ran side by side as lanes, in table order."""

    entries: list[ChunkEntry]
    payloads: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class EndBlock:
    content_size: int
    crc: int


# --- writing ---------------------------------------------------------------


def _varint(value: int) -> bytes:
    if value < 0 or value >= 1 << 63:
        raise ValueError(f"varint out of range: {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _short_string(text: str) -> bytes:
    raw = text.encode("utf-8")[:255].decode("utf-8", "ignore").encode("utf-8")  # never cut a character
    return bytes([len(raw)]) + raw


def write_header(header: FrameHeader) -> bytes:
    """The frame header: magic, version, flags, sizes, model identity, coding parameters."""
    model, params = header.model, header.params
    if len(model.fingerprint) != _FINGERPRINT_BYTES:
        raise ValueError(f"model fingerprint must be {_FINGERPRINT_BYTES} bytes")
    flags = 0
    if header.content_size is not None:
        flags |= _FLAG_CONTENT_SIZE
    if model.name:
        flags |= _FLAG_MODEL_NAME
    if params.ensemble is not None:
        flags |= _FLAG_ENSEMBLE
    out = bytearray(MAGIC)
    out += bytes([FORMAT_VERSION, flags])
    if header.content_size is not None:
        out += _varint(header.content_size)
    out += model.fingerprint
    out += _short_string(model.llama_version)
    if model.name:
        out += _short_string(model.name)
    out.append(params.precision_bits)
    for value in (params.lanes, params.window, params.slide_keep, params.chunk_bytes, params.start_token):
        out += _varint(value)
    if params.ensemble is not None:
        for value in params.ensemble.values():
            out += _varint(value)
    return bytes(out)


def write_group(group: Group) -> bytes:
    """A group block: its chunk table, then the payloads in table order."""
    if not group.entries or len(group.entries) != len(group.payloads):
        raise ValueError("a group needs one payload per chunk entry, and at least one chunk")
    out = bytearray([_BLOCK_GROUP])
    out += _varint(len(group.entries))
    for entry, payload in zip(group.entries, group.payloads):
        if entry.payload_length != len(payload):
            raise ValueError("chunk entry payload_length does not match its payload")
        out.append(entry.method)
        out += _varint(entry.length)
        if entry.method in NEURAL_METHODS:
            out += _varint(entry.tokens)
        out += _varint(entry.payload_length)
        out += entry.crc.to_bytes(4, "little")
    for payload in group.payloads:
        out += payload
    return bytes(out)


def write_end(end: EndBlock) -> bytes:
    """The end block: total size and CRC-32 of everything the frame decodes to."""
    return bytes([_BLOCK_END]) + _varint(end.content_size) + end.crc.to_bytes(4, "little")


# --- reading ---------------------------------------------------------------


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
        if flags & ~_FLAGS_KNOWN:
            raise CorruptArchiveError(f"reserved header flag bits set: 0x{flags:02x}")
        content_size = self._varint("content size") if flags & _FLAG_CONTENT_SIZE else None
        fingerprint = self._read(_FINGERPRINT_BYTES, "model fingerprint")
        llama_version = self._short_string("llama.cpp version")
        name = self._short_string("model name") if flags & _FLAG_MODEL_NAME else ""
        if flags & _FLAG_MODEL_NAME and not name:
            raise CorruptArchiveError("the model-name flag is set but the name is empty")
        precision = self._byte("precision")
        lanes, window, keep, chunk_bytes, start = (
            self._varint(w) for w in ("lanes", "window", "slide keep", "chunk size", "start token")
        )
        ensemble = None
        if flags & _FLAG_ENSEMBLE:
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
        if kind == _BLOCK_END:
            size = self._varint("content size")
            crc = int.from_bytes(self._read(4, "content checksum"), "little")
            return EndBlock(size, crc)
        if kind != _BLOCK_GROUP:
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
            if method not in _METHODS:
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
    (FORMAT.md, "Overview" and "End block"). The caller reads each frame to its end block with
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
