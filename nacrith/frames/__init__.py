"""Frames: the input coded into one frame of the container, and back (FORMAT.md, "Overview")."""

from .decoder import FrameDecoder
from .encoder import FrameEncoder
from ..segments.progress import Progress

__all__ = ["FrameEncoder", "FrameDecoder", "Progress"]
