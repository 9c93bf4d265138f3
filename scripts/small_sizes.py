#!/usr/bin/env python3
"""Small inputs at the defaults: archive bytes against gzip -9, xz -9e and zstd -19, and bits per byte by size.

``python scripts/small_sizes.py`` codes the first 200 and 1,000 bytes of an English text, a 1,220-byte
CSV, and the first 100, 1,000, 4,000 and 16,000 bytes of alice29.txt (packaged), decodes each back, and
prints a Markdown table; the texts are arguments (``--english``, ``--csv``) so that any can be used.
"""

from __future__ import annotations

import argparse
import gzip
import json
import lzma
from pathlib import Path

import zstandard

import nacrith

ALICE = Path(__file__).resolve().parent.parent / "nacrith" / "bench" / "canterbury" / "alice29.txt"


def overhead(archive: bytes) -> int:
    """Everything but the neural payloads: header, tables, checksums, end."""
    info = nacrith.inspect(archive)
    return len(archive) - sum(c.payload_size for f in info.frames for c in f.chunks if c.method.startswith("neural"))


def row(name: str, data: bytes) -> dict:
    archive = nacrith.compress(data)
    assert nacrith.decompress(archive) == data
    return {
        "input": name,
        "bytes": len(data),
        "nacrith": len(archive),
        "overhead": overhead(archive),
        "bpb": 8 * len(archive) / len(data),
        "gzip -9": len(gzip.compress(data, 9, mtime=0)),
        "xz -9e": len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)),
        "zstd -19": len(zstandard.ZstdCompressor(level=19).compress(data)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--english", type=Path, required=True)
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    english, csv, alice = args.english.read_bytes(), args.csv.read_bytes(), ALICE.read_bytes().replace(b"\r\n", b"\n")
    rows = [row(f"{args.english.name}, first 200 bytes", english[:200]), row(f"{args.english.name}, first 1,000 bytes", english[:1000])]
    cut = csv.rfind(b"\n", 0, 1220) + 1
    rows.append(row(f"{args.csv.name}, first {cut:,} bytes (whole lines)", csv[:cut]))
    for size in (100, 1000, 4000, 16000):
        rows.append(row(f"alice29.txt, first {size:,} bytes", alice[:size]))
    print("| input | bytes | nacrith | of which not payload | bits per byte | gzip -9 | xz -9e | zstd -19 |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        print(f"| {r['input']} | {r['bytes']:,} | {r['nacrith']:,} | {r['overhead']} | {r['bpb']:.3f} | {r['gzip -9']:,} | {r['xz -9e']:,} | {r['zstd -19']:,} |")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
