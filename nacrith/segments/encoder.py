"""One segment coded on its own: its bytes in, its blocks out, as a pure function of the bytes and the settings.

A segment starts from a fresh model state and a fresh ensemble, so it decodes alone: this
is what lets segments be coded by several workers (or machines) and read at random, with
archives identical whatever the number of workers. Its other bytes become one fallback
stream (the smallest of zstd, LZMA2 and stored), its text chunks groups of lanes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import fallback
from ..container import (
    METHOD_XZ,
    ChunkEntry,
    CodingParams,
    EndBlock,
    Group,
    OtherBytes,
    crc32,
    neural_payload_bound,
    write_end,
    write_group,
    write_other,
)
from ..engine import Engine
from .progress import LaneReport, Progress
from ..neural.ensemble import Ensemble
from ..neural.lanes import encode_group
from ..options import Options
from .plan import group_chunks, plan_segment

__all__ = ["CodedSegment", "encode_segment"]


@dataclass
class CodedSegment:
    """A segment's blocks, ready to write (and to send back from a worker: plain data)."""

    plain_size: int
    crc: int
    other: OtherBytes | None
    groups: list[Group] = field(default_factory=list)
    tokens: int = 0
    """Tokens the model coded (for progress reports and speed; not written)."""
    bits: float = 0.0
    """Their ideal cost, and the other bytes' payload bits."""

    def to_bytes(self) -> bytes:
        """The segment's blocks as the archive holds them: other bytes, groups, end block."""
        parts = [write_other(self.other)] if self.other else []
        parts += [write_group(g) for g in self.groups]
        parts.append(write_end(EndBlock(self.plain_size, self.crc)))
        return b"".join(parts)

    def as_one_chunk(self) -> tuple[ChunkEntry, bytes] | None:
        """The segment as the one chunk of a frame (layout 0), when it is one neural chunk or one stored or
        zstd stream; else None."""
        if self.other is None and len(self.groups) == 1 and len(self.groups[0].entries) == 1:
            return self.groups[0].entries[0], self.groups[0].payloads[0]
        if self.other is not None and not self.groups and self.other.method != METHOD_XZ:
            o = self.other
            return ChunkEntry(o.method, o.length, 0, o.payload_length, o.crc), o.payload
        return None


def encode_segment(data: bytes, engine: Engine, options: Options, params: CodingParams, progress: Progress | None = None) -> CodedSegment:
    """Code ``data`` (at most ``params.segment_bytes``) as one segment, with ``params`` (the header's)."""
    tally = _Tally(progress)
    plan = plan_segment(data, lambda: engine.model, options)
    other = None
    if plan.other:
        method, payload = fallback.pack(plan.other)
        other = OtherBytes(plan.runs, method, len(payload), crc32(plan.other), payload)
        tally(len(plan.other), 0, 8.0 * len(payload))
    segment = CodedSegment(len(data), crc32(data), other)
    ensemble = Ensemble(params.ensemble, engine.model.vocab_size, params.precision_bits) if params.ensemble and plan.chunks else None
    for group in group_chunks(plan.chunks, params.lanes):
        report = LaneReport(tally, engine.model, [c.method for c in group])
        payloads = encode_group(
            engine.evaluator(len(group), params.window, params.adapt),
            [c.tokens for c in group],
            params,
            regions=[len(c.data) for c in group],
            ensemble=ensemble,
            progress=report,
        )
        entries = []
        for chunk, payload in zip(group, payloads):
            # The bound holds for any frequencies >= 1: a payload over it would be a broken coder.
            assert len(payload) <= neural_payload_bound(len(chunk.data), params.precision_bits), (len(payload), len(chunk.data))
            entries.append(ChunkEntry(chunk.method, len(chunk.data), 0, len(payload), crc32(chunk.data)))
        segment.groups.append(Group(entries, payloads))
    segment.tokens, segment.bits = tally.tokens, tally.bits
    return segment


class _Tally:
    """Counts what a segment's coding reports, and passes it on."""

    def __init__(self, progress: Progress | None) -> None:
        self.tokens, self.bits, self._progress = 0, 0.0, progress

    def __call__(self, nbytes: int, tokens: int, bits: float) -> None:
        self.tokens += tokens
        self.bits += bits
        if self._progress:
            self._progress(nbytes, tokens, bits)

