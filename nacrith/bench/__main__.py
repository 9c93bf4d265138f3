"""python -m nacrith.bench FILE... [--lanes N] [--window N] [--limit BYTES] [--json OUT]: measured round trips."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..constants import DEFAULT_LANES, DEFAULT_WINDOW
from .measure import measure


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m nacrith.bench", description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--lanes", type=int, nargs="+", default=[DEFAULT_LANES])
    parser.add_argument("--window", type=int, nargs="+", default=[DEFAULT_WINDOW])
    parser.add_argument("--chunk-bytes", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="use only the first BYTES of each file")
    parser.add_argument("--no-ideal", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="append one JSON object per line")
    args = parser.parse_args()
    for path in args.files:
        data = path.read_bytes()[: args.limit]
        for window in args.window:
            for lanes in args.lanes:
                m = measure(path.name, data, lanes=lanes, window=window, chunk_bytes=args.chunk_bytes, with_ideal=not args.no_ideal)
                row = m.as_dict()
                print(
                    f"{m.file} {m.original_bytes}B lanes={m.lanes} window={m.window}: {m.bpb:.4f} bpb"
                    + (f" (ideal {m.ideal_bpb:.4f}, +{100 * (m.bpb / m.ideal_bpb - 1):.2f}%)" if m.ideal_bpb else "")
                    + f", compress {m.compress_tok_s:.1f} tok/s, decompress {m.decompress_tok_s:.1f} tok/s"
                    + (f", ceiling {m.ceiling_tok_s:.1f} tok/s ({100 * m.compress_tok_s / m.ceiling_tok_s:.0f}% / {100 * m.decompress_tok_s / m.ceiling_tok_s:.0f}%)" if m.ceiling_tok_s else "")
                    + f", verified={m.verified}, peak RSS {m.peak_rss_mib:.0f} MiB",
                    flush=True,
                )
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
