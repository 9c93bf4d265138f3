"""``nacrith explain``: options wired to :mod:`nacrith.explain`; the costs and the page are made there."""

from __future__ import annotations

from pathlib import Path

import click

from .. import NacrithError
from ..atomic import write_atomically
from ..explain.costs import Explanation, explain
from ..explain.page import render_html, token_text
from ..constants import DEFAULT_WINDOW
from ..neural.params import EnsembleParams
from .files import Refused, binary_stdio
from .options import check_coding_options, model_options, window_option
from .report import Fatal, describe, interruptible, say

__all__ = ["explain_command"]


def _summary(e: Explanation, top: int) -> str:
    lines = [
        f"{e.name}: {len(e.data):,} bytes, {len(e.tokens):,} tokens, {e.total_bits:,.1f} bits",
        f"  {e.bits_per_byte:.3f} bits per byte, {e.bits_per_token:.3f} bits per token",
        f"  the costliest 10% of tokens carry {100 * e.top_share(0.10):.1f}% of the bits",
    ]
    alone = e.model_bits_per_byte
    if alone is not None:
        saved = f", {100 * (1 - e.bits_per_byte / alone):.1f}% saved by the ensemble" if alone else ""
        lines.insert(2, f"  the language model alone: {alone:.3f} bits per byte{saved}")
        won = sorted(e.by_predictor().items(), key=lambda kv: -kv[1][1])
        lines.append("  won by: " + ", ".join(f"{name} {count:,} tokens ({bits:,.0f} bits)" for name, (count, bits) in won))
    lines += [f"  note: {note}" for note in e.notes]
    if top and e.tokens:
        lines.append("  costliest tokens:")
        lines += [f'    {e.bits[i]:6.2f} bits  token {i:>6}  "{token_text(e.pieces[i])}"' for i in e.costliest(top)]
    return "\n".join(lines)


@click.command(name="explain")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--html", "html_path", metavar="OUT.html", type=click.Path(dir_okay=False), help="Write the page here.")
@window_option(DEFAULT_WINDOW)
@click.option("--limit", type=click.IntRange(min=1), metavar="BYTES", help="Use only the first BYTES of FILE.")
@click.option("--top", type=click.IntRange(min=0), default=20, show_default=True, help="How many of the costliest tokens to list.")
@model_options
@click.option("--ensemble/--no-ensemble", default=True, show_default=True, help="Costs of the ensemble coding uses, or of the model alone.")
@interruptible
def explain_command(
    file: str, html_path: str | None, window: int, limit: int | None, top: int, model: str | None, threads: int, ensemble: bool
) -> None:
    """Show where the bits go: what each token of FILE costs, and which predictor won it.

    Runs the model over FILE as one sequence with a sliding window, as coding does,
    with the ensemble coding uses (--no-ensemble: the model alone), and prints a
    summary: total bits, bits per byte (and the model alone's), the costliest tokens,
    the share of bits in the costliest tenth of them, and how many tokens each
    predictor (the model, an n-gram order, the match model) gave the highest
    probability. With --html, also writes a self-contained page with the text
    coloured by each token's cost (hover for the bits and the predictor), a legend,
    and the same summary.

    \b
    Examples:
      nacrith explain notes.txt --html notes.html
      nacrith explain --limit 20000 --window 1024 book.txt --html book.html
    """
    threads_or_none = threads or None
    check_coding_options(window=window, model=model, threads=threads_or_none)  # before reading anything
    try:
        if file == "-":
            stdin = binary_stdio("stdin")
            data = stdin.read() if limit is None else stdin.read(limit)
        else:
            with open(file, "rb") as f:
                data = f.read() if limit is None else f.read(limit)
    except (OSError, Refused) as exc:
        raise Fatal(describe(exc)) from None
    name = "stdin" if file == "-" else Path(file).name
    try:
        explanation = explain(
            data, name=name, model=model, window=window, threads=threads_or_none, ensemble=EnsembleParams() if ensemble else None
        )
    except NacrithError as exc:
        raise Fatal(f"{name}: {describe(exc)}") from None
    click.echo(_summary(explanation, top))
    if html_path:
        try:
            write_atomically(html_path, render_html(explanation, top=top or 20).encode("utf-8"))
        except OSError as exc:
            raise Fatal(describe(exc)) from None
        say(f"wrote {html_path}")
