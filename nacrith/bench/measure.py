"""One measured round trip of nacrith: sizes, bits per byte, speed, peak memory.

Timings are wall-clock seconds of one run; compare them as ratios within one run, never
across machines or runs. The model alone's limits to set beside them are :mod:`.model_limits`'s.
"""

from __future__ import annotations

import resource
import time
from dataclasses import asdict, dataclass
from typing import Any

from .. import api, inspect
from ..container import CodingParams
from ..frames import Progress

__all__ = ["Measurement", "TokenRates", "measure", "neural_shape"]


class TokenRates:
    """Tokens per second both ways, for a dataclass with ``tokens`` and both passes' seconds."""

    tokens: int
    compress_seconds: float
    decompress_seconds: float

    @property
    def compress_tok_s(self) -> float:
        return self.tokens / self.compress_seconds if self.compress_seconds else 0.0

    @property
    def decompress_tok_s(self) -> float:
        return self.tokens / self.decompress_seconds if self.decompress_seconds else 0.0

    def as_dict(self) -> dict:
        """The fields and both rates."""
        return {**asdict(self), "compress_tok_s": self.compress_tok_s, "decompress_tok_s": self.decompress_tok_s}  # type: ignore[call-overload]


@dataclass
class Measurement(TokenRates):
    file: str
    original_bytes: int
    compressed_bytes: int
    bpb: float
    lanes: int
    """The most lanes any group used."""
    params: CodingParams
    """What the archive stores: the lanes asked for, window, slide keep..."""
    tokens: int
    compress_seconds: float
    decompress_seconds: float
    verified: bool
    round_trip_rss_mib: float = 0.0
    """Peak RSS of the process when the round trip ended."""


def neural_shape(archive: bytes) -> tuple[int, int]:
    """(tokens coded by the model, most lanes any group used)."""
    info = inspect(archive)
    return info.neural_tokens, info.most_lanes


def measure(name: str, data: bytes, *, progress: Progress | None = None, **coding: Any) -> Measurement:
    """Compress and decompress ``data`` once each, timed; ``coding``: :func:`nacrith.compress`'s keywords
    (``lanes``, ``window``, ``model``, ``threads``...), its defaults for those not given; ``progress``
    sees both passes."""
    began = time.perf_counter()
    archive = api.compress(data, progress=progress, **coding)
    compress_seconds = time.perf_counter() - began
    began = time.perf_counter()
    restored = api.decompress(archive, model=coding.get("model"), threads=coding.get("threads"), progress=progress)
    decompress_seconds = time.perf_counter() - began
    round_trip_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    info = inspect(archive)
    return Measurement(
        file=name,
        original_bytes=len(data),
        compressed_bytes=len(archive),
        bpb=8 * len(archive) / max(1, len(data)),
        lanes=info.most_lanes,
        params=info.frames[0].params,
        tokens=info.neural_tokens,
        compress_seconds=compress_seconds,
        decompress_seconds=decompress_seconds,
        verified=restored == data,
        round_trip_rss_mib=round_trip_rss,
    )
