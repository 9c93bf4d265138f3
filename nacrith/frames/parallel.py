"""A frame of several segments decoded by workers: segments out in order, their bytes back in order.

The reader has checked each block's structure as it went by; each segment's blocks, as they
stand in the archive, go to a worker that decodes them alone
(:func:`~nacrith.segments.decoder.decode_segment`), and the frame's own checks (the index
against the header) stay here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..container import EndBlock, FrameHeader, Index
from ..errors import CorruptArchiveError
from ..segments.progress import Progress
from ..workers.local import SegmentPool

if TYPE_CHECKING:
    from ..dictionary import Dictionary

__all__ = ["ParallelFrameDecoder"]


class ParallelFrameDecoder:
    """Decodes an indexed frame's segments on ``pool``; :meth:`decode` returns the bytes ready so far, in order."""

    def __init__(
        self,
        header: FrameHeader,
        pool: SegmentPool,
        progress: Progress | None = None,
        memory_limit: int | None = None,
        dictionary: Dictionary | None = None,
    ) -> None:
        """``memory_limit``: what each worker's decoding may need (None: the default limit)."""
        self.header = header
        self._decoder = pool.decoder(header, memory_limit, dictionary)
        self._progress = progress
        self._blocks = bytearray()
        self._start = 0
        self._segments = 0
        self._size = 0
        self.finished = False

    def decode(self, block: object, raw: bytes, offset: int) -> bytes:
        """Take a block read from the archive (``raw``: its bytes, at ``offset``)."""
        if isinstance(block, Index):
            out = self._ready(wait=True)
            declared = self.header.content_size
            if declared is not None and declared != self._size:
                raise CorruptArchiveError(f"the archive decodes to {self._size} bytes, but its header declares {declared}")
            self.finished = True
            return out
        if not self._blocks:
            self._start = offset
        self._blocks += raw
        if isinstance(block, EndBlock):
            self._decoder.submit(bytes(self._blocks), self._segments, self._start)
            self._blocks.clear()
            self._segments += 1
        return self._ready(wait=False)

    def _ready(self, *, wait: bool) -> bytes:
        parts = self._decoder.ready(wait=wait)
        for part in parts:
            self._size += len(part)
            if self._progress:
                self._progress(len(part), 0, 0.0)
        return b"".join(parts)
