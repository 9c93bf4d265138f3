"""One segment coded on its own: its bytes in, its blocks out, as a pure function of the bytes and the settings.

A segment starts from a fresh model state and a fresh ensemble (or a dictionary's, the same
for every segment: :mod:`.start`), so it decodes alone: this is what lets segments be coded by
several workers (or machines) and read at random, with archives identical whatever the number
of workers. Its other bytes become one fallback
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
from ..neural.lanes import encode_group
from ..options import Options
from .plan import group_chunks, plan_segment
from .start import group_evaluator, lane_prefix, new_ensemble

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
        if self.other is not None and not self.groups and self.other.method != METHOD_XZ and not self.other.base64:
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
        other = OtherBytes(plan.runs, method, len(payload), crc32(plan.other), payload, plan.base64)
        tally(other.placed_length, 0, 8.0 * len(payload))
    segment = CodedSegment(len(data), crc32(data), other)
    ensemble = new_ensemble(params, engine.model.vocab_size, options.dictionary) if plan.chunks else None
    prefix = lane_prefix(params, options.dictionary)
    for group in group_chunks(plan.chunks, params.lanes):
        report = LaneReport(tally, engine.model, [c.method for c in group])
        payloads = encode_group(
            group_evaluator(engine, len(group), params, prefix, max(len(c.data) for c in group)),  # the decoder's size
            [c.tokens for c in group],
            params,
            regions=[len(c.data) for c in group],
            ensemble=ensemble,
            progress=report,
            prefix=prefix,
        )
        entries = []
        for chunk, payload in zip(group, payloads):
            # The bound holds for any frequencies >= 1: a payload over it would be a broken coder.
            assert len(payload) <= neural_payload_bound(len(chunk.data), params.precision_bits), (len(payload), len(chunk.data))
            entries.append(ChunkEntry(chunk.method, len(chunk.data), 0, len(payload), crc32(chunk.data)))
        segment.groups.append(Group(entries, payloads))
    segment.tokens, segment.bits = tally.tokens, tally.bits
    return _no_worse_than_fallback(segment, data) if options.fallback_bound else segment


def _no_worse_than_fallback(segment: CodedSegment, data: bytes) -> CodedSegment:
    """The segment, or the same bytes wholly in the fallback when that is smaller.

    Binary data with many short printable stretches can cost more as text runs (each run's length
    is written) than as one zstd or LZMA2 stream; this bounds any segment by what the fallback
    makes of it, so no input is much bigger than ``xz -9e`` would make it. The fallback costs
    seconds per MiB, next to the model's minutes: it is tried for every segment the model codes.
    """
    if not segment.groups:
        return segment
    method, payload = fallback.pack(data)
    other = OtherBytes([0, len(data)], method, len(payload), crc32(data), payload, [])
    alternative = CodedSegment(len(data), segment.crc, other, tokens=segment.tokens, bits=8.0 * len(payload))
    return alternative if len(alternative.to_bytes()) < len(segment.to_bytes()) else segment


class _Tally:
    """Counts what a segment's coding reports, and passes it on."""

    def __init__(self, progress: Progress | None) -> None:
        self.tokens, self.bits, self._progress = 0, 0.0, progress

    def __call__(self, nbytes: int, tokens: int, bits: float) -> None:
        self.tokens += tokens
        self.bits += bits
        if self._progress:
            self._progress(nbytes, tokens, bits)

