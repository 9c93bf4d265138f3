#!/usr/bin/env python3
"""Markdown tables from ``nacrith bench --json`` results: ``scripts/benchmarks_md.py results.json [...] > BENCHMARKS-table.md``.

Prints, in order: the machine and software the run used and nacrith's settings; bits
per byte per file and compressor (the best of each row in bold); compress and
decompress speed; and nacrith against its model alone (ideal code length, raw
lockstep speed). BENCHMARKS.md's prose is written by hand around these tables.

Rows that did not round-trip are marked, never shown as results; missing compressors
are listed as missing. Several JSON files may be given (several runs or settings): a
nacrith column per distinct (model, lanes, window), and a machine line per distinct run.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

from nacrith.bench.tables import speed

__all__ = ["render", "load", "main"]

Row = dict[str, Any]


def load(paths: Iterable[Path]) -> list[Row]:
    rows: list[Row] = []
    for path in paths:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ValueError(f"{path}: expected a JSON list of row objects (nacrith bench --json)")
        rows += data
    return rows


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("--:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _speed(value: float | None) -> str:
    return "–" if value is None else speed(value)


def _column(row: Row, nacrith_variants: int) -> str:
    """A compressor's column: its command line; nacrith's with its settings when a table mixes several."""
    if row.get("key") != "nacrith" or nacrith_variants <= 1:
        return row["compressor"]
    return f"nacrith (lanes {row.get('lanes')}, window {row.get('window')}, {row.get('model')})"


def _variant(row: Row) -> tuple[Any, ...]:
    return (row.get("model"), row.get("lanes"), row.get("window"))


def _machine(rows: Sequence[Row]) -> str:
    runs: list[dict[str, Any]] = []
    for row in rows:
        run = row.get("run") or {}
        if run not in runs:
            runs.append(run)
    parts = []
    for n, run in enumerate(runs, 1):
        software = ", ".join(
            f"{name} {run[key]}" if run.get(key) else f"{name} (missing)"
            for name, key in (("Python", "python"), ("nacrith", "nacrith"), ("llama-cpp-python", "llama_cpp_python"), ("zstandard", "zstandard"), ("brotli", "brotli"))
        )
        load = run.get("load_average")
        cells = [
            ("date", run.get("date", "?")),
            ("platform", run.get("platform", "?")),
            ("CPU", f"{run.get('cpu', '?')} ({run.get('cores', '?')} cores, {run.get('usable_cores', '?')} usable by the run)"),
            ("load average at the start", ", ".join(map(str, load)) if load else "?"),
            ("software", software),
        ]
        if run.get("threads") is not None:
            cells.append(("llama.cpp threads", str(run["threads"])))
        title = "Machine" + (f" (run {n})" if len(runs) > 1 else "")
        parts.append(f"**{title}**\n\n" + _table(["", ""], cells, [False, False]))
    ours = {_variant(r): r for r in rows if r.get("key") == "nacrith" and r.get("status") != "missing"}
    if ours:
        settings = [
            f"- {r.get('model')} (fingerprint {r.get('model_fingerprint', '?')}): lanes {r.get('lanes')}, "
            f"window {r.get('window')} tokens sliding to {r.get('keep', '?')}"
            + (f"; llama.cpp build {r['llama_build']}" if r.get("llama_build") else "")
            for r in ours.values()
        ]
        parts.append("**nacrith settings**\n\n" + "\n".join(settings))
    return "\n\n".join(parts)


def _ok(row: Row) -> bool:
    return row.get("status", "ok") == "ok" and bool(row.get("verified"))


def _cell(row: Row | None, text: str) -> str:
    if row is None:
        return "–"
    if row.get("status") == "missing":
        return "missing"
    if not _ok(row):
        return "failed"
    return text


def render(rows: Sequence[Row]) -> str:
    variants = len({_variant(r) for r in rows if r.get("key") == "nacrith"})
    files = list(dict.fromkeys(r["file"] for r in rows))
    columns = list(dict.fromkeys(_column(r, variants) for r in rows))
    grid: dict[tuple[str, str], Row] = {}
    for row in rows:
        key = (row["file"], _column(row, variants))
        if key in grid:
            print(f"benchmarks_md: {key[0]} / {key[1]}: several rows, using the last", file=sys.stderr)
        grid[key] = row
    size = {r["file"]: r["original_bytes"] for r in rows}
    has_ideal = any(r.get("ideal_bpb") for r in rows)

    spec = []  # (column, what): each compressor's bits per byte, and the model's ideal right after nacrith's
    for c in columns:
        spec.append((c, "bpb"))
        if has_ideal and any(_column(r, variants) == c and r.get("key") == "nacrith" for r in rows):
            spec.append((c, "ideal"))
    headers = ["file", "bytes"] + [c if what == "bpb" else "model's ideal" for c, what in spec]
    bpb_rows = []
    for f in files:
        scores = [grid[(f, c)]["bpb"] for c in columns if (f, c) in grid and _ok(grid[(f, c)]) and grid[(f, c)].get("bpb") is not None]
        best = min(scores, default=None)
        cells = [f, f"{size[f]:,}"]
        for c, what in spec:
            row = grid.get((f, c))
            if what == "ideal":
                ideal = row.get("ideal_bpb") if row else None
                cells.append(f"{ideal:.3f}" if ideal else "–")
                continue
            bpb = row.get("bpb") if row else None
            cells.append(_cell(row, "–" if bpb is None else (f"**{bpb:.3f}**" if bpb == best else f"{bpb:.3f}")))
        bpb_rows.append(cells)
    width = len(headers)
    out = ["## Benchmark tables", "", "<!-- generated by scripts/benchmarks_md.py from nacrith bench --json; edit the prose around it, not the tables -->", ""]
    out += [_machine(rows), "", "### Bits per byte (lower is better)", "", _table(headers, bpb_rows, [False] + [True] * (width - 1)), ""]

    speed_rows = []
    for f in files:
        cells = [f]
        for c in columns:
            row = grid.get((f, c))
            cells.append(_cell(row, f"{_speed(row.get('compress_kbps'))} / {_speed(row.get('decompress_kbps'))}" if row else "–"))
        speed_rows.append(cells)
    out += ["### Speed, KB/s (1000 bytes), compress / decompress", "", _table(["file", *columns], speed_rows, [False] + [True] * len(columns)), ""]

    ours = [r for r in rows if r.get("key") == "nacrith" and r.get("tokens") is not None]
    if ours:
        headers = ["file", "tokens", "bpb", "model's ideal", "vs ideal", "compress tok/s", "decompress tok/s", "ceiling tok/s", "compress / ceiling", "decompress / ceiling"]
        if variants > 1:
            headers.insert(1, "settings")
        table = []
        for r in ours:
            ideal, ceiling, bpb = r.get("ideal_bpb"), r.get("ceiling_tok_s"), r.get("bpb")
            cells = [
                r["file"],
                f"{r['tokens']:,}",
                _cell(r, f"{bpb:.3f}" if bpb is not None else "–"),
                f"{ideal:.3f}" if ideal else "–",
                f"{100 * (bpb / ideal - 1):+.1f}%" if ideal and bpb is not None and _ok(r) else "–",
                _speed(r.get("compress_tok_s")),
                _speed(r.get("decompress_tok_s")),
                f"{_speed(ceiling)} ({r.get('lanes_used')} lane{'s' if r.get('lanes_used') != 1 else ''})" if ceiling else "–",
                f"{100 * r['compress_tok_s'] / ceiling:.0f}%" if ceiling and r.get("compress_tok_s") else "–",
                f"{100 * r['decompress_tok_s'] / ceiling:.0f}%" if ceiling and r.get("decompress_tok_s") else "–",
            ]
            if variants > 1:
                cells.insert(1, f"lanes {r.get('lanes')}, window {r.get('window')}")
            table.append(cells)
        out += ["### nacrith against its model alone", "",
                "The model's ideal is its cross-entropy on the whole file as one sequence with the same window: "
                "the code length of an ideal coder with no chunking or container. The ceiling is llama.cpp stepping "
                "the same number of lanes in lockstep with nothing else to do, measured in the same run.", "",
                _table(headers, table, [False] * (2 if variants > 1 else 1) + [True] * (len(headers) - (2 if variants > 1 else 1))), ""]

    notes = list(dict.fromkeys(f"- {r['file']}: {r['note']}" for r in rows if r.get("note") and r.get("status") == "ok"))
    problems = list(dict.fromkeys(f"- {r['file']}, {r['compressor']}: {r['status']} ({r.get('note') or 'the round trip changed the bytes'})" for r in rows if not _ok(r)))
    if notes:
        out += ["Notes:", "", *notes, ""]
    if problems:
        out += ["Missing or failed:", "", *problems, ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks_md.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path, help="JSON written by nacrith bench --json")
    args = parser.parse_args(argv)
    try:
        rows = load(args.results)
    except (OSError, ValueError) as exc:
        print(f"benchmarks_md: {exc}", file=sys.stderr)
        return 1
    if not rows:
        print("benchmarks_md: no rows in the results", file=sys.stderr)
        return 1
    sys.stdout.write(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
