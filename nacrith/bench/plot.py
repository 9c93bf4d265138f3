"""Bits per byte per file and compressor as a grouped bar chart (matplotlib, an optional extra: ``nacrith[plot]``)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .compare import Row

__all__ = ["PlotUnavailable", "require_matplotlib", "bar_chart"]

INSTALL = "pip install 'nacrith[plot]' (or: pip install matplotlib)"


class PlotUnavailable(Exception):
    """matplotlib is not installed."""


def require_matplotlib() -> None:
    """Fail before a long run, not after it, when the chart cannot be drawn."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotUnavailable(f"--plot needs matplotlib, which is not installed: {INSTALL}") from None


def bar_chart(rows: Sequence[Row], path: str | Path, title: str = "Bits per byte (lower is better)") -> None:
    """One group of bars per file, one bar per compressor; missing or failed rows leave a gap."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    files = list(dict.fromkeys(r.file for r in rows))
    compressors = list(dict.fromkeys(r.compressor for r in rows))
    value = {(r.file, r.compressor): r.bpb for r in rows if r.verified and r.bpb is not None}
    ideal = {r.file: r.nacrith.get("ideal_bpb") for r in rows if r.key == "nacrith" and r.nacrith.get("ideal_bpb")}
    status = {r.compressor: r.status for r in rows if r.status != "ok"}
    width = 0.8 / max(1, len(compressors))
    figure, axes = plt.subplots(figsize=(max(6.0, 1.2 + len(files) * len(compressors) * 0.35), 5.0))
    for j, compressor in enumerate(compressors):
        xs = [i + (j - (len(compressors) - 1) / 2) * width for i, _ in enumerate(files)]
        ys = [value.get((f, compressor), 0.0) for f in files]
        label = compressor + (f" ({status[compressor]})" if compressor in status else "")
        bars = axes.bar(xs, ys, width, label=label)
        for bar, y in zip(bars, ys):
            if y:
                axes.annotate(f"{y:.2f}", (bar.get_x() + bar.get_width() / 2, y), ha="center", va="bottom", fontsize=7)
        if compressor == "nacrith" and ideal:
            for x, f in zip(xs, files):
                if f in ideal:
                    axes.hlines(ideal[f], x - width / 2, x + width / 2, colors="black", linestyles="dashed", linewidth=1.2,
                                label="the model's ideal" if f == next(iter(ideal)) else None)
    axes.set_xticks(range(len(files)), files, rotation=20 if len(files) > 4 else 0, ha="right" if len(files) > 4 else "center")
    axes.set_ylabel("bits per byte")
    axes.set_title(title)
    axes.legend(fontsize=8, ncols=min(4, len(compressors) + bool(ideal)), loc="upper center", bbox_to_anchor=(0.5, -0.12 if len(files) <= 4 else -0.25))
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
