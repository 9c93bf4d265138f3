"""One segment decoded: its blocks in order to its original bytes, every chunk checked before it is returned.

The segment's other bytes come first (one fallback stream and the runs that say where its
pieces go); each group's text then fills the text runs in order, and the bytes are handed
out as soon as they are placed, so output follows input group by group.
"""

from __future__ import annotations

import io
from typing import Callable

from .. import fallback
from ..container import METHOD_NEURAL_CRLF, CodingParams, EndBlock, FrameHeader, FrameReader, Group, ModelInfo, OtherBytes, crc32
from ..engine import Engine
from ..errors import CorruptArchiveError
from .diagnose import CheckedEngine, chunk_failed
from .progress import LaneReport, Progress
from ..neural.ensemble import Ensemble
from ..neural.lanes import LaneFailed, LaneLengths, decode_group
from ..transforms import lf_to_crlf

__all__ = ["SegmentDecoder", "decode_segment", "decode_text_group"]


def decode_text_group(
    group: Group, engine: Engine, params: CodingParams, ensemble: Ensemble | None, progress: Progress | None
) -> list[bytes]:
    """The bytes of a version 2 group's chunks (decoded until each reaches its length), not yet checked."""
    model = engine.model
    methods = [e.method for e in group.entries]
    crlf = [m == METHOD_NEURAL_CRLF for m in methods]
    lengths = [e.length for e in group.entries]
    tokens = decode_group(
        engine.evaluator(len(group.entries), params.window, params.adapt),
        group.payloads,
        LaneLengths(lengths, crlf, model.piece_lengths, model.piece_newlines),
        params,
        regions=lengths,
        ensemble=ensemble,
        progress=LaneReport(progress, model, methods) if progress else None,
    )
    return [lf_to_crlf(model.detokenize(t)) if c else model.detokenize(t) for t, c in zip(tokens, crlf)]


class SegmentDecoder:
    """Decodes the blocks of one version 2 segment, in order, from a fresh ensemble.

    ``engine`` is called on the first group only: a segment of other bytes needs no model.
    """

    def __init__(
        self, model: ModelInfo, params: CodingParams, engine: Callable[[], Engine], number: int = 0, progress: Progress | None = None
    ) -> None:
        """``model``: the archive's, to say whether a chunk that fails is damage or another build's logits."""
        self.model = model
        self.params = params
        self.number = number
        self._engine = engine
        self._progress = progress
        self._ensemble: Ensemble | None = None
        self._runs: list[int] = []
        """Runs not placed yet: text, other, text, ... (empty with no other bytes: all text)."""
        self._other = b""
        self._other_at = 0
        self._in_text = True
        """Whether the first run left is a text run."""
        self._text = bytearray()
        """Decoded text not placed yet."""
        self._crc = 0
        self._size = 0
        self._groups = 0
        self.finished = False

    def decode(self, block: OtherBytes | Group | EndBlock) -> bytes:
        """The bytes this block places in order (b"" for the end block, which is checked)."""
        if self.finished:
            raise CorruptArchiveError(f"segment {self.number}: a block after its end")
        if isinstance(block, OtherBytes):
            self._other = fallback.unpack(block.method, block.payload, block.length)
            if crc32(self._other) != block.crc:
                raise CorruptArchiveError(f"segment {self.number}: its other bytes fail their checksum: the archive is damaged")
            self._runs = list(block.runs)
            if self._progress:
                self._progress(block.length, 0, 0.0)
        elif isinstance(block, Group):
            self._text += self._decode_group(block)
        else:
            return self._end(block)
        return self._place()

    def _decode_group(self, group: Group) -> bytes:
        engine = self._engine()
        p = self.params
        if p.ensemble is not None and self._ensemble is None:
            self._ensemble = Ensemble(p.ensemble, engine.model.vocab_size, p.precision_bits)
        where = f"segment {self.number}, group {self._groups}, chunk"
        try:
            chunks = decode_text_group(group, engine, p, self._ensemble, self._progress)
        except LaneFailed as exc:
            chunk_failed(self.model, engine, f"{where} {exc.lane}", group.entries[exc.lane], exc.reason)
        for i, (entry, data) in enumerate(zip(group.entries, chunks)):
            if len(data) != entry.length or crc32(data) != entry.crc:
                chunk_failed(self.model, engine, f"{where} {i}", entry)
        self._groups += 1
        return b"".join(chunks)

    def _place(self) -> bytes:
        """The next bytes in order: text as far as it is decoded, and each run of other bytes it reaches."""
        out = bytearray()
        if not self._runs:  # no other bytes: all text
            out += self._text
            self._text.clear()
        while self._runs:
            if self._in_text:
                take = min(self._runs[0], len(self._text))
                out += self._text[:take]
                del self._text[:take]
            else:
                take = self._runs[0]
                out += self._other[self._other_at : self._other_at + take]
                self._other_at += take
            self._runs[0] -= take
            if self._runs[0]:
                break  # waiting for more text
            self._runs.pop(0)
            self._in_text = not self._in_text
        self._crc = crc32(out, self._crc)
        self._size += len(out)
        return bytes(out)

    def _end(self, end: EndBlock) -> bytes:
        out = self._place()
        if self._runs or self._text or self._other_at != len(self._other):
            raise CorruptArchiveError(f"segment {self.number}: its text and its layout disagree")
        if end.content_size != self._size or end.crc != self._crc:
            raise CorruptArchiveError(f"segment {self.number} fails its checksum: the archive is damaged")
        self.finished = True
        return out


def decode_segment(header: FrameHeader, blocks: bytes, engine: Callable[[], Engine], number: int = 0, offset: int = 0) -> bytes:
    """The original bytes of one segment, from its blocks alone (``offset``: where they are in the archive,
    for messages). This is what a worker does with a segment; the reader has already checked its structure."""
    reader = FrameReader(io.BytesIO(blocks), offset)
    reader.header = header
    decoder = SegmentDecoder(header.model, header.params, CheckedEngine(engine, header.model, header.params), number)
    out = bytearray()
    while not decoder.finished:
        out += decoder.decode(reader.read_block())  # type: ignore[arg-type]
    return bytes(out)
