"""Bytes to structures: one frame read block by block, checking everything FORMAT.md says a decoder must
reject short of decoding (a version 1 frame through :mod:`.v1`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO, Iterator, Union

from ..constants import MAGIC, READ_VERSIONS
from ..errors import CorruptArchiveError, TruncatedArchiveError, UnsupportedFormatError
from . import v1
from .fields import KNOWN_KEYS, MODEL_PRESETS, params_from_pairs
from .stream import ByteReader
from .structures import (
    BASE64_FLAGS,
    BUILD_TAG_BYTES,
    FALLBACK_METHODS,
    FINGERPRINT_BYTES,
    LAYOUT_CHUNK,
    LAYOUT_INDEXED,
    LAYOUT_SEGMENT,
    LAYOUT_WINDOWS,
    MAX_BLOCK_WINDOWS,
    MAX_WINDOW_BYTES,
    METHOD_STORED,
    NEURAL_METHODS,
    ChunkEntry,
    CodingParams,
    EndBlock,
    FrameHeader,
    Group,
    IndexEntry,
    Base64Run,
    ModelInfo,
    OtherBytes,
    WindowBlock,
    method_name,
    neural_payload_bound,
)
from .writer import (
    BLOCK_END,
    BLOCK_GROUP,
    BLOCK_INDEX,
    BLOCK_OTHER,
    BLOCK_WINDOWS,
    DESCRIPTOR_CONTENT_SIZE,
    DESCRIPTOR_LAYOUT,
    DESCRIPTOR_METHOD_SHIFT,
    DESCRIPTOR_MODEL_SHIFT,
    DESCRIPTOR_PARAMETERS,
    FOOTER_MAGIC,
    OTHER_BASE64,
)

__all__ = ["Block", "OneChunk", "Index", "FrameReader", "Prefixed", "frames"]

@dataclass
class OneChunk:
    """The whole body of a one-chunk frame (layout 0)."""

    entry: ChunkEntry
    payload: bytes


@dataclass
class Index:
    """The seek index of an indexed frame, checked against the segments read before it."""

    entries: list[IndexEntry] = field(default_factory=list)


Block = Union[Group, OtherBytes, EndBlock, OneChunk, Index, WindowBlock]


@dataclass
class _Segment:
    """What a reader has seen of the current segment, to check its end block against."""

    start: int
    other: OtherBytes | None = None
    text: int = 0
    blocks: int = 0


class FrameReader(ByteReader):
    """Reads one frame from a binary stream, block by block, checking what FORMAT.md requires.

    After :meth:`read_header`, :meth:`read_block` returns the frame's blocks in order until
    ``done``: groups, other bytes and end blocks (one per segment), the index, or the one chunk.
    """

    def __init__(self, stream: BinaryIO, offset: int = 0) -> None:
        """``offset``: where the frame starts in the whole input, so errors name the byte there."""
        super().__init__(stream, offset)
        self.start = offset
        self.header: FrameHeader | None = None
        self.done = False
        self.segments: list[IndexEntry] = []
        """The segments read so far (version 2), as their index entries would list them."""
        self._segment: _Segment | None = None
        self.windows: list[int] = []
        """Layout 3: every window's text length so far, in order (window k is bits k*W to (k+1)*W of the code)."""

    # --- header ---------------------------------------------------------------

    def read_header(self) -> FrameHeader:
        magic = self.read_up_to(len(MAGIC))
        if len(magic) < len(MAGIC) and MAGIC.startswith(magic):
            raise TruncatedArchiveError("empty input: no archive" if not magic else f"truncated archive: {len(magic)} bytes, shorter than a header")
        if magic != MAGIC:
            raise UnsupportedFormatError("not a nacrith archive (bad magic number)")
        version = self.byte("format version")
        if version not in READ_VERSIONS:
            raise UnsupportedFormatError(
                f"archive format version {version}; this nacrith reads versions {', '.join(map(str, READ_VERSIONS))} (upgrade nacrith?)"
            )
        self.header = v1.read_header(self) if version == 1 else self._read_header_v2()
        return self.header

    def _read_header_v2(self) -> FrameHeader:
        descriptor = self.byte("descriptor")
        layout = descriptor & DESCRIPTOR_LAYOUT
        preset = (descriptor >> DESCRIPTOR_MODEL_SHIFT) & 0x03
        method = descriptor >> DESCRIPTOR_METHOD_SHIFT

        if preset and preset not in MODEL_PRESETS:
            raise CorruptArchiveError(f"reserved model number {preset}")
        if layout != LAYOUT_CHUNK and method:
            raise CorruptArchiveError(f"reserved descriptor bits set: 0x{descriptor:02x}")
        if layout == LAYOUT_CHUNK and not descriptor & DESCRIPTOR_CONTENT_SIZE:
            raise CorruptArchiveError("a one-chunk frame without its content size")
        build_tag = self.read(BUILD_TAG_BYTES, "build tag")
        content_size = self.varint("content size") if descriptor & DESCRIPTOR_CONTENT_SIZE else None
        if preset:
            fingerprint, name = MODEL_PRESETS[preset].fingerprint, ""
        else:
            fingerprint = self.read(FINGERPRINT_BYTES, "model fingerprint")
            name = self.short_string("model name")
        pairs: list[tuple[int, int]] = []
        if descriptor & DESCRIPTOR_PARAMETERS:
            while True:
                key = self.varint("parameter key")
                if not key:
                    break
                if pairs and key <= pairs[-1][0]:
                    raise CorruptArchiveError(f"header parameter {key} out of order or repeated")
                if key not in KNOWN_KEYS:
                    raise UnsupportedFormatError(f"the archive sets parameter {key}, unknown to this nacrith (upgrade nacrith?)")
                pairs.append((key, self.varint(f"parameter {key}")))
            if not pairs:
                raise CorruptArchiveError("the parameters flag is set but no parameter follows")
        params = params_from_pairs(pairs, MODEL_PRESETS[preset].start_token if preset else None)
        if layout == LAYOUT_CHUNK:
            _check_entry("the chunk", ChunkEntry(method, content_size or 0, 0, 0, 0), params, payload=False)
        if (layout == LAYOUT_WINDOWS) != (params.equal_info is not None):
            raise CorruptArchiveError("equal-info windows need layout 3 and their window bits (key 30), the one with the other")
        return FrameHeader(ModelInfo(fingerprint, build_tag, name, preset=preset), params, content_size, 2, layout, method)

    # --- blocks ---------------------------------------------------------------

    def read_block(self) -> Block:
        """The next block. Raises TruncatedArchiveError if the stream ends inside it."""
        if self.header is None:
            self.read_header()
        header = self.header
        assert header is not None
        if self.done:
            raise CorruptArchiveError("read past the end of the frame")
        if header.version == 1:
            block = v1.read_block(self, header.params)
            self.done = isinstance(block, EndBlock)
            return block
        if header.layout == LAYOUT_CHUNK:
            return self._read_one_chunk(header)
        if header.layout == LAYOUT_WINDOWS:
            return self._read_window_block(header)
        at = self.offset
        kind = self.byte("block type")
        if kind == BLOCK_INDEX and header.layout == LAYOUT_INDEXED and self._segment is None and self.segments:
            return self._read_index()
        segment = self._segment or _Segment(at)
        block: Block
        if kind == BLOCK_OTHER and not segment.blocks:
            block = segment.other = self._read_other(header.params)
        elif kind == BLOCK_GROUP:
            block = self._read_group(header.params)
            segment.text += sum(e.length for e in block.entries)
        elif kind == BLOCK_END:
            block = EndBlock(self.varint("segment size"), self.u32("segment checksum"))
            self._end_segment(block, header, segment)
            return block
        elif kind == BLOCK_OTHER:
            raise CorruptArchiveError(f"other bytes at byte {at}, not at the start of segment {len(self.segments)}")
        else:
            raise CorruptArchiveError(f"unexpected block type {kind} at byte {at}")
        segment.blocks += 1
        self._segment = segment  # only now: a block cut short leaves the reader as it was, to be read again
        return block

    def reattach(self, stream: BinaryIO, offset: int) -> None:
        """Go on reading the same frame from ``stream``, whose first byte is at ``offset`` (a streaming
        decoder's buffer, after a block that was cut short: the reader is as it was before that block)."""
        self._stream = stream
        self.offset = offset

    def blocks(self) -> Iterator[Block]:
        """Every block of the frame after its header, in order."""
        while not self.done:
            yield self.read_block()

    def _read_one_chunk(self, header: FrameHeader) -> OneChunk:
        payload_length = self.varint("payload length")
        assert header.content_size is not None
        entry = ChunkEntry(header.chunk_method, header.content_size, 0, payload_length, self.u32("chunk checksum"))
        _check_entry("the chunk", entry, header.params)
        chunk = OneChunk(entry, self.read(payload_length, "chunk payload"))
        self.done = True
        return chunk

    def _read_window_block(self, header: FrameHeader) -> WindowBlock | EndBlock:
        at = self.offset
        kind = self.byte("block type")
        if kind == BLOCK_END:
            end = EndBlock(self.varint("content size"), self.u32("content checksum"))
            size = sum(self.windows)
            if end.content_size != size:
                raise CorruptArchiveError(f"the end block says {end.content_size} bytes, the windows hold {size}")
            if header.content_size is not None and size != header.content_size:
                raise CorruptArchiveError(f"the windows hold {size} bytes, the header declares {header.content_size}")
            self.done = True
            return end
        if kind != BLOCK_WINDOWS:
            raise CorruptArchiveError(f"unexpected block type {kind} at byte {at} (layout 3 has window blocks and an end block)")
        count = self.varint("window count")
        if not 1 <= count <= MAX_BLOCK_WINDOWS:
            raise CorruptArchiveError(f"a block of {count} windows (1..{MAX_BLOCK_WINDOWS})")
        lengths = []
        for i in range(count):
            length = self.varint(f"window {len(self.windows) + i} length")
            if not 1 <= length <= MAX_WINDOW_BYTES:
                raise CorruptArchiveError(f"window {len(self.windows) + i}: length {length} (1..{MAX_WINDOW_BYTES})")
            lengths.append(length)
        if header.content_size is not None and sum(self.windows) + sum(lengths) > header.content_size:
            raise CorruptArchiveError(f"the windows hold more than the {header.content_size} bytes the header declares")
        crc = self.u32("window block checksum")
        assert header.params.equal_info is not None
        code = self.read(count * header.params.equal_info.bits // 8, "window code")
        self.windows += lengths  # only now: a block cut short leaves the reader as it was
        return WindowBlock(lengths, crc, code)

    def _read_group(self, params: CodingParams) -> Group:
        count = self.varint("chunk count")
        if not 1 <= count <= params.lanes:
            raise CorruptArchiveError(f"group of {count} chunks; the archive allows 1..{params.lanes} lanes")
        entries = []
        for i in range(count):  # each field is checked as soon as it is read: damage is never waited for
            method = self.byte(f"chunk {i} method")
            if method not in NEURAL_METHODS:
                raise CorruptArchiveError(f"chunk {i}: method {method_name(method)} in a group (neural chunks only)")
            length = self.varint(f"chunk {i} length")
            if not 1 <= length <= params.chunk_bytes:
                raise CorruptArchiveError(f"chunk {i}: length {length} outside 1..{params.chunk_bytes}")
            payload_length = self.varint(f"chunk {i} payload length")
            bound = neural_payload_bound(length, params.precision_bits)
            if payload_length > bound:
                raise CorruptArchiveError(f"chunk {i}: payload of {payload_length} bytes exceeds {bound}")
            entries.append(ChunkEntry(method, length, 0, payload_length, self.u32(f"chunk {i} checksum")))
        return Group(entries, [self.read(e.payload_length, f"chunk {i} payload") for i, e in enumerate(entries)])

    def _read_other(self, params: CodingParams) -> OtherBytes:
        count = self.varint("run count")
        if not 2 <= count <= params.segment_bytes + 1:
            raise CorruptArchiveError(f"{count} runs of text and other bytes (2..{params.segment_bytes + 1})")
        runs, total = [], 0
        for i in range(count):
            runs.append(self.varint(f"run {i} length"))
            total += runs[-1]
            if total > params.segment_bytes:
                raise CorruptArchiveError(f"runs of more than a segment's {params.segment_bytes} bytes")
            if i and not runs[-1]:
                raise CorruptArchiveError(f"run {i} is empty (only the first run may be)")
        method = self.byte("other bytes method")
        base64 = bool(method & OTHER_BASE64)
        method &= ~OTHER_BASE64
        if method not in FALLBACK_METHODS:
            raise CorruptArchiveError(f"other bytes coded with method {method_name(method)}")
        other = OtherBytes(runs, method, 0, 0, base64=self._read_base64(runs, params) if base64 else [])
        other.payload_length = payload_length = self.varint("other bytes payload length")
        _check_fallback_payload("the other bytes", method, other.length, payload_length)
        other.crc = self.u32("other bytes checksum")
        other.payload = self.read(payload_length, "other bytes payload")
        return other

    def _read_base64(self, runs: list[int], params: CodingParams) -> list[Base64Run]:
        """The table of base64 runs, each entry checked as it is read, then the bytes all runs place."""
        count = self.varint("base64 run count")
        if not 1 <= count <= len(runs) // 2:
            raise CorruptArchiveError(f"{count} base64 runs among {len(runs) // 2} runs of other bytes")
        table: list[Base64Run] = []
        for i in range(count):
            run = self.varint(f"base64 run {i}")
            if run % 2 == 0 or run >= len(runs) or (table and run <= table[-1].run):
                raise CorruptArchiveError(f"base64 run {i} names run {run}: not a run of other bytes after the one before")
            line_length = self.varint(f"base64 run {i} line length")
            if not 1 <= line_length <= params.segment_bytes:
                raise CorruptArchiveError(f"base64 run {i}: line length {line_length} outside 1..{params.segment_bytes}")
            flags = self.byte(f"base64 run {i} flags")
            if flags & ~BASE64_FLAGS:
                raise CorruptArchiveError(f"base64 run {i}: reserved flag bits {flags & ~BASE64_FLAGS:#04x} set")
            table.append(Base64Run(run, line_length, flags))
        placed = OtherBytes(runs, 0, 0, 0, base64=table)
        if placed.text_length + placed.placed_length > params.segment_bytes:
            raise CorruptArchiveError(f"runs that place more than a segment's {params.segment_bytes} bytes")
        return table

    def _end_segment(self, end: EndBlock, header: FrameHeader, segment: _Segment) -> None:
        number = len(self.segments)
        expected = segment.text + (segment.other.placed_length if segment.other else 0)
        if segment.other and segment.text != segment.other.text_length:
            raise CorruptArchiveError(f"segment {number}: its groups hold {segment.text} bytes of text, its layout {segment.other.text_length}")
        if end.content_size != expected:
            raise CorruptArchiveError(f"segment {number}: its end block says {end.content_size} bytes, its blocks hold {expected}")
        empty_frame = header.layout == LAYOUT_SEGMENT and not segment.blocks
        if not 1 <= end.content_size <= header.params.segment_bytes and not (empty_frame and end.content_size == 0):
            raise CorruptArchiveError(f"segment {number} of {end.content_size} bytes (1..{header.params.segment_bytes})")
        self.segments.append(IndexEntry(end.content_size, self.offset - segment.start, end.crc))
        self._segment = None
        if header.layout == LAYOUT_SEGMENT:
            self.done = True
        if header.content_size is not None and sum(s.plain_size for s in self.segments) > header.content_size:
            raise CorruptArchiveError(f"the segments hold more than the {header.content_size} bytes the header declares")

    def _read_index(self) -> Index:
        start = self.offset - 1
        count = self.varint("segment count")
        if count != len(self.segments):
            raise CorruptArchiveError(f"the index lists {count} segments; the frame has {len(self.segments)}")
        index = Index()
        for number, seen in enumerate(self.segments):
            entry = IndexEntry(self.varint("segment size"), self.varint("segment archive size"), self.u32("segment checksum"))
            if entry != seen:
                raise CorruptArchiveError(f"the index disagrees with segment {number}: {entry} against {seen}")
            index.entries.append(entry)
        size = self.offset - start
        footer = self.offset
        if self.u32("index size") != size or self.read(len(FOOTER_MAGIC), "footer magic") != FOOTER_MAGIC:
            raise CorruptArchiveError(f"bad index footer at byte {footer}")
        self.done = True
        return index


def _check_entry(what: str, entry: ChunkEntry, params: CodingParams, *, payload: bool = True) -> None:
    """Bounds that keep a damaged table from asking for absurd work or memory (``payload``: its length is known)."""
    longest = params.chunk_bytes if entry.method in NEURAL_METHODS else params.segment_bytes
    if not 1 <= entry.length <= longest:
        raise CorruptArchiveError(f"{what}: length {entry.length} outside 1..{longest}")
    if entry.method in NEURAL_METHODS:
        bound = neural_payload_bound(entry.length, params.precision_bits)
        if entry.payload_length > bound:
            raise CorruptArchiveError(f"{what}: payload of {entry.payload_length} bytes exceeds {bound}")
    elif entry.method not in FALLBACK_METHODS:
        raise CorruptArchiveError(f"{what}: unknown method {entry.method}")
    elif payload:
        _check_fallback_payload(what, entry.method, entry.length, entry.payload_length)


def _check_fallback_payload(what: str, method: int, length: int, payload_length: int) -> None:
    if method == METHOD_STORED and payload_length != length:
        raise CorruptArchiveError(f"{what}: stored payload of {payload_length} bytes for {length}")
    if method != METHOD_STORED and payload_length >= length:
        raise CorruptArchiveError(f"{what}: {method_name(method)} payload not smaller than its {length} bytes")


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

    Concatenated archives (``cat a.nacr b.nacr``) are one valid input, as with gzip, xz and
    zstd (FORMAT.md, "Overview"). The caller reads each frame to its end before asking for the
    next. Bytes after a frame that do not begin another frame are rejected.
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
