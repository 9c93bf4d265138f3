"""Benchmark rows as plain-text tables for a terminal: every compressor, then nacrith against the model alone."""

from __future__ import annotations

from typing import Any, Sequence

from .compare import Row

__all__ = ["render", "grid", "speed"]


def grid(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    """Columns padded to their widest cell; ``right`` says which are numbers (right-aligned)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def speed(value: float | None) -> str:
    """Three significant figures or so: 0.123, 12.3, 1,234."""
    if value is None:
        return "-"
    if value < 1:
        return f"{value:.3f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def _num(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _verified(row: Row) -> str:
    if row.status == "missing":
        return "missing"
    return "yes" if row.verified else "NO"


def render(rows: Sequence[Row]) -> str:
    """The comparison table, and when nacrith ran, its table against the model's ideal and raw speed."""
    headers = ["file", "compressor", "original", "compressed", "bpb", "ratio", "comp KB/s", "decomp KB/s", "verified", "note"]
    right = [False, False, True, True, True, True, True, True, False, False]
    cells = []
    previous: Row | None = None
    for row in rows:
        same_file = previous is not None and previous.file == row.file
        cells.append([
            "" if same_file else row.file,
            row.compressor,
            f"{row.original_bytes:,}",
            _num(row.compressed_bytes, ","),
            _num(row.bpb, ".3f"),
            "-" if row.ratio is None else f"{row.ratio:.2f}x",
            speed(row.compress_kbps),
            speed(row.decompress_kbps),
            _verified(row),
            "" if same_file and row.status == "ok" and previous is not None and row.note == previous.note else row.note,
        ])
        previous = row
    text = grid(headers, cells, right)
    ours = [r for r in rows if r.key == "nacrith" and r.nacrith]
    if ours:
        text += "\n\n" + _render_nacrith(ours)
    return text


def _render_nacrith(rows: Sequence[Row]) -> str:
    first = rows[0].nacrith
    title = f"nacrith against the model alone ({first['model']}, lanes {first['lanes']}, window {first['window']}"
    title += f", threads {first['threads']})" if first.get("threads") else ")"
    headers = ["file", "bpb", "ideal bpb", "vs ideal", "tokens", "comp tok/s", "decomp tok/s", "ceiling tok/s", "comp/ceiling", "decomp/ceiling"]
    cells = []
    for row in rows:
        x = row.nacrith
        ideal, ceiling = x.get("ideal_bpb"), x.get("ceiling_tok_s")
        cells.append([
            row.file,
            _num(row.bpb, ".3f"),
            _num(ideal, ".3f"),
            f"{100 * (row.bpb / ideal - 1):+.1f}%" if ideal and row.bpb is not None else "-",
            f"{x['tokens']:,}",
            speed(x["compress_tok_s"]),
            speed(x["decompress_tok_s"]),
            speed(ceiling) + (f" ({x['lanes_used']} lane{'s' if x['lanes_used'] != 1 else ''})" if ceiling else ""),
            f"{100 * x['compress_tok_s'] / ceiling:.0f}%" if ceiling else "-",
            f"{100 * x['decompress_tok_s'] / ceiling:.0f}%" if ceiling and x.get("decompress_tok_s") else "-",
        ])
    return title + "\n" + grid(headers, cells, [False] + [True] * 9)
