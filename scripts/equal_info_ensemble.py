"""What a fresh ensemble would buy inside one equal-info window (run under the model lock).

A window decodes alone, so an ensemble could only learn within the window. This codes pieces
of a window's typical length each as a whole archive of its own (a cold start, the ensemble
fresh), with the ensemble and without, and compares the code bits.

    flock /tmp/nacrith-model.lock python scripts/equal_info_ensemble.py --piece 3500 --bytes 8192
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import nacrith
from nacrith.chunking import safe_cut

CORPORA = Path(os.environ.get("NACRITH_CORPORA", Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"))
TEXTS = {"enwik8": CORPORA / "enwik8" / "enwik8.prefix-4154399", "alice29": CORPORA / "canterbury" / "alice29.txt"}


def payload_bits(archive: bytes) -> int:
    return 8 * sum(c.payload_size for f in nacrith.inspect(archive).frames for c in f.chunks)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--piece", type=int, required=True)
    ap.add_argument("--bytes", type=int, default=8192)
    args = ap.parse_args()
    for name, path in TEXTS.items():
        data = path.read_bytes()[: args.bytes]
        pieces, start = [], 0
        while start < len(data):
            cut = safe_cut(data, start + args.piece, start)
            pieces.append(data[start:cut])
            start = cut
        t = time.time()
        bits = {e: sum(payload_bits(nacrith.compress(p, ensemble=e, lanes=1)) for p in pieces) for e in (False, True)}
        print(f"{name}: {len(pieces)} pieces of ~{args.piece} bytes: LLM alone {bits[False]} bits, fresh ensemble {bits[True]} bits "
              f"({100 * (bits[True] / bits[False] - 1):+.2f}%), {time.time() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main()
