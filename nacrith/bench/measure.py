"""One measured round trip: sizes, bits per byte, speed, and the model's limits beside them.

Timings are wall-clock seconds of one run; compare them as ratios within one run (the
ceiling is measured in the same process, right after), never across machines or runs.
"""

from __future__ import annotations

import resource
import time
from dataclasses import asdict, dataclass

from .. import api, inspect
from ..engine import shared_engine
from ..frames import Progress
from ..neural.schedule import default_slide_keep
from ..transforms import crlf_to_lf
from .model_limits import ideal_bits, lockstep_ceiling

__all__ = ["Measurement", "TokenRates", "TokenCount", "measure", "most_lanes"]


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
    window: int
    tokens: int
    compress_seconds: float
    decompress_seconds: float
    verified: bool
    ideal_bpb: float | None = None
    ceiling_tok_s: float | None = None
    peak_rss_mib: float = 0.0
    round_trip_rss_mib: float = 0.0
    """Peak RSS of the process when the round trip ended, before the ideal and ceiling passes."""


def most_lanes(archive: bytes) -> int:
    """The most neural chunks any group of ``archive`` codes side by side."""
    return inspect(archive).most_lanes


class TokenCount:
    """A progress callback that counts the tokens coded (version 2 archives do not store them), and
    passes every call on."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.tokens = 0
        self._progress = progress

    def __call__(self, nbytes: int, tokens: int, bits: float) -> None:
        self.tokens += tokens
        if self._progress:
            self._progress(nbytes, tokens, bits)


def measure(
    name: str,
    data: bytes,
    *,
    lanes: int,
    window: int,
    chunk_bytes: int | None = None,
    threads: int | None = None,
    model: str | None = None,
    with_ideal: bool = True,
    with_ceiling: bool = True,
    progress: Progress | None = None,
) -> Measurement:
    """Compress and decompress ``data`` once each, timed; ``progress`` sees both passes."""
    counter = TokenCount(progress)
    options = dict(lanes=lanes, window=window, threads=threads, model=model, progress=counter)
    if chunk_bytes:
        options["chunk_bytes"] = chunk_bytes
    began = time.perf_counter()
    archive = api.compress(data, **options)
    compress_seconds = time.perf_counter() - began
    began = time.perf_counter()
    restored = api.decompress(archive, model=model, threads=threads, progress=progress)
    decompress_seconds = time.perf_counter() - began
    round_trip_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tokens, used_lanes = counter.tokens, most_lanes(archive)
    m = Measurement(
        file=name,
        original_bytes=len(data),
        compressed_bytes=len(archive),
        bpb=8 * len(archive) / max(1, len(data)),
        lanes=used_lanes,
        window=window,
        tokens=tokens,
        compress_seconds=compress_seconds,
        decompress_seconds=decompress_seconds,
        verified=restored == data,
        round_trip_rss_mib=round_trip_rss,
    )
    engine = shared_engine(model, threads)
    keep = default_slide_keep(window)
    if with_ceiling and used_lanes:
        m.ceiling_tok_s = lockstep_ceiling(engine.model, used_lanes, window, keep, threads=threads)
    if with_ideal and tokens:
        # the token stream the pipeline codes: CRLF text as LF (nacrith.transforms), per original byte
        text = crlf_to_lf(data) or data
        m.ideal_bpb = ideal_bits(engine.model, engine.model.tokenize(text), window, keep, threads) / len(data)
    m.peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return m
