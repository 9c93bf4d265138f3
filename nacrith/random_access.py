"""Reading any byte range of an indexed archive, decoding only the segments that hold it.

The seek index sits at the end of the file, found from its footer (FORMAT.md, "Seek index"):
each segment's original size, the size of its blocks and its checksum. A segment's place in
the archive is the header's end plus the sizes of the segments before it, and every segment
decodes alone, so a range costs the segments that cover it, not the file before it.
"""

from __future__ import annotations

import bisect
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Callable

from .container import LAYOUT_INDEXED, FrameHeader, FrameReader, IndexEntry
from .container.stream import ByteReader
from .container.writer import BLOCK_INDEX, FOOTER_BYTES, FOOTER_MAGIC
from .engine import Engine
from .errors import CorruptArchiveError
from .segments.decoder import decode_segment

if TYPE_CHECKING:
    from .dictionary import Dictionary

__all__ = ["SegmentLocation", "IndexedArchive", "open_indexed"]


@dataclass(frozen=True)
class SegmentLocation:
    plain_offset: int
    plain_size: int
    archive_offset: int
    archive_size: int
    crc: int


class IndexedArchive:
    """An indexed archive file open for random access: :meth:`read` decodes only the segments it needs."""

    def __init__(
        self,
        stream: BinaryIO,
        header: FrameHeader,
        segments: list[SegmentLocation],
        engine: Callable[[], Engine],
        memory_limit: int | None = None,
        dictionary: Dictionary | None = None,
    ) -> None:
        self._stream = stream
        self._memory_limit = memory_limit
        self._dictionary = dictionary
        self.header = header
        self.segments = segments
        self.size = segments[-1].plain_offset + segments[-1].plain_size if segments else 0
        self._engine = engine
        self._starts = [s.plain_offset for s in segments]
        self._cached: tuple[int, bytes] | None = None
        self.decoded_segments = 0
        """How many segments were decoded so far (a measure of the work random access saves)."""

    def read(self, start: int, end: int) -> bytes:
        """The original bytes ``start`` to ``end`` (clipped to the content)."""
        start, end = max(0, start), min(end, self.size)
        parts = []
        while start < end:
            number = bisect.bisect_right(self._starts, start) - 1
            data = self.segment(number)
            at = start - self.segments[number].plain_offset
            piece = data[at : at + end - start]
            parts.append(piece)
            start += len(piece)
        return b"".join(parts)

    def segment(self, number: int) -> bytes:
        """Segment ``number``'s original bytes (the last one read is kept: reads nearby cost nothing more)."""
        if self._cached and self._cached[0] == number:
            return self._cached[1]
        where = self.segments[number]
        self._stream.seek(where.archive_offset)
        blocks = ByteReader(self._stream, where.archive_offset).read(where.archive_size, f"segment {number}")
        data = decode_segment(self.header, blocks, self._engine, number, where.archive_offset, self._memory_limit, self._dictionary)
        if len(data) != where.plain_size:
            raise CorruptArchiveError(f"segment {number} decodes to {len(data)} bytes; the index says {where.plain_size}")
        self.decoded_segments += 1
        self._cached = (number, data)
        return data


def open_indexed(
    stream: BinaryIO, engine: Callable[[], Engine], memory_limit: int | None = None, dictionary: Dictionary | None = None
) -> IndexedArchive | None:
    """Random access to ``stream`` when it is a seekable file holding one indexed frame; else None
    (a stream, a frame of one segment or chunk, concatenated archives): read it from the start instead.
    ``memory_limit``: what decoding a segment may need (None: the default limit); ``dictionary``: the one
    the archive may name."""
    try:
        if not stream.seekable():
            return None
        end = stream.seek(0, io.SEEK_END)
    except (OSError, AttributeError):
        return None
    if end < FOOTER_BYTES + 8:
        return None
    stream.seek(end - FOOTER_BYTES)
    footer = stream.read(FOOTER_BYTES)
    if footer[4:] != FOOTER_MAGIC:
        return None
    index_size = int.from_bytes(footer[:4], "little")
    index_at = end - FOOTER_BYTES - index_size
    if not 2 <= index_size <= end - FOOTER_BYTES:
        raise CorruptArchiveError(f"the index footer gives an index of {index_size} bytes in a file of {end}")
    stream.seek(0)
    reader = FrameReader(stream)
    header = reader.read_header()
    if header.version != 2 or header.layout != LAYOUT_INDEXED:
        return None
    entries = _read_index(stream, index_at, index_size, header)
    segments, plain, archive = [], 0, reader.offset
    for entry in entries:
        segments.append(SegmentLocation(plain, entry.plain_size, archive, entry.archive_size, entry.crc))
        plain += entry.plain_size
        archive += entry.archive_size
    if archive != index_at:
        return None  # not one frame from the start of the file (concatenated archives): no random access
    if header.content_size is not None and header.content_size != plain:
        raise CorruptArchiveError(f"the index lists {plain} bytes; the header declares {header.content_size}")
    return IndexedArchive(stream, header, segments, engine, memory_limit, dictionary)


def _read_index(stream: BinaryIO, at: int, size: int, header: FrameHeader) -> list[IndexEntry]:
    """The entries of the index block at ``at``, with bounds that keep damage from costing memory."""
    stream.seek(at)
    reader = ByteReader(io.BytesIO(stream.read(size)), at)
    if reader.byte("index block type") != BLOCK_INDEX:
        raise CorruptArchiveError(f"no index block where the footer points (byte {at})")
    count = reader.varint("segment count")
    if not 1 <= count <= size // 6:  # an entry takes at least 6 bytes
        raise CorruptArchiveError(f"an index of {count} segments in {size} bytes")
    entries = []
    for number in range(count):
        entry = IndexEntry(reader.varint("segment size"), reader.varint("segment archive size"), reader.u32("segment checksum"))
        if not 1 <= entry.plain_size <= header.params.segment_bytes or entry.archive_size < 1:
            raise CorruptArchiveError(f"index entry for segment {number}: {entry.plain_size} bytes in {entry.archive_size}")
        entries.append(entry)
    if reader.offset != at + size:
        raise CorruptArchiveError("the index block does not end where its footer begins")
    return entries
