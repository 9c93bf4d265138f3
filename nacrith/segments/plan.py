"""What the encoder does with a segment before coding it: its text chunks, its other bytes, their layout.

Text runs are cut into chunks at line ends (:mod:`nacrith.chunking`); a chunk whose tokens
give back exactly its bytes is for the model (as LF text when its line ends are all CRLF),
anything else joins the segment's other bytes, one stream for the fallback. The runs say
how the two interleave. Neural chunks are then grouped, at most ``lanes`` to a group. Only
the encoder plans: the decoder reads every decision from the archive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from .. import chunking
from ..container import METHOD_NEURAL, METHOD_NEURAL_CRLF, NEURAL_METHODS
from ..options import Options
from ..transforms import crlf_to_lf

if TYPE_CHECKING:
    from ..models.llm import LanguageModel

__all__ = ["FALLBACK", "Chunk", "SegmentPlan", "plan_chunks", "text_chunk", "plan_segment", "group_chunks", "input_bytes"]

FALLBACK = -1
"""A chunk's method until the fallback decides between zstd and stored."""


@dataclass
class Chunk:
    data: bytes
    method: int
    payload: bytes = b""
    tokens: list[int] = field(default_factory=list)

    @property
    def neural(self) -> bool:
        return self.method in NEURAL_METHODS


def plan_chunks(data: bytes, model: Callable[[], LanguageModel], options: Options) -> list[Chunk]:
    """The chunks of ``data`` in order, neural ones tokenized. ``model`` is called only if there is text."""
    chunks: list[Chunk] = []
    for piece in chunking.split_text_runs(data):
        run = data[piece.start : piece.end]
        if not piece.is_text:
            chunks.append(Chunk(run, FALLBACK))
            continue
        count = chunking.chunk_count(len(run), options.lanes, options.chunk_bytes, options.min_chunk_bytes)
        start = 0
        for end in chunking.cut_points(run, count, options.chunk_bytes):
            chunks.append(text_chunk(model(), run[start:end], options.crlf))
            start = end
    return _join_fallback(chunks)


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


def _join_fallback(chunks: list[Chunk]) -> list[Chunk]:
    """Neighbouring chunks for the fallback become one: zstd does better on one longer input."""
    out: list[Chunk] = []
    for chunk in chunks:
        if out and not chunk.neural and not out[-1].neural:
            out[-1] = Chunk(out[-1].data + chunk.data, FALLBACK)
        else:
            out.append(chunk)
    return out


@dataclass
class SegmentPlan:
    """A segment's neural chunks in order, its other bytes as one stream, and how they interleave."""

    chunks: list[Chunk]
    other: bytes
    runs: list[int]
    """Alternating text and other run lengths, text first (``[text]`` alone when there are no other bytes)."""


def plan_segment(data: bytes, model: Callable[[], LanguageModel], options: Options) -> SegmentPlan:
    """The chunks of ``data``, with every chunk the model cannot code moved to the other bytes."""
    chunks, other, runs = [], [], [0]
    for chunk in plan_chunks(data, model, options):
        if chunk.neural:
            chunks.append(chunk)
            if len(runs) % 2 == 0:
                runs.append(0)
        else:
            other.append(chunk.data)
            if len(runs) % 2:
                runs.append(0)
        runs[-1] += len(chunk.data)
    return SegmentPlan(chunks, b"".join(other), runs)


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
