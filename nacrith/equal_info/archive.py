"""Archives of equal-info windows (layout 3): window blocks then an end block, written and read.

The encoder streams: input is cut into groups (as many pieces as lanes, each a piece long), each
group's windows become one window block as soon as they are coded. The decoder decodes each
block's windows side by side and checks the block's CRC-32 before it hands out a byte; the end
block checks the whole content (FORMAT.md, "Layout 3: equal-info windows").
"""

from __future__ import annotations

from typing import Callable

from ..chunking import safe_cut
from ..container import (
    METHOD_NEURAL,
    ChunkEntry,
    CodingParams,
    EndBlock,
    FrameHeader,
    crc32,
    write_end,
    write_header,
)
from ..container.structures import LAYOUT_WINDOWS, WindowBlock
from ..container.writer import write_windows
from ..engine import Engine
from ..errors import CorruptArchiveError
from ..segments.diagnose import CheckedEngine, chunk_failed
from ..segments.progress import Progress
from .codec import PIECE_WINDOWS, decode_code, encode_text
from .lanes import WindowFailed
from .primers import FILL

__all__ = ["WindowFrameEncoder", "WindowFrameDecoder", "group_bytes"]


GROUP_PIECE_BYTES = 64 * 1024
"""A long input's pieces, one per lane in each window block: long, so the lanes of a block end close together."""


def group_bytes(params: CodingParams) -> int:
    """Input bytes the encoder codes as one window block: a piece per lane, each of ``GROUP_PIECE_BYTES`` or four
    times the shortest piece, whichever is longer."""
    assert params.equal_info is not None
    return params.lanes * max(GROUP_PIECE_BYTES, 4 * PIECE_WINDOWS * params.equal_info.bits // 2)


class WindowFrameEncoder:
    """Streams one layout 3 frame: feed bytes with :meth:`write`, end with :meth:`finish`; each returns archive bytes."""

    def __init__(self, engine: Engine, params: CodingParams, content_size: int | None = None, progress: Progress | None = None, *, fill: bool = FILL) -> None:
        if params.equal_info is None:
            raise ValueError("equal-info parameters needed")
        self.engine = engine
        self.params = params
        self._content_size = content_size
        self._progress = progress
        self._fill = fill
        self._pending = bytearray()
        self._size = 0
        self._crc = 0
        self._header_written = False
        self._finished = False
        self.windows = 0

    def write(self, data: bytes) -> bytes:
        if self._finished:
            raise ValueError("cannot write() after finish()")
        self._pending += data
        out = bytearray()
        limit = group_bytes(self.params)
        while len(self._pending) > limit:
            cut = safe_cut(self._pending, limit, 0)
            out += self._block(bytes(self._pending[:cut]))
            del self._pending[:cut]
        return bytes(out)

    def finish(self) -> bytes:
        if self._finished:
            raise ValueError("cannot finish() twice")
        self._finished = True
        out = self._block(bytes(self._pending)) if self._pending else self._header()
        self._pending.clear()
        if self._content_size is not None and self._content_size != self._size:
            raise ValueError(f"content_size was given as {self._content_size}, but {self._size} bytes were written")
        return out + write_end(EndBlock(self._size, self._crc))

    def _header(self) -> bytes:
        if self._header_written:
            return b""
        self._header_written = True
        return write_header(FrameHeader(self.engine.model_info(), self.params, self._content_size, 2, LAYOUT_WINDOWS))

    def _block(self, text: bytes) -> bytes:
        head = self._header()
        bits = self.params.equal_info.bits  # type: ignore[union-attr]
        progress = (lambda done, tokens, cost: self._progress(done, tokens, cost)) if self._progress else None
        windows = encode_text(self.engine, text, self.params, fill=self._fill, progress=progress)
        self._size += len(text)
        self._crc = crc32(text, self._crc)
        self.windows += len(windows)
        block = WindowBlock([w.length for w in windows], crc32(text), b"".join(w.code for w in windows))
        return head + write_windows(block, bits)


class WindowFrameDecoder:
    """Decodes the blocks of one layout 3 frame in order; ``engine_factory`` is called on the first window block."""

    def __init__(self, header: FrameHeader, engine_factory: Callable[[], Engine], progress: Progress | None = None) -> None:
        self.header = header
        self._engine = CheckedEngine(engine_factory, header.model, header.params)
        self._progress = progress
        self._blocks = 0
        self._windows = 0
        self._size = 0
        self._crc = 0
        self.finished = False

    def decode(self, block: WindowBlock | EndBlock) -> bytes:
        """The text a window block holds, checked (b"" for the end block, which checks the whole content)."""
        if self.finished:
            raise CorruptArchiveError("data after the end of the frame")
        if isinstance(block, EndBlock):
            if block.content_size != self._size or block.crc != self._crc:
                raise CorruptArchiveError(f"the content fails its checksum ({self._size} bytes): the archive is damaged")
            self.finished = True
            return b""
        params = self.header.params
        bits = params.equal_info.bits  # type: ignore[union-attr]
        size = bits // 8
        windows = [(block.code[i * size : (i + 1) * size], length) for i, length in enumerate(block.lengths)]
        first, last = self._windows, self._windows + len(windows) - 1
        where = f"window block {self._blocks} (windows {first} to {last})"
        entry = ChunkEntry(METHOD_NEURAL, block.length, 0, len(block.code), block.crc)
        engine = self._engine()
        try:
            texts = decode_code(engine, params, windows, progress=self._progress)
        except WindowFailed as exc:
            chunk_failed(self.header.model, engine, where, entry, f"has a window that does not decode: window {first + exc.window}: {exc.reason}")
        data = b"".join(texts)
        if crc32(data) != block.crc:
            chunk_failed(self.header.model, engine, where, entry)
        self._blocks += 1
        self._windows += len(windows)
        self._size += len(data)
        self._crc = crc32(data, self._crc)
        return data
