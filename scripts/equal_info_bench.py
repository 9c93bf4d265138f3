"""Measure equal-info windows in short runs (run it under the model lock, again until it says done).

    flock /tmp/nacrith-model.lock python scripts/equal_info_bench.py --state benchmarks/equal-info.json \
        --texts enwik8:102400,alice29:152089 --bits 16,32,64,128,256,1024,8192 --primer 1 --fill yes --seconds 240

Each run goes on with the unfinished jobs of the given primers (``--primer 0,1``: cold and warm
starts, one after the other in one process); ``--plain`` also codes each text's measured bytes as
a plain archive, with the ensemble and the LLM alone, for the ratio without windows; ``--text
NAME=PATH`` adds a text. ``--report`` prints the table.

    flock /tmp/nacrith-model.lock python scripts/equal_info_bench.py --state benchmarks/equal-info/sample.json \
        --text sample=benchmarks/equal-info/sample.txt --texts sample:3907 --bits 16,32,64,128 --primer 0,1 --plain
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from nacrith.bench.equal_info import Job, key, load_state, run_jobs, save_state

CORPORA = Path(os.environ.get("NACRITH_CORPORA", Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"))
TEXTS = {
    "enwik8": CORPORA / "enwik8" / "enwik8.prefix-4154399",
    "alice29": CORPORA / "canterbury" / "alice29.txt",
}
PAPER = {16: 2.66, 32: 3.49, 64: 4.16, 128: 4.61}
"""Lester et al. (2024), Table: bit compression ratio of equal-info windows on C4 (3M-parameter byte model)."""
PAPER_PLAIN = 5.49
"""The same paper's plain arithmetic coding with that model."""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--state", type=Path, required=True)
    ap.add_argument("--texts", default="")
    ap.add_argument("--bits", default="")
    ap.add_argument("--primer", default="1", help="comma-separated primer numbers, each a run of its own")
    ap.add_argument("--text", action="append", default=[], metavar="NAME=PATH", help="a text besides enwik8 and alice29")
    ap.add_argument("--plain", action="store_true", help="also the plain archive's ratio, with the ensemble and without")
    ap.add_argument("--fill", choices=["yes", "no", "both"], default="yes")
    ap.add_argument("--seconds", type=float, default=240)
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--markdown", action="store_true", help="print the tables of BENCHMARKS.md")
    args = ap.parse_args()
    jobs = load_state(args.state)
    if args.report:
        report(jobs)
        return
    if args.markdown:
        markdown(jobs, load_plain(args.state))
        return
    for spec in args.text:
        name, path = spec.split("=", 1)
        TEXTS[name] = Path(path)
    fills = {"yes": [True], "no": [False], "both": [True, False]}[args.fill]
    specs = args.texts.split(",")
    primers = [int(p) for p in args.primer.split(",")]
    for spec in specs:
        name, limit = spec.split(":")
        for bits in map(int, args.bits.split(",")):
            for primer in primers:
                for fill in fills:
                    job = Job(name, int(limit), bits, primer, fill)
                    jobs.setdefault(key(job), job)
    from nacrith.engine import shared_engine

    texts = {name: path.read_bytes() for name, path in TEXTS.items()}
    if args.plain:
        plain = load_plain(args.state)
        for spec in specs:
            if spec not in plain:
                name, limit = spec.split(":")
                plain[spec] = plain_ratios(texts[name][: int(limit)])
                print(f"{spec} plain: {plain[spec]}", file=sys.stderr)
        save_plain(args.state, plain)
    for primer in primers:
        todo = [j for j in jobs.values() if j.primer == primer and not j.done and f"{j.text}:{j.limit}" in specs]
        if not todo:
            continue
        t = time.time()
        keep = args.state.with_suffix(".windows")
        keep.mkdir(exist_ok=True)
        speed = run_jobs(shared_engine(None), texts, todo, args.seconds, keep=keep)
        meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": platform.node(), "primer": primer, "lanes": len(todo), "tok_per_s": speed, "wall": time.time() - t}
        save_state(args.state, jobs, meta)
        left = sum(1 for j in todo if not j.done)
        print(f"primer {primer}: {len(todo)} lanes, {speed:.1f} tok/s, {time.time() - t:.0f} s; {left} jobs left", file=sys.stderr)
    if all(j.done for j in jobs.values() if f"{j.text}:{j.limit}" in specs and j.primer in primers):
        print("done")
    report(jobs)


def plain_ratios(data: bytes) -> dict[str, float]:
    """The ratio (text bits over code bits, the payloads alone) of a plain archive, with the ensemble and the LLM alone."""
    import nacrith

    def payload_bits(archive: bytes) -> int:
        return 8 * sum(c.payload_size for f in nacrith.inspect(archive).frames for c in f.chunks)

    return {"ensemble": 8 * len(data) / payload_bits(nacrith.compress(data)), "llm": 8 * len(data) / payload_bits(nacrith.compress(data, ensemble=False))}


def load_plain(path: Path) -> dict[str, dict[str, float]]:
    return json.loads(path.read_text()).get("plain", {}) if path.exists() else {}


def save_plain(path: Path, plain: dict[str, dict[str, float]]) -> None:
    state = json.loads(path.read_text()) if path.exists() else {"runs": [], "jobs": {}}
    state["plain"] = plain
    path.write_text(json.dumps(state, indent=1) + "\n")


def report(jobs: dict[str, Job]) -> None:
    for k, j in sorted(jobs.items(), key=lambda kv: (kv[1].text, kv[1].primer, kv[1].fill, kv[1].bits)):
        pad = 1 - j.used / (j.windows * j.bits) if j.windows else 0
        print(
            f"{k:40s} {j.pos:>7}/{j.limit:<7} windows {j.windows:>6} ratio {j.ratio:5.2f} "
            f"ideal {8 * j.pos / j.ideal if j.ideal else 0:5.2f} padding {100 * pad:4.1f}% tokens/window {j.tokens / max(1, j.windows):6.1f}"
        )


def markdown(jobs: dict[str, Job], plain: dict[str, dict[str, float]]) -> None:
    """One table per (text size, primer, fill): the ratio per W beside the plain archive's, and where a window's bits go."""
    groups: dict[tuple, list[Job]] = {}
    for j in jobs.values():
        groups.setdefault((j.limit, j.primer, j.fill), []).append(j)
    for (limit, primer, fill), members in sorted(groups.items()):
        bits = sorted({j.bits for j in members})
        print(f"\n{limit:,} bytes, primer {primer}, {'fill' if fill else 'whole tokens'}\n")
        print("| text | plain (LLM alone; ensemble) | " + " | ".join(f"W={b}" for b in bits) + " |")
        print("|---|---|" + "---|" * len(bits))
        for text in sorted({j.text for j in members}):
            row = {j.bits: j for j in members if j.text == text}
            cells = [f"{row[b].ratio:.2f}" + ("" if row[b].done else "*") if b in row else "" for b in bits]
            p = plain.get(f"{text}:{limit}")
            base = f"{p['llm']:.2f}; {p['ensemble']:.2f}" if p else ""
            print(f"| {text} | {base} | " + " | ".join(cells) + " |")
        print(f"| paper (C4) | {PAPER_PLAIN:.2f} | " + " | ".join(f"{PAPER[b]:.2f}" if b in PAPER else "" for b in bits) + " |")
        for text in sorted({j.text for j in members}):
            row = {j.bits: j for j in members if j.text == text}
            cells = []
            for b in bits:
                j = row.get(b)
                if j is None or not j.windows:
                    cells.append("")
                    continue
                code = j.windows * j.bits
                cells.append(f"{8 * j.pos / j.ideal:.2f} / {100 * (code - j.used) / code:.1f}% / {j.pos / j.windows:.1f}")
            print(f"| {text}: ideal ratio / padding / bytes per window | | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
