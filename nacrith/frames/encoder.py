"""One frame out: input bytes in, archive bytes out, a group at a time.

The input is taken a span of ``lanes x chunk_bytes`` bytes at a time (cut at a safe place),
planned into chunks and groups (:mod:`.plan`), and each group is written as soon as it is
coded: the neural chunks side by side as lanes (:mod:`nacrith.neural.lanes`), the rest by
the fallback. Memory holds one span, whatever the input size.
"""

from __future__ import annotations

import dataclasses

from .. import chunking, fallback
from ..constants import PRECISION_BITS
from ..container import (
    ChunkEntry,
    CodingParams,
    EndBlock,
    FrameHeader,
    Group,
    crc32,
    neural_payload_bound,
    write_end,
    write_group,
    write_header,
)
from ..engine import Engine
from ..neural.ensemble import Ensemble
from ..neural.lanes import encode_group
from ..options import Options
from .plan import Chunk, group_chunks, plan_chunks
from .progress import LaneReport, Progress

__all__ = ["FrameEncoder"]


class FrameEncoder:
    """Streams one frame: feed bytes with :meth:`write`, end with :meth:`finish`; each returns archive bytes."""

    def __init__(
        self,
        engine: Engine,
        options: Options | None = None,
        content_size: int | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.engine = engine
        self.options = options or Options()
        o = self.options
        self.params = CodingParams(PRECISION_BITS, o.lanes, o.window, o.keep, o.chunk_bytes, 0, o.ensemble)
        self._content_size = content_size
        self._progress = progress
        self._pending = bytearray()
        self._crc = 0
        self._size = 0
        self._header_written = False
        self._finished = False
        self._ensemble: Ensemble | None = None

    def write(self, data: bytes) -> bytes:
        if self._finished:
            raise ValueError("cannot write() after finish()")
        self._pending += data
        out = bytearray(self._header())
        span = self.options.group_bytes
        while len(self._pending) > span:
            cut = chunking.safe_cut(self._pending, span, 0)
            out += self._encode_span(bytes(self._pending[:cut]))
            del self._pending[:cut]
        return bytes(out)

    def finish(self) -> bytes:
        if self._finished:
            raise ValueError("cannot finish() twice")
        out = bytearray(self._header())
        if self._pending:
            out += self._encode_span(bytes(self._pending))
            self._pending.clear()
        self._finished = True
        if self._content_size is not None and self._content_size != self._size:
            raise ValueError(f"content_size was given as {self._content_size}, but {self._size} bytes were written")
        return bytes(out + write_end(EndBlock(self._size, self._crc)))

    def _header(self) -> bytes:
        if self._header_written:
            return b""
        self._header_written = True
        # The start token belongs to the model, so even binary input opens it (a ~0.1 s mmap, no evaluation).
        self.params = dataclasses.replace(self.params, start_token=self.engine.model.start_token)
        return write_header(FrameHeader(self.engine.model_info(), self.params, self._content_size))

    def _encode_span(self, span: bytes) -> bytes:
        self._crc = crc32(span, self._crc)
        self._size += len(span)
        chunks = plan_chunks(span, lambda: self.engine.model, self.options)
        return b"".join(self._encode_group(group) for group in group_chunks(chunks, self.options.lanes))

    def _encode_group(self, group: list[Chunk]) -> bytes:
        neural = [c for c in group if c.neural]
        p = self.params
        if neural:
            if p.ensemble is not None and self._ensemble is None:
                self._ensemble = Ensemble(p.ensemble, self.engine.model.vocab_size, p.precision_bits)
            report = LaneReport(self._progress, self.engine.model, [c.method for c in neural]) if self._progress else None
            evaluator = self.engine.evaluator(len(neural), p.window)
            payloads = encode_group(evaluator, [c.tokens for c in neural], p, ensemble=self._ensemble, progress=report)
            for chunk, payload in zip(neural, payloads):
                # The bound holds for any frequencies >= 1 (container.neural_payload_bound): a payload
                # over it would be a broken coder, never a chunk to send elsewhere.
                assert len(payload) <= neural_payload_bound(len(chunk.tokens), p.precision_bits), (len(payload), len(chunk.tokens))
                chunk.payload = payload
        entries = []
        for chunk in group:
            if not chunk.neural:
                chunk.method, chunk.payload = fallback.pack(chunk.data)
                if self._progress:
                    self._progress(len(chunk.data), 0, 8.0 * len(chunk.payload))
            tokens = len(chunk.tokens) if chunk.neural else 0
            entries.append(ChunkEntry(chunk.method, len(chunk.data), tokens, len(chunk.payload), crc32(chunk.data)))
        return write_group(Group(entries, [c.payload for c in group]))
