"""One frame out: input bytes in, archive bytes out, a segment at a time.

The input is cut into segments of at most ``segment_bytes`` (at a line end or space near the
limit, so the cuts depend on the input and the settings alone), each coded on its own
(:mod:`nacrith.segments`) by a segment coder: in this process, or by workers. The header
waits for the first cut: input that ends within one segment makes a one-segment frame (or a
one-chunk frame, for a short text), more makes an indexed frame whose seek index follows the
last segment. Memory holds the segments in flight, whatever the input size.
"""

from __future__ import annotations

import dataclasses

from ..chunking import mostly_binary, safe_cut
from ..constants import BINARY_SEGMENT_BYTES, DEFAULT_SEGMENT_BYTES, PRECISION_BITS
from ..container import (
    LAYOUT_CHUNK,
    LAYOUT_INDEXED,
    LAYOUT_SEGMENT,
    TORCH_BACKENDS,
    CodingParams,
    FrameHeader,
    IndexEntry,
    write_chunk,
    write_header,
    write_index,
)
from ..engine import Engine
from ..options import Options
from ..segments.coders import InlineCoder, SegmentCoder
from ..segments.encoder import CodedSegment
from ..segments.progress import Progress
from ..workers.local import SegmentPool

__all__ = ["FrameEncoder"]


class FrameEncoder:
    """Streams one frame: feed bytes with :meth:`write`, end with :meth:`finish`; each returns archive bytes."""

    def __init__(
        self,
        engine: Engine,
        options: Options | None = None,
        content_size: int | None = None,
        progress: Progress | None = None,
        pool: SegmentPool | None = None,
    ) -> None:
        """``pool``: workers that code the segments (default: this process, in order)."""
        self.engine = engine
        self.options = o = options or Options()
        segment = o.segment_bytes or DEFAULT_SEGMENT_BYTES
        self.params = CodingParams(
            PRECISION_BITS,
            o.lanes,
            o.window,
            o.keep,
            o.chunk_bytes,
            engine.start_token(),
            o.ensemble,
            segment,
            engine.backend,
            o.dictionary.identity if o.dictionary else 0,
            adapt=o.adapt,
            threads=engine.threads if engine.backend in TORCH_BACKENDS else 1,
        )
        self._progress = progress
        self._pool = pool
        self._content_size = content_size
        self._coder: SegmentCoder | None = None
        """Made at the first cut, once the segment size is settled."""
        self._pending = bytearray()
        self._size = 0
        self._index: list[IndexEntry] = []
        self._layout: int | None = None
        self._settled = False
        self._finished = False

    def write(self, data: bytes) -> bytes:
        if self._finished:
            raise ValueError("cannot write() after finish()")
        self._pending += data
        out = bytearray()
        while len(self._pending) > self._limit():  # more follows this segment: the frame is indexed
            if self._layout is None:
                self._layout = LAYOUT_INDEXED
                out += self._header()
            limit = self.params.segment_bytes
            cut = safe_cut(self._pending, limit, 0)
            self._submit(bytes(self._pending[:cut]))
            del self._pending[:cut]
            out += self._written(wait=False)
        return bytes(out)

    def finish(self) -> bytes:
        if self._finished:
            raise ValueError("cannot finish() twice")
        self._finished = True
        if self._pending or self._layout is None:
            self._submit(bytes(self._pending))
            self._pending.clear()
        if self._content_size is not None and self._content_size != self._size:
            raise ValueError(f"content_size was given as {self._content_size}, but {self._size} bytes were written")
        if self._layout is None:
            assert self._coder is not None
            return self._single(self._coder.ready(wait=True)[0])
        return self._written(wait=True) + write_index(self._index)

    def _limit(self) -> int:
        """The segment size, settled once the first segment is known: the default size for text, 64 MiB
        for input that begins mostly with binary data, unless the caller chose one."""
        limit = self.params.segment_bytes
        if not self._settled and len(self._pending) > limit:
            self._settled = True
            if self.options.segment_bytes is None and mostly_binary(bytes(self._pending[:limit])):
                self.params = dataclasses.replace(self.params, segment_bytes=BINARY_SEGMENT_BYTES)
                return BINARY_SEGMENT_BYTES
        return limit

    def _submit(self, segment: bytes) -> None:
        self._size += len(segment)
        if self._coder is None:
            o, p = self.options, self.params
            self._coder = self._pool.encoder(o, p, self._progress) if self._pool else InlineCoder(self.engine, o, p, self._progress)
        self._coder.submit(segment)

    def _written(self, *, wait: bool) -> bytes:
        """The segments coded so far, in order (``wait``: all of them)."""
        out = bytearray()
        assert self._coder is not None
        for segment in self._coder.ready(wait=wait):
            body = segment.to_bytes()
            self._index.append(IndexEntry(segment.plain_size, len(body), segment.crc))
            out += body
        return bytes(out)

    def _single(self, segment: CodedSegment) -> bytes:
        """A frame of one segment: one chunk (a short text, or zstd or stored bytes) needs no table."""
        one = segment.as_one_chunk()
        if one is not None:
            entry, payload = one
            self._layout = LAYOUT_CHUNK
            return self._header(entry.method, content_size=segment.plain_size) + write_chunk(entry, payload)
        self._layout = LAYOUT_SEGMENT
        return self._header() + segment.to_bytes()

    def _header(self, chunk_method: int = 0, *, content_size: int | None = None) -> bytes:
        size = content_size if content_size is not None else self._content_size
        assert self._layout is not None
        return write_header(FrameHeader(self.engine.model_info(), self.params, size, 2, self._layout, chunk_method))
