"""An :class:`~.costs.Explanation` as one self-contained HTML page: the text coloured by cost, and where the bits go.

The page has no scripts and loads nothing: a style sheet in the head, tooltips in
``title`` attributes. All text from the file is escaped, attribute values quoted, and
control characters shown as their Unicode pictures, so any input gives well-formed HTML.
Tokens that end inside a UTF-8 character are shown together with the tokens that
complete it, as one span carrying their summed cost.
"""

from __future__ import annotations

import codecs
import html
from dataclasses import dataclass

import numpy as np

from .costs import Explanation

__all__ = ["render_html", "BUCKETS", "bucket", "token_text"]

BUCKETS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
"""Upper edges in bits of the colour classes c0..c5; c6 is everything from 16 bits up.
Doubling steps, because costs spread over orders of magnitude: a predictable token costs
a fraction of a bit, a surprising one 15 or more."""

_COLOURS = ("#ffffff", "#fff4cc", "#ffe59a", "#ffc56e", "#ff9a52", "#ef5b3b", "#b71c1c")

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.5em; } h3 { font-size: 1em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
code { white-space: pre; background: #f3f3f3; padding: 0 0.2em; }
.text { font-family: ui-monospace, monospace; white-space: pre-wrap; word-wrap: break-word; line-height: 1.5;
        border: 1px solid #ccc; padding: 1em; }
.text span:hover { outline: 1px solid #333; }
.legend span { display: inline-block; padding: 0.1em 0.6em; border: 1px solid #ccc; margin-right: 0.2em; }
.note { color: #8a4b00; }
.meta { color: #555; }
""" + "".join(
    f".c{i} {{ background: {colour};{' color: #fff;' if i == len(_COLOURS) - 1 else ''} }}\n" for i, colour in enumerate(_COLOURS)
)


def bucket(bits: float) -> int:
    """The colour class of a cost: 0 below 0.5 bits ... 6 from 16 bits up."""
    return int(np.searchsorted(BUCKETS, bits, side="right"))


def _bucket_label(i: int) -> str:
    if i == 0:
        return f"&lt; {BUCKETS[0]:g} bits"
    if i == len(BUCKETS):
        return f"&ge; {BUCKETS[-1]:g} bits"
    return f"{BUCKETS[i - 1]:g}&ndash;{BUCKETS[i]:g} bits"


def _visible(text: str) -> str:
    """Control characters (other than tab and line ends) as their Unicode pictures, then HTML-escaped."""
    shown = "".join(
        chr(0x2400 + ord(c)) if (ord(c) < 0x20 and c not in "\t\n\r") else ("\u2421" if c == "\x7f" else c) for c in text
    )
    return html.escape(shown, quote=True)


def token_text(piece: bytes) -> str:
    """A token for a table cell: line ends and tabs written out, undecodable bytes as \\xNN."""
    text = piece.decode("utf-8", "backslashreplace")
    return text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")


@dataclass
class _Span:
    first: int
    """Index of its first token."""
    last: int
    text: str


def _spans(pieces: list[bytes]) -> list[_Span]:
    """Consecutive tokens grouped so each group decodes to whole characters."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    spans: list[_Span] = []
    start, text = 0, ""
    for i, piece in enumerate(pieces):
        text += decoder.decode(piece)
        if not decoder.getstate()[0]:
            spans.append(_Span(start, i, text))
            start, text = i + 1, ""
    text += decoder.decode(b"", final=True)
    if start < len(pieces):
        spans.append(_Span(start, len(pieces) - 1, text))
    return spans


def _title(e: Explanation, span: _Span) -> str:
    parts = []
    for i in range(span.first, span.last + 1):
        part = f'{e.bits[i]:.2f} bits: token {i} (id {e.tokens[i]}) "{token_text(e.pieces[i])}"'
        if e.predictors is not None:
            part += f", predicted by {e.predictors[i]}"
        parts.append(part)
    return "\n".join(parts)


def _summary(e: Explanation) -> list[str]:
    rows = [
        ("bytes", f"{len(e.data):,}"),
        ("tokens", f"{len(e.tokens):,}"),
        ("total", f"{e.total_bits:,.1f} bits ({e.total_bits / 8:,.0f} bytes)"),
        ("bits per byte", f"{e.bits_per_byte:.3f}"),
        ("bits per token", f"{e.bits_per_token:.3f}"),
        ("share of bits in the costliest 10% of tokens", f"{100 * e.top_share(0.10):.1f}%"),
    ]
    alone = e.model_bits_per_byte
    if alone is not None:
        rows.insert(4, ("bits per byte, the language model alone", f"{alone:.3f}"))
    out = ['<table class="summary">']
    out += [f"<tr><th>{label}</th><td class=\"n\">{value}</td></tr>" for label, value in rows]
    out.append("</table>")
    return out


def _buckets(e: Explanation) -> list[str]:
    classes = np.searchsorted(BUCKETS, e.bits, side="right") if len(e.bits) else np.zeros(0, dtype=int)
    total_bits = e.total_bits or 1.0
    out = ['<table class="buckets">', "<thead><tr><th>cost per token</th><th>tokens</th><th>share of tokens</th><th>bits</th><th>share of bits</th></tr></thead>", "<tbody>"]
    for i in range(len(BUCKETS) + 1):
        chosen = classes == i
        count, bits = int(chosen.sum()), float(e.bits[chosen].sum())
        out.append(
            f'<tr><td class="c{i}">{_bucket_label(i)}</td><td class="n">{count:,}</td>'
            f'<td class="n">{100 * count / max(1, len(e.tokens)):.1f}%</td><td class="n">{bits:,.1f}</td>'
            f'<td class="n">{100 * bits / total_bits:.1f}%</td></tr>'
        )
    out += ["</tbody>", "</table>"]
    return out


def _predictors(e: Explanation) -> list[str]:
    totals = e.by_predictor()
    if not totals:
        return ['<p class="meta">Predictor: the language model alone, for every token. '
                "With an ensemble, this section shows which predictor won each token.</p>"]
    out = ['<table class="predictors">', "<thead><tr><th>predictor</th><th>tokens won</th><th>bits</th><th>bits per token</th></tr></thead>", "<tbody>"]
    for name, (count, bits) in sorted(totals.items(), key=lambda kv: -kv[1][1]):
        out.append(f'<tr><td>{_visible(name)}</td><td class="n">{count:,}</td><td class="n">{bits:,.1f}</td><td class="n">{bits / count:.2f}</td></tr>')
    out += ["</tbody>", "</table>"]
    return out


def _costliest(e: Explanation, spans: list[_Span], top: int) -> list[str]:
    span_of = {}
    for span in spans:
        for i in range(span.first, span.last + 1):
            span_of[i] = span
    out = [
        '<table class="costliest">',
        "<thead><tr><th>rank</th><th>token</th><th>bits</th><th>predictor</th><th>position</th><th>context</th></tr></thead>",
        "<tbody>",
    ]
    for rank, i in enumerate(e.costliest(top), 1):
        before = b"".join(e.pieces[max(0, i - 8) : i]).decode("utf-8", "replace")[-40:]
        predictor = _visible(e.predictors[i]) if e.predictors is not None else "&mdash;"
        out.append(
            f'<tr><td class="n">{rank}</td><td><code>{_visible(token_text(e.pieces[i]))}</code></td>'
            f'<td class="n c{bucket(e.bits[i])}">{e.bits[i]:.2f}</td><td>{predictor}</td>'
            f'<td class="n"><a href="#t{span_of[i].first}">{i}</a></td>'
            f"<td><code>{_visible(token_text(before.encode()))}</code><mark>{_visible(token_text(e.pieces[i]))}</mark></td></tr>"
        )
    out += ["</tbody>", "</table>"]
    return out


def _text(e: Explanation, spans: list[_Span]) -> str:
    parts = []
    for span in spans:
        bits = float(e.bits[span.first : span.last + 1].sum())
        attributes = f'id="t{span.first}" class="c{bucket(bits)}" title="{_visible(_title(e, span))}" data-bits="{bits:.3f}"'
        if e.predictors is not None:
            attributes += f' data-predictor="{_visible(e.predictors[span.first])}"'
        parts.append(f"<span {attributes}>{_visible(span.text)}</span>")
    return '<div class="text">' + "".join(parts) + "</div>"


def render_html(e: Explanation, *, top: int = 20) -> str:
    """The whole page, as a string (UTF-8 when written)."""
    spans = _spans(e.pieces)
    name = _visible(e.name or "input")
    legend = "".join(f'<span class="c{i}">{_bucket_label(i)}</span>' for i in range(len(BUCKETS) + 1))
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>nacrith explain: {name}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>Where the bits go: {name}</h1>",
        f'<p class="meta">Model {_visible(e.model)}; window {e.window} tokens, sliding to {e.keep}. '
        f"Each token's cost is the ideal code length -log2 p(token | context) under {'the ensemble nacrith codes with (the model alone, the LLM, is one of its predictors)' if e.predictors is not None else 'the model'} "
        "(an arithmetic coder spends within a fraction of a percent of it).</p>",
        *(f'<p class="note">{_visible(note)}</p>' for note in e.notes),
        '<section id="summary">',
        "<h2>Summary</h2>",
        *_summary(e),
        "<h3>By cost</h3>",
        *_buckets(e),
        "<h3>By predictor</h3>",
        *_predictors(e),
        f"<h3>The {min(top, len(e.tokens))} costliest tokens</h3>",
        *_costliest(e, spans, top),
        "</section>",
        '<section id="legend">',
        "<h2>Legend</h2>",
        f'<p class="legend">{legend}</p>',
        '<p class="meta">Hover over the text for each token\'s cost; a span holds several tokens only where a '
        "character's bytes are split between them.</p>",
        "</section>",
        '<section id="text">',
        "<h2>The text</h2>",
        _text(e, spans),
        "</section>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(lines)
