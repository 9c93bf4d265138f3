"""Measuring equal-info windows: bit compression ratio per window size, in runs short enough to share a machine.

Each measurement is a **job**: a text, a window size W, a primer, and whether windows are filled
with a prefix of the token that did not fit. Jobs that share a primer run side by side, one lane
each, through the real coder (:func:`~nacrith.equal_info.lanes.encode_lanes`): every window is
coded, so the bits counted are the bits written. A run stops at a deadline, each lane at its
next window boundary; since a window depends on its own text alone, the next run goes on from
there and the windows are exactly those of one long run. The state is a JSON file.

The ratio is the paper's (Lester et al., 2024): text bits over code bits, ``8 * bytes / (windows * W)``;
the window length table an archive adds is not counted.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..equal_info.lanes import LaneText, WindowSetup, encode_lanes
from ..equal_info.pieces import Pieces
from ..equal_info.primers import PRIMERS

PRIMER_CANDIDATES = {
    101: PRIMERS[1][:-2].replace(b"dates.", b"dates, as in this sentence, which goes on and"),
}
"""Primers measured but not (yet) in the format: a number above 100 is a measurement's alone."""


def primer_text(number: int) -> bytes:
    return PRIMER_CANDIDATES[number] if number in PRIMER_CANDIDATES else PRIMERS[number]

if TYPE_CHECKING:
    from ..engine import Engine

__all__ = ["Job", "key", "run_jobs", "load_state", "save_state", "kept_windows"]


def kept_windows(path: Path, bits: int) -> list[tuple[bytes, int]]:
    """The (code, length) of each window a run kept in ``path``."""
    data, size, out = path.read_bytes(), bits // 8, []
    at = 0
    while at < len(data):
        length = int.from_bytes(data[at : at + 4], "little")
        out.append((data[at + 4 : at + 4 + size], length))
        at += 4 + size
    return out


@dataclass
class Job:
    text: str
    """The text's name (the caller maps it to bytes)."""
    limit: int
    """Bytes of the text measured (its first ``limit``)."""
    bits: int
    primer: int
    fill: bool
    pos: int = 0
    windows: int = 0
    used: int = 0
    """Bits of code before the padding, summed over windows."""
    tokens: int = 0
    ideal: float = 0.0
    """The tokens' cost in bits, -log2 of their frequencies, summed (what a coder without windows would pay)."""
    seconds: float = 0.0
    steps: int = 0

    @property
    def done(self) -> bool:
        return self.pos >= self.limit

    @property
    def ratio(self) -> float:
        return 8 * self.pos / (self.windows * self.bits) if self.windows else 0.0


def key(job: Job) -> str:
    return f"{job.text}:{job.limit}:W{job.bits}:primer{job.primer}:{'fill' if job.fill else 'whole'}"


def load_state(path: Path) -> dict[str, Job]:
    if not path.exists():
        return {}
    return {k: Job(**v) for k, v in json.loads(path.read_text())["jobs"].items()}


def save_state(path: Path, jobs: dict[str, Job], meta: dict) -> None:
    state = json.loads(path.read_text()) if path.exists() else {}
    state["runs"] = state.get("runs", []) + [meta]
    state["jobs"] = {k: asdict(v) for k, v in sorted(jobs.items())}
    path.write_text(json.dumps(state, indent=1) + "\n")


def run_jobs(
    engine: Engine, texts: dict[str, bytes], jobs: list[Job], seconds: float, *, lanes: int | None = None, window: int = 1024, keep: Path | None = None
) -> float:
    """Go on with ``jobs`` (all of one primer) until ``seconds`` have passed; returns the tokens per second
    over all lanes. The jobs are updated in place. ``keep``: a folder where each job's windows are appended
    to ``<key>.windows`` (per window: its length, 4 bytes little-endian, then its code), to decode later."""
    jobs = [j for j in jobs if not j.done]
    if not jobs:
        return 0.0
    primers = {j.primer for j in jobs}
    if len(primers) != 1:
        raise ValueError("one primer per run: the base is the context's")
    model = engine.model
    base = (model.start_token, *model.tokenize(primer_text(primers.pop())))
    setup = WindowSetup(base, 24, window, window * 3 // 4)
    evaluator = engine.evaluator(lanes or len(jobs), window, base=len(base))
    work = [LaneText(texts[j.text][j.pos : j.limit], j.bits, j.fill) for j in jobs]
    start = time.monotonic()
    results = encode_lanes(evaluator, Pieces(model.pieces), model.tokenize, setup, work, deadline=start + seconds)
    elapsed = time.monotonic() - start
    tokens = 0
    for job, result in zip(jobs, results):
        job.pos += result.end
        job.windows += len(result.windows)
        job.used += sum(w.used for w in result.windows)
        job.tokens += sum(w.tokens for w in result.windows)
        job.ideal += result.bits
        job.seconds += elapsed
        tokens += sum(w.tokens for w in result.windows)
        if keep is not None:
            with open(keep / f"{key(job)}.windows", "ab") as out:
                for w in result.windows:
                    out.write(w.length.to_bytes(4, "little") + w.code)
    return tokens / elapsed if elapsed else 0.0
