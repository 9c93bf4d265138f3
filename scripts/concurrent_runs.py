#!/usr/bin/env python3
"""Two nacrith compressions started together, against one alone: what sharing the cores buys.

``python scripts/concurrent_runs.py [TEXT]`` compresses the first 4,000 bytes of TEXT (default:
alice29.txt, packaged) in separate processes: one alone with the default threads (the cores
shared among nacrith processes) and with -T set to every core; then two at once, each way.
Prints wall seconds of each case and the ratio to running the two one after the other.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEXT = Path(__file__).resolve().parent.parent / "nacrith" / "bench" / "canterbury" / "alice29.txt"


def run(files: list[Path], threads: list[str]) -> float:
    began = time.perf_counter()
    processes = [
        subprocess.Popen([sys.executable, "-m", "nacrith", "compress", "-f", "-q", *threads, str(f)]) for f in files
    ]
    for p in processes:
        if p.wait() != 0:
            raise SystemExit(f"nacrith failed: {p.args}")
    return time.perf_counter() - began


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else TEXT
    data = source.read_bytes()
    cores = str(len(os.sched_getaffinity(0)))
    with tempfile.TemporaryDirectory() as folder:
        files = [Path(folder) / f"part{i}.txt" for i in range(2)]
        files[0].write_bytes(data[:4000])
        files[1].write_bytes(data[4000:8000])
        run(files[:1], [])  # warm the page cache and the fingerprint cache
        for label, threads in (("shared (default)", []), (f"-T {cores} (every core each)", ["-T", cores])):
            alone = run(files[:1], threads) + run(files[1:], threads)
            together = run(files, threads)
            print(f"{label}: one after the other {alone:.1f} s, together {together:.1f} s ({together / alone:.2f}x)")


if __name__ == "__main__":
    main()
