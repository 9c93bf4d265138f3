"""What the encoder does with a segment before coding it: its text chunks, its other bytes, their layout.

The segment's text runs (:func:`nacrith.chunking.split_text_runs`) are joined into one text,
which is cut into chunks at line ends, preferring the seams where two runs meet: the model's
context runs on across the bytes between runs (a tar header, a binary record) unless a chunk
ends there. A chunk whose tokens give back exactly its bytes is for the model (as LF text
when its line ends are all CRLF); when they do not, the few bytes to blame leave it, else the
whole chunk does. Everything not coded by the model is the segment's other bytes, one stream
for the fallback, and the runs say how the two interleave. Neural chunks are then grouped, at
most ``lanes`` to a group. Only the encoder plans: the decoder reads every decision from the archive.
"""

from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from .. import chunking
from ..container import METHOD_NEURAL, METHOD_NEURAL_CRLF, NEURAL_METHODS, Base64Run
from ..options import Options
from ..transforms import Base64Block, crlf_to_lf, find_base64

if TYPE_CHECKING:
    from ..models.llm import LanguageModel

__all__ = ["FALLBACK", "Chunk", "SegmentPlan", "plan_chunks", "text_chunk", "plan_segment", "group_chunks", "input_bytes"]

FALLBACK = -1
"""A chunk's method when the model cannot code it."""

BLAME_FLOOR = 64
"""The search for the bytes that make a chunk's tokens fail halves the chunk down to pieces of this size."""

BLAME_SHARE = 8
"""A chunk keeps its other bytes neural only if the pieces to blame are at most 1/BLAME_SHARE of it."""

Span = tuple[int, int]


@dataclass
class Chunk:
    data: bytes
    method: int
    payload: bytes = b""
    tokens: list[int] = field(default_factory=list)

    @property
    def neural(self) -> bool:
        return self.method in NEURAL_METHODS


@dataclass
class SegmentPlan:
    """A segment's neural chunks in order, its other bytes as one stream, and how they interleave."""

    chunks: list[Chunk]
    other: bytes
    runs: list[int]
    """Alternating text and other run lengths, text first (``[text]`` alone when there are no other bytes)."""
    base64: list[Base64Run] = field(default_factory=list)
    """The runs of other bytes that stand for base64 text."""


def plan_segment(data: bytes, model: Callable[[], LanguageModel], options: Options) -> SegmentPlan:
    """The neural chunks of ``data``, its other bytes and its runs. ``model`` is called only if there is text."""
    runs, blocks = _text_runs(data)
    starts = _offsets(runs)
    text = b"".join(data[a:b] for a, b in runs)
    chunks: list[Chunk] = []
    kept: list[Span] = []
    if text:
        count = chunking.chunk_count(len(text), options.lanes, options.chunk_bytes, options.min_chunk_bytes)
        start = 0
        for end in chunking.cut_points(text, count, options.chunk_bytes, starts[1:-1]):
            found = _neural_chunk(model(), text, start, end, options.crlf)
            if found:
                chunks.append(found[0])
                kept += found[1]
            start = end
    return SegmentPlan(chunks, *_layout(data, _in_data(runs, starts, kept), blocks))


def _text_runs(data: bytes) -> tuple[list[Span], list[Base64Block]]:
    """The text runs of ``data`` without the base64 blocks in them, and those blocks. A block must have
    text or an end of the segment on both sides: runs of other bytes alternate with runs of text."""
    runs: list[Span] = []
    blocks: list[Base64Block] = []
    for piece in chunking.split_text_runs(data):
        if not piece.is_text:
            continue
        at = piece.start
        for found in find_base64(data[piece.start : piece.end]):
            a, b = piece.start + found.start, piece.start + found.end
            if (a == piece.start and a > 0) or (b == piece.end and b < len(data)):
                found = _trimmed(data, a, b, a == piece.start and a > 0, b == piece.end and b < len(data))
                if found is None:
                    continue
                a, b = found.start, found.end
            blocks.append(dataclasses.replace(found, start=a, end=b))
            if a > at:
                runs.append((at, a))
            at = b
        if at < piece.end:
            runs.append((at, piece.end))
    return runs, blocks


def _trimmed(data: bytes, start: int, end: int, first: bool, last: bool) -> Base64Block | None:
    """The base64 block ``data[start:end]`` without its first line (``first``) or its last (``last``),
    which stay text beside the other bytes there; None when what is left is no block."""
    if first:
        start = data.find(b"\n", start, end) + 1 or end
    if last:
        end = data.rfind(b"\n", start, end - 1) + 1 or start
    found = find_base64(data[start:end]) if start < end else []
    if len(found) != 1 or found[0].end - found[0].start != end - start:
        return None
    return dataclasses.replace(found[0], start=start, end=end)


def _layout(data: bytes, neural: list[Span], blocks: list[Base64Block]) -> tuple[bytes, list[int], list[Base64Run]]:
    """The other bytes, the runs and the base64 table, given the spans the model codes and the base64
    blocks. A block beside bytes that are neither (a chunk the model could not code) stays as it is."""
    marks = sorted([(a, b, None) for a, b in neural] + [(k.start, k.end, k) for k in blocks], key=lambda m: m[0])
    pieces: list[tuple[int, int, str, Base64Block | None]] = []
    at = 0
    for a, b, block in marks:
        if a > at:
            pieces.append((at, a, "other", None))
        pieces.append((a, b, "base64" if block else "text", block))
        at = b
    if at < len(data):
        pieces.append((at, len(data), "other", None))
    other = bytearray()
    runs, table = [0], []
    for i, (a, b, kind, block) in enumerate(pieces):
        if kind == "base64" and any(0 <= j < len(pieces) and pieces[j][2] != "text" for j in (i - 1, i + 1)):
            kind = "other"
        if kind == "text":
            if len(runs) % 2 == 0:
                runs.append(0)
            runs[-1] += b - a
        elif kind == "base64":
            assert block is not None and len(runs) % 2 == 1
            runs.append(len(block.decoded))
            table.append(Base64Run(len(runs) - 1, block.line_length, block.flags))
            other += block.decoded
        else:
            if len(runs) % 2 == 1:
                runs.append(0)
            runs[-1] += b - a
            other += data[a:b]
    return bytes(other), runs, table


def plan_chunks(data: bytes, model: Callable[[], LanguageModel], options: Options) -> list[Chunk]:
    """The neural chunks of ``data`` in order, tokenized, as the encoder codes them."""
    return plan_segment(data, model, options).chunks


def _neural_chunk(model: LanguageModel, text: bytes, start: int, end: int, crlf: bool) -> tuple[Chunk, list[Span]] | None:
    """The chunk ``text[start:end]`` and the spans of ``text`` it holds, with the bytes to blame taken out
    when its tokens do not give it back; None when the model cannot code it."""
    chunk = text_chunk(model, text[start:end], crlf)
    if chunk.neural:
        return chunk, [(start, end)]
    blamed = _blame(model, text, start, end)
    if not blamed or sum(b - a for a, b in blamed) * BLAME_SHARE > end - start:
        return None
    spans, at = [], start
    for a, b in blamed:
        if a > at:
            spans.append((at, a))
        at = b
    if at < end:
        spans.append((at, end))
    chunk = text_chunk(model, b"".join(text[a:b] for a, b in spans), crlf)
    return (chunk, spans) if chunk.neural else None


def _blame(model: LanguageModel, text: bytes, start: int, end: int) -> list[Span]:
    """Pieces of ``text[start:end]``, of at most BLAME_FLOOR bytes, whose tokens do not give them back,
    found by halving (each half cut at a safe place): empty when each half alone gives itself back."""
    piece = text[start:end]
    if _gives_back(model, model.tokenize(piece), piece):
        return []
    if end - start <= BLAME_FLOOR:
        return [(start, end)]
    middle = start + chunking.safe_cut(piece, len(piece) // 2, 0, len(piece) // 2)
    if not start < middle < end:
        return [(start, end)]
    return _blame(model, text, start, middle) + _blame(model, text, middle, end)


def text_chunk(model: LanguageModel, text: bytes, crlf: bool) -> Chunk:
    """The chunk coded by the model if its tokens give back exactly its bytes, else for the fallback.

    With ``crlf``, text whose every line feed follows a carriage return is coded as LF text:
    removing the CR of each CRLF is undone exactly by putting one before each LF.
    """
    lf = crlf_to_lf(text) if crlf else None
    if lf is not None:
        tokens = model.tokenize(lf)
        if _gives_back(model, tokens, lf):
            return Chunk(text, METHOD_NEURAL_CRLF, tokens=tokens)
    tokens = model.tokenize(text)
    if _gives_back(model, tokens, text):
        return Chunk(text, METHOD_NEURAL, tokens=tokens)
    return Chunk(text, FALLBACK)


def _gives_back(model: LanguageModel, tokens: list[int], text: bytes) -> bool:
    """Whether ``tokens`` are exactly ``text``, each of at least one byte (a decoder stops a chunk by its length)."""
    return bool(tokens) and model.detokenize(tokens) == text and bool(model.piece_lengths[tokens].min() > 0)


def _offsets(runs: list[Span]) -> list[int]:
    """Where each run starts in the joined text, and its length at the end."""
    offsets = [0]
    for a, b in runs:
        offsets.append(offsets[-1] + b - a)
    return offsets


def _in_data(runs: list[Span], starts: list[int], spans: list[Span]) -> list[Span]:
    """Spans of the joined text (sorted, apart), as spans of the data the runs were taken from, neighbours joined."""
    out: list[Span] = []
    for s, e in spans:
        i = bisect.bisect_right(starts, s) - 1
        while s < e:
            a = runs[i][0] + s - starts[i]
            b = a + min(e, starts[i + 1]) - s
            if out and out[-1][1] == a:
                out[-1] = (out[-1][0], b)
            else:
                out.append((a, b))
            s += b - a
            i += 1
    return out


def group_chunks(chunks: list[Chunk], lanes: int) -> list[list[Chunk]]:
    """Consecutive chunks in groups of at most ``lanes`` neural ones (fallback chunks ride along)."""
    groups: list[list[Chunk]] = []
    group: list[Chunk] = []
    neural = 0
    for chunk in chunks:
        if chunk.neural and neural == lanes:
            groups.append(group)
            group, neural = [], 0
        group.append(chunk)
        neural += chunk.neural
    if group:
        groups.append(group)
    return groups


def input_bytes(model: LanguageModel, tokens: list[int], crlf_tokens: list[int]) -> int:
    """Input bytes that ``tokens`` stand for: their pieces, and a CR per LF of those in neural-crlf chunks."""
    return int(model.piece_lengths[tokens].sum() + model.piece_newlines[crlf_tokens].sum())
