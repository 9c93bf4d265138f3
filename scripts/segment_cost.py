#!/usr/bin/env python3
"""What independent segments cost and buy: bits per byte by segment size, speed by workers, random access.

``python scripts/segment_cost.py bits FILE --size N --segments S1,S2,...`` codes the first N bytes of
FILE once per segment size (an S of N or more is one segment: a single stream) and appends a JSON row
per run to benchmarks/segments.json. ``workers FILE --size N --segment S --workers 1,2`` times the
same archive made by each number of workers (and checks that it is the same). ``access FILE --size N
--segment S`` times a decode of the whole archive and a read of 1 KB from its middle. Each run is one
process and one measurement: run them one at a time, on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import nacrith

OUT = Path(__file__).resolve().parent.parent / "benchmarks" / "segments.json"


def _save(row: dict) -> None:
    rows = json.loads(OUT.read_text()) if OUT.exists() else []
    rows.append(row)
    OUT.write_text(json.dumps(rows, indent=2) + "\n")
    print(json.dumps(row))


def bits(data: bytes, name: str, segments: list[int]) -> None:
    for segment in segments:
        began = time.perf_counter()
        archive = nacrith.compress(data, segment_bytes=min(segment, 1 << 30))
        seconds = time.perf_counter() - began
        frames = nacrith.inspect(archive).frames[0]
        _save({"kind": "bits", "file": name, "bytes": len(data), "segment_bytes": segment, "segments": len(frames.segments),
               "archive_bytes": len(archive), "bpb": 8 * len(archive) / len(data), "compress_seconds": seconds})


def workers(data: bytes, name: str, segment: int, counts: list[int]) -> None:
    archives = {}
    for n in counts:
        began = time.perf_counter()
        archives[n] = nacrith.compress(data, segment_bytes=segment, workers=n)
        seconds = time.perf_counter() - began
        _save({"kind": "workers", "file": name, "bytes": len(data), "segment_bytes": segment, "workers": n,
               "compress_seconds": seconds, "identical": archives[n] == archives[counts[0]]})


def access(data: bytes, name: str, segment: int, archive_path: Path) -> None:
    archive = nacrith.compress(data, segment_bytes=segment)
    archive_path.write_bytes(archive)
    began = time.perf_counter()
    whole = nacrith.decompress(archive)
    decode_seconds = time.perf_counter() - began
    assert whole == data
    began = time.perf_counter()
    with nacrith.open(archive_path) as f:
        f.seek(len(data) // 2)
        piece = f.read(1024)
        decoded = f._indexed.decoded_segments if f._indexed else None
    read_seconds = time.perf_counter() - began
    assert piece == data[len(data) // 2 : len(data) // 2 + 1024]
    _save({"kind": "access", "file": name, "bytes": len(data), "segment_bytes": segment,
           "segments": len(nacrith.inspect(archive).frames[0].segments), "decode_seconds": decode_seconds,
           "read_1k_seconds": read_seconds, "segments_decoded_for_1k": decoded})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("bits", "workers", "access"))
    parser.add_argument("file", type=Path)
    parser.add_argument("--size", type=int, default=512 * 1024)
    parser.add_argument("--segments", default="524288")
    parser.add_argument("--segment", type=int, default=128 * 1024)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    data = args.file.read_bytes()[: args.size]
    name = args.file.name
    if args.what == "bits":
        bits(data, name, [int(s) for s in args.segments.split(",")])
    elif args.what == "workers":
        workers(data, name, args.segment, [int(n) for n in args.workers.split(",")])
    else:
        access(data, name, args.segment, Path("/tmp") / f"{name}.{args.segment}.nacr")


if __name__ == "__main__":
    main()
