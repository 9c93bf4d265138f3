"""One segment decoded: its blocks in order to its original bytes, every chunk checked before it is returned.

The segment's other bytes come first (one fallback stream and the runs that say where its
pieces go, some as their base64 text); each group's text then fills the text runs in order, and the bytes are handed
out as soon as they are placed, so output follows input group by group.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Callable

from .. import fallback
from ..container import METHOD_NEURAL_CRLF, Base64Run, CodingParams, EndBlock, FrameHeader, FrameReader, Group, ModelInfo, OtherBytes, crc32
from ..engine import Engine
from ..errors import CorruptArchiveError
from .diagnose import CheckedEngine, chunk_failed
from .progress import LaneReport, Progress
from .start import group_evaluator, lane_prefix, new_ensemble
from ..neural.ensemble import Ensemble
from ..neural.lanes import LaneFailed, LaneLengths, decode_group
from ..neural.schedule import Prefix
from ..transforms import base64_text, lf_to_crlf

if TYPE_CHECKING:
    from ..dictionary import Dictionary

__all__ = ["SegmentDecoder", "decode_segment", "decode_text_group"]


def decode_text_group(
    group: Group, engine: Engine, params: CodingParams, ensemble: Ensemble | None, progress: Progress | None, prefix: Prefix | None = None
) -> list[bytes]:
    """The bytes of a version 2 group's chunks (decoded until each reaches its length), not yet checked.
    The caller has checked the group's memory need (:meth:`.diagnose.CheckedEngine.group`).
    ``prefix``: what every lane starts from (default: the start token alone)."""
    model = engine.model
    methods = [e.method for e in group.entries]
    crlf = [m == METHOD_NEURAL_CRLF for m in methods]
    lengths = [e.length for e in group.entries]
    prefix = prefix or Prefix.bare(params.start_token)
    tokens = decode_group(
        group_evaluator(engine, len(group.entries), params, prefix, max(lengths)),
        group.payloads,
        LaneLengths(lengths, crlf, model.piece_lengths, model.piece_newlines),
        params,
        regions=lengths,
        ensemble=ensemble,
        progress=LaneReport(progress, model, methods) if progress else None,
        prefix=prefix,
    )
    return [lf_to_crlf(model.detokenize(t)) if c else model.detokenize(t) for t, c in zip(tokens, crlf)]


class SegmentDecoder:
    """Decodes the blocks of one version 2 segment, in order, from a fresh ensemble (or its dictionary's state).

    ``engine`` is asked on the first group only: a segment of other bytes needs no model.
    """

    def __init__(
        self,
        model: ModelInfo,
        params: CodingParams,
        engine: CheckedEngine,
        number: int = 0,
        progress: Progress | None = None,
        dictionary: Dictionary | None = None,
    ) -> None:
        """``model``: the archive's, to say whether a chunk that fails is damage or another build's logits.
        ``dictionary``: the one the archive names (the caller has checked it is)."""
        self.model = model
        self.params = params
        self.dictionary = dictionary if params.dictionary else None
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
        self._run = 0
        """The index of the first run left among the block's runs."""
        self._base64: dict[int, Base64Run] = {}
        """The runs of other bytes that place their base64 text, by index."""
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
            self._base64 = {b.run: b for b in block.base64}
            if self._progress:
                self._progress(block.placed_length, 0, 0.0)
        elif isinstance(block, Group):
            self._text += self._decode_group(block)
        else:
            return self._end(block)
        return self._place()

    def _decode_group(self, group: Group) -> bytes:
        where = f"segment {self.number}, group {self._groups}"
        engine = self._engine.group(len(group.entries), max(e.length for e in group.entries), where)
        p = self.params
        if p.ensemble is not None and self._ensemble is None:
            self._ensemble = new_ensemble(p, engine.model.vocab_size, self.dictionary)
        where += ", chunk"
        try:
            chunks = decode_text_group(group, engine, p, self._ensemble, self._progress, lane_prefix(p, self.dictionary))
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
                other = self._other[self._other_at : self._other_at + take]
                b = self._base64.get(self._run)
                out += base64_text(other, b.line_length, b.flags) if b else other
                self._other_at += take
            self._runs[0] -= take
            if self._runs[0]:
                break  # waiting for more text
            self._runs.pop(0)
            self._run += 1
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


def decode_segment(
    header: FrameHeader,
    blocks: bytes,
    engine: Callable[[], Engine],
    number: int = 0,
    offset: int = 0,
    memory_limit: int | None = None,
    dictionary: Dictionary | None = None,
) -> bytes:
    """The original bytes of one segment, from its blocks alone (``offset``: where they are in the archive,
    for messages), within ``memory_limit`` bytes (``dictionary``: the one the archive names, if any). This
    is what a worker does with a segment; the reader has already checked its structure."""
    reader = FrameReader(io.BytesIO(blocks), offset)
    reader.header = header
    checked = CheckedEngine(engine, header.model, header.params, memory_limit, dictionary)
    decoder = SegmentDecoder(header.model, header.params, checked, number, dictionary=dictionary)
    out = bytearray()
    while not decoder.finished:
        out += decoder.decode(reader.read_block())  # type: ignore[arg-type]
    return bytes(out)
