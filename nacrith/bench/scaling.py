"""What ``--lanes`` and ``--window`` trade: bits per byte and speed for each setting, on one text.

Each setting codes the same bytes cut into exactly ``lanes`` chunks (one group), so the
table isolates the two levers: more lanes step more tokens per model call but restart the
model more often (a cold start costs bits); a longer window remembers more but makes every
step's attention dearer. Beside each setting's own speed, the raw lockstep ceiling of the
same shape with every context full (:func:`lockstep_ceiling`) shows the steady state of a
long input, where a short text's chunks never fill the window.

Every setting's archive is decoded and compared byte for byte; timings are of one run, to
be read as ratios within it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from ..constants import MAX_SEGMENT_BYTES, MIN_SEGMENT_BYTES
from ..engine import shared_engine
from ..frames import FrameEncoder
from ..options import Options
from .measure import Measurement, round_trip
from .model_limits import lockstep_ceiling
from .tables import grid, speed

__all__ = ["ScalingPoint", "scaling", "render_scaling", "LANES", "WINDOWS"]

LANES = (1, 4, 8, 16, 32)
"""Lane counts measured: from one sequence to 32, the default 8 among them."""
WINDOWS = (512, 1024, 2048)


@dataclass
class ScalingPoint(Measurement):
    ceiling_tok_s: float = 0.0
    """The lockstep ceiling of the same shape (lanes used, window) with every context full."""


def one_group(size: int, lanes: int, window: int) -> Options:
    """Settings that cut ``size`` bytes of text into exactly ``lanes`` chunks (fewer only if too short to cut)."""
    return Options(
        lanes=lanes,
        window=window,
        chunk_bytes=min(1 << 24, max(1 << 16, 2 * size)),
        min_chunk_bytes=max(1, size // lanes),
        segment_bytes=min(MAX_SEGMENT_BYTES, max(MIN_SEGMENT_BYTES, size)),  # one segment: one group
    )


def scaling(
    data: bytes,
    lanes: Sequence[int] | None = None,
    windows: Sequence[int] | None = None,
    *,
    model: str | None = None,
    threads: int | None = None,
    ceiling_steps: int = 256,
    done: Callable[[ScalingPoint], None] | None = None,
) -> list[ScalingPoint]:
    """Code ``data`` once per (lanes, window) (default: LANES by WINDOWS), round trip checked;
    ``done`` sees each point as it ends."""
    engine = shared_engine(model, threads)
    points = []
    for window in windows or WINDOWS:
        for n in lanes or LANES:
            options = one_group(len(data), n, window)

            def compress(text: bytes, options: Options = options) -> bytes:
                encoder = FrameEncoder(engine, options, len(text))
                return encoder.write(text) + encoder.finish()

            m = round_trip(data, compress, model=model, threads=threads)
            ceiling = lockstep_ceiling(engine.model, max(1, m.lanes), window, options.keep, ceiling_steps, threads)
            point = ScalingPoint(**vars(m), ceiling_tok_s=ceiling)
            points.append(point)
            if done:
                done(point)
    return points


def render_scaling(points: Sequence[ScalingPoint], name: str) -> str:
    """One row per lane count, one column per window: bits per byte, compress / decompress tok/s, ceiling."""
    windows = sorted({p.window for p in points})
    lanes = sorted({p.lanes for p in points})
    at = {(p.lanes, p.window): p for p in points}
    cells = []
    for n in lanes:
        row = [str(n)]
        for w in windows:
            p = at.get((n, w))
            if p is None:
                row.append("-")
            elif not p.verified:
                row.append("round trip FAILED")
            else:
                row.append(f"{p.bpb:.3f} bpb, {speed(p.compress_tok_s)} / {speed(p.decompress_tok_s)} tok/s (ceiling {speed(p.ceiling_tok_s)})")
        cells.append(row)
    size = points[0].original_bytes if points else 0
    title = f"{name}, {size:,} bytes: lanes (rows) and window (columns); bits per byte, compress / decompress tok/s, lockstep ceiling with full contexts"
    return title + "\n" + grid(["lanes", *(f"window {w}" for w in windows)], cells, [True] * (1 + len(windows)))
