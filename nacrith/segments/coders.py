"""Who codes a frame's segments: this process, in order, or a pool of workers (:mod:`nacrith.workers`).

Every coder returns the segments in the order they were submitted, and each segment's bytes
depend on its input and the settings alone, so the archive is the same whoever coded it.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from ..container import CodingParams
from ..engine import Engine
from .progress import Progress
from ..options import Options
from .encoder import CodedSegment, encode_segment

__all__ = ["SegmentCoder", "InlineCoder"]


class SegmentCoder(Protocol):
    def submit(self, segment: bytes) -> None:
        """Queue a segment; may wait until there is room (a coder holds a bounded number in flight)."""

    def ready(self, *, wait: bool) -> list[CodedSegment]:
        """The coded segments not yet handed out, in submission order: those done so far, or (``wait``) all."""


class InlineCoder:
    """Codes each segment as it is submitted, in this process."""

    def __init__(self, engine: Engine, options: Options, params: CodingParams, progress: Progress | None = None) -> None:
        self._engine, self._options, self._params, self._progress = engine, options, params, progress
        self._done: deque[CodedSegment] = deque()

    def submit(self, segment: bytes) -> None:
        self._done.append(encode_segment(segment, self._engine, self._options, self._params, self._progress))

    def ready(self, *, wait: bool) -> list[CodedSegment]:
        out = list(self._done)
        self._done.clear()
        return out
