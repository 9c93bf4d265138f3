#!/usr/bin/env python3
"""Issue 16's crafted archives, and what decoding each costs: peak memory, seconds, outcome.

``python scripts/crafted_archives.py [--keep DIR]`` writes small archives whose headers ask for
much (a short text at window 65,536; the largest ensemble tables; 4 and 16 chunks of a byte or
two under a 65,536-token window; 8 chunks that claim 65,536 bytes each; neural chunks that claim
far more than their 1-byte payload holds) and decodes each in a fresh process, with this
checkout's nacrith and the default memory limit. Prints each archive's size, the child's peak
resident memory (VmHWM, the model's mapped pages included), its seconds (model load included)
and the outcome. Loads the model: on a shared machine, run it under the model lock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nacrith  # noqa: E402
from nacrith.constants import PRECISION_BITS  # noqa: E402
from nacrith.container import CodingParams  # noqa: E402
from nacrith.engine import shared_engine  # noqa: E402
from fuzz import corpus  # noqa: E402
from nacrith.neural.params import EnsembleParams  # noqa: E402

TEXT = b"It was the best of times, it was the worst of times, it was the age of wisdom.\n"
LARGEST_TABLES = EnsembleParams(ngram_orders=16, ngram_table_bits=19, match_table_bits=24, history_bits=25)
"""960 MiB of ensemble tables: about the most the format allows."""

CHILD = (
    "import sys, time, nacrith\n"
    "began = time.perf_counter()\n"
    "try:\n"
    "    outcome = f'{len(nacrith.decompress(open(sys.argv[1], \"rb\").read(), threads=1))} bytes'\n"
    "except nacrith.NacrithError as exc:\n"
    "    outcome = f'{type(exc).__name__}: {exc}'\n"
    "peak = next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
    "print(f'{peak >> 10} MiB', f'{time.perf_counter() - began:.2f} s', outcome, sep='\\t')\n"
)


def params(lanes: int = 8, window: int = 1024, ensemble: EnsembleParams = EnsembleParams(), chunk: int = 65536) -> CodingParams:
    return CodingParams(PRECISION_BITS, lanes, window, window * 3 // 4, chunk, 1, ensemble, max(chunk, 1 << 20))


def crafted() -> dict[str, bytes]:
    info = shared_engine(None, 1).model_info()  # this build's tag: a chunk that fails is damage

    def group(p: CodingParams, lengths: list[int]) -> bytes:
        return corpus.neural_group_frame(info, p, lengths)

    def one_chunk(p: CodingParams, length: int) -> bytes:
        return corpus.neural_chunk_frame(info, p, length)

    return {
        "text, window 1024": nacrith.compress(TEXT, threads=1),
        "text, window 65536": nacrith.compress(TEXT, window=65536, threads=1),
        "text, window 65536, largest tables": nacrith.compress(TEXT, window=65536, ensemble=LARGEST_TABLES, threads=1),
        "4 chunks of 1-2 bytes, window 65536": group(params(window=65536), [1, 2, 1, 2]),
        "16 chunks of 1-2 bytes, window 65536": group(params(lanes=16, window=65536), [1, 2] * 8),
        "8 chunks claiming 65536 bytes, window 65536": group(params(window=65536), [65536] * 8),
        "a chunk claiming 65536 bytes, payload 1 byte": one_chunk(params(), 65536),
        "8 chunks claiming 16 MiB, payload 1 byte each": group(params(chunk=1 << 24), [1 << 24] * 8),
    }


def main() -> None:
    keep = sys.argv[sys.argv.index("--keep") + 1] if "--keep" in sys.argv else None
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(keep or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for i, (name, archive) in enumerate(crafted().items()):
            path = folder / f"crafted-{i}.nacr"
            path.write_bytes(archive)
            done = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, env=env, timeout=600)
            result = done.stdout.strip() or f"exit {done.returncode}: {done.stderr.strip()[-200:]}"
            print(f"{name} ({len(archive)} bytes)\t{result}", flush=True)


if __name__ == "__main__":
    main()
