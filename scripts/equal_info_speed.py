"""Decode speed of equal-info archives per W and lanes, against plain decompression (run under the model lock).

    flock /tmp/nacrith-model.lock python scripts/equal_info_speed.py --bytes 16384 --bits 16,128 --lanes 16 [--plain]

Tokens per second count the symbols coded (each window's), over the wall time of one call.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import nacrith
import nacrith.equal_info as ei
from nacrith.engine import shared_engine

CORPORA = Path(os.environ.get("NACRITH_CORPORA", Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", type=Path, default=CORPORA / "enwik8" / "enwik8.prefix-4154399")
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--bytes", type=int, default=16384)
    ap.add_argument("--bits", default="128")
    ap.add_argument("--lanes", default="16")
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--state", type=Path, help="decode the windows a measurement kept (equal_info_bench.py) instead")
    ap.add_argument("--jobs", default="", help="with --state: comma-separated job keys")
    args = ap.parse_args()
    if args.state:
        return decode_kept(args)
    data = args.file.read_bytes()[args.offset : args.offset + args.bytes]
    engine = shared_engine(None)
    tokens = len(engine.model.tokenize(data))
    rows = []
    if args.plain:
        t = time.perf_counter()
        archive = nacrith.compress(data)
        enc = time.perf_counter() - t
        t = time.perf_counter()
        assert nacrith.decompress(archive) == data
        dec = time.perf_counter() - t
        rows.append({"mode": "plain", "bytes": len(data), "tokens": tokens, "ratio": 8 * len(data) / (8 * len(archive)), "encode_s": enc, "decode_s": dec, "decode_tok_s": tokens / dec, "encode_tok_s": tokens / enc})
        print(rows[-1], flush=True)
    for lanes in map(int, args.lanes.split(",")):
        for bits in [int(b) for b in args.bits.split(",") if b]:
            t = time.perf_counter()
            windows = ei.encode(data, bits=bits, lanes=lanes)
            enc = time.perf_counter() - t
            t = time.perf_counter()
            assert ei.decode(windows) == data
            dec = time.perf_counter() - t
            rows.append({"mode": f"W={bits}", "lanes": lanes, "bytes": len(data), "tokens": tokens, "windows": len(windows), "ratio": 8 * len(data) / (len(windows) * bits), "encode_s": enc, "decode_s": dec, "decode_tok_s": tokens / dec, "encode_tok_s": tokens / enc})
            print(rows[-1], flush=True)
    if args.json:
        old = json.loads(args.json.read_text()) if args.json.exists() else []
        args.json.write_text(json.dumps(old + [{"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "file": args.file.name, "offset": args.offset, **r} for r in rows], indent=1) + "\n")


def decode_kept(args: argparse.Namespace) -> None:
    """Decode the windows a measurement kept, ``lanes`` at a time, and time it (the text is checked)."""
    from nacrith.bench.equal_info import kept_windows, load_state
    from nacrith.container import EqualInfo
    from nacrith.equal_info.codec import decode_code, window_params

    sys_texts = {"enwik8": CORPORA / "enwik8" / "enwik8.prefix-4154399", "alice29": CORPORA / "canterbury" / "alice29.txt"}
    jobs = load_state(args.state)
    engine = shared_engine(None)
    rows = []
    for name in args.jobs.split(","):
        job = jobs[name]
        windows = kept_windows(args.state.with_suffix(".windows") / f"{name}.windows", job.bits)
        data = sys_texts[job.text].read_bytes()[: sum(length for _, length in windows)]
        tokens = len(engine.model.tokenize(data))
        for lanes in map(int, args.lanes.split(",")):
            params = window_params(engine.start_token(), EqualInfo(job.bits, 8, job.primer), lanes=lanes)
            t = time.perf_counter()
            texts = decode_code(engine, params, windows)
            dec = time.perf_counter() - t
            assert b"".join(texts) == data, name
            rows.append({"mode": name, "lanes": lanes, "bytes": len(data), "tokens": tokens, "windows": len(windows), "decode_s": dec, "decode_tok_s": tokens / dec})
            print(rows[-1], flush=True)
    if args.json:
        old = json.loads(args.json.read_text()) if args.json.exists() else []
        args.json.write_text(json.dumps(old + [{"date": time.strftime("%Y-%m-%dT%H:%M:%S"), **r} for r in rows], indent=1) + "\n")


if __name__ == "__main__":
    main()
