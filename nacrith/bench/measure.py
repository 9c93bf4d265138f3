"""One measured round trip of nacrith: sizes, bits per byte, speed, peak memory.

Timings are wall-clock seconds of one run; compare them as ratios within one run, never
across machines or runs. The model alone's limits to set beside them are :mod:`.model_limits`'s.
"""

from __future__ import annotations

import resource
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

from .. import api, inspect
from ..container import CodingParams
from ..frames import Progress

__all__ = ["Measurement", "measure", "round_trip"]


@dataclass
class Measurement:
    original_bytes: int
    compressed_bytes: int
    lanes: int
    """The most lanes any group used."""
    params: CodingParams
    """What the archive stores: the lanes asked for, window, slide keep..."""
    tokens: int
    """Coded by the model (the rest went to zstd or was stored)."""
    compress_seconds: float
    decompress_seconds: float
    verified: bool
    round_trip_rss_mib: float
    """Peak RSS of the process when the round trip ended."""

    @property
    def window(self) -> int:
        return self.params.window

    @property
    def bpb(self) -> float:
        return 8 * self.compressed_bytes / max(1, self.original_bytes)

    @property
    def compress_tok_s(self) -> float:
        return self.tokens / self.compress_seconds if self.compress_seconds else 0.0

    @property
    def decompress_tok_s(self) -> float:
        return self.tokens / self.decompress_seconds if self.decompress_seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The fields, the coding parameters a reader compares by (window, keep) in place of all of them, and the rates."""
        d = {k: v for k, v in asdict(self).items() if k != "params"}
        return {**d, "window": self.window, "keep": self.params.slide_keep, "bpb": self.bpb,
                "compress_tok_s": self.compress_tok_s, "decompress_tok_s": self.decompress_tok_s}


class _TokenCount:
    """A progress callback that counts the tokens reported and passes every call on."""

    def __init__(self, progress: Progress | None) -> None:
        self.tokens = 0
        self._progress = progress

    def __call__(self, nbytes: int, tokens: int, bits: float) -> None:
        self.tokens += tokens
        if self._progress:
            self._progress(nbytes, tokens, bits)


def round_trip(
    data: bytes,
    compress: Callable[[bytes], bytes],
    *,
    model: str | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
) -> Measurement:
    """``compress(data)`` and nacrith's decompression of it, each timed once, the result compared byte for byte."""
    began = time.perf_counter()
    archive = compress(data)
    compress_seconds = time.perf_counter() - began
    tokens = _TokenCount(progress)  # counted as they are decoded: version 2 archives do not store token counts
    began = time.perf_counter()
    restored = api.decompress(archive, model=model, threads=threads, progress=tokens)
    decompress_seconds = time.perf_counter() - began
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    info = inspect(archive)
    return Measurement(
        original_bytes=len(data),
        compressed_bytes=len(archive),
        lanes=info.most_lanes,
        params=info.frames[0].params,
        tokens=tokens.tokens,
        compress_seconds=compress_seconds,
        decompress_seconds=decompress_seconds,
        verified=restored == data,
        round_trip_rss_mib=rss,
    )


def measure(data: bytes, *, progress: Progress | None = None, **coding: Any) -> Measurement:
    """:func:`round_trip` through :func:`nacrith.compress`; ``coding``: its keywords (``lanes``, ``window``,
    ``model``, ``threads``...), its defaults for those not given; ``progress`` sees both passes."""
    return round_trip(
        data, lambda d: api.compress(d, progress=progress, **coding), model=coding.get("model"), threads=coding.get("threads"), progress=progress
    )
