"""One frame in: its blocks, in order, to the original bytes, every chunk checked before it is returned.

A version 2 frame is one chunk, one segment, or segments followed by their seek index
(which the reader has checked against them); each segment decodes alone
(:class:`~nacrith.segments.decoder.SegmentDecoder`). Version 1 frames go to
:mod:`.legacy`. The model is opened only when the first neural chunk appears, so an archive
of binary data decodes without one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .. import fallback
from ..container import LAYOUT_SEGMENT, LAYOUT_WINDOWS, NEURAL_METHODS, Block, EndBlock, FrameHeader, Group, Index, OneChunk, crc32
from ..engine import Engine
from ..errors import CorruptArchiveError
from ..neural.lanes import LaneFailed
from ..segments.decoder import SegmentDecoder, decode_text_group
from ..segments.diagnose import CheckedEngine, chunk_failed
from ..segments.start import lane_prefix, new_ensemble
from ..equal_info.archive import WindowFrameDecoder
from .legacy import V1FrameDecoder
from ..segments.progress import Progress

if TYPE_CHECKING:
    from ..dictionary import Dictionary

__all__ = ["FrameDecoder"]


class FrameDecoder:
    """Decodes the blocks of one frame in order, from its header.

    ``engine_factory`` is called only when the first neural chunk appears; ``memory_limit``: bytes the
    decoding may need (None: :func:`nacrith.memory.default_limit`), checked before each group's allocation.
    ``dictionary``: the one the archive names in its header, if any (checked, with the model, before the
    first neural chunk).
    """

    def __init__(
        self,
        header: FrameHeader,
        engine_factory: Callable[[], Engine],
        progress: Progress | None = None,
        memory_limit: int | None = None,
        dictionary: Dictionary | None = None,
    ) -> None:
        self.header = header
        self.dictionary = dictionary if header.params.dictionary else None
        self._engine = CheckedEngine(engine_factory, header.model, header.params, memory_limit, self.dictionary)
        self._progress = progress
        self._legacy = V1FrameDecoder(header, engine_factory, progress, memory_limit) if header.version == 1 else None
        self._windows = WindowFrameDecoder(header, engine_factory, progress) if header.layout == LAYOUT_WINDOWS and header.version == 2 else None
        self._segment: SegmentDecoder | None = None
        self._segments = 0
        self._size = 0
        self._finished = False

    @property
    def finished(self) -> bool:
        if self._windows:
            return self._windows.finished
        return self._legacy.finished if self._legacy else self._finished

    def decode(self, block: Block) -> bytes:
        """The original bytes a block completes, in order (b"" for an end or an index)."""
        if self._legacy:
            return self._legacy.decode(block)  # type: ignore[arg-type]
        if self._windows:
            return self._windows.decode(block)  # type: ignore[arg-type]
        if self._finished:
            raise CorruptArchiveError("data after the end of the frame")
        if isinstance(block, OneChunk):
            out = self._one_chunk(block)
            self._finish(len(out))
            return out
        if isinstance(block, Index):
            self._finish(sum(e.plain_size for e in block.entries))
            return b""
        if self._segment is None:
            self._segment = SegmentDecoder(self.header.model, self.header.params, self._engine, self._segments, self._progress, self.dictionary)
        out = self._segment.decode(block)
        self._size += len(out)
        if isinstance(block, EndBlock):
            self._segment = None
            self._segments += 1
            if self.header.layout == LAYOUT_SEGMENT:
                self._finish(self._size)
        return out

    def _one_chunk(self, block: OneChunk) -> bytes:
        entry = block.entry
        if entry.method in NEURAL_METHODS:
            engine = self._engine.group(1, entry.length, "the chunk")
            p = self.header.params
            ensemble = new_ensemble(p, engine.model.vocab_size, self.dictionary)
            try:
                [data] = decode_text_group(Group([entry], [block.payload]), engine, p, ensemble, self._progress, lane_prefix(p, self.dictionary))
            except LaneFailed as exc:
                chunk_failed(self.header.model, engine, "the chunk", entry, exc.reason)
        else:
            data = fallback.unpack(entry.method, block.payload, entry.length)
            if self._progress:
                self._progress(len(data), 0, 0.0)
        if len(data) != entry.length or crc32(data) != entry.crc:
            chunk_failed(self.header.model, self._engine.engine, "the chunk", entry)
        return data

    def _finish(self, size: int) -> None:
        declared = self.header.content_size
        if declared is not None and declared != size:
            raise CorruptArchiveError(f"the archive decodes to {size} bytes, but its header declares {declared}")
        self._finished = True
