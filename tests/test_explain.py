"""``nacrith explain``: per-token costs, and the HTML page: well-formed, escaped, complete.

The page is checked by parsing it with html.parser. Most tests build an Explanation by
hand (no model); two run the model on a tiny text with ``-T 1`` and a small window.
"""

from __future__ import annotations

import html.parser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nacrith.explain.costs import Explanation
from nacrith.explain.page import BUCKETS, bucket, render_html
from nacrith.neural.sequence import token_bits
from nacrith.cli import cli
from nacrith.engine import shared_engine

VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}

HOSTILE = b'Say <script>alert("x")</script> & \xe2\x82\xac5 \x00 \'done\'.\n'
"""Markup, an ampersand, quotes, a NUL, and a Euro sign whose three bytes two tokens share."""


class Page(html.parser.HTMLParser):
    """Checks nesting as it parses; collects the tags, and the attributes and text of the coloured spans."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, str]] = []
        """(tag, class) of every element not yet closed."""
        self.tags: list[str] = []
        self.spans: list[dict[str, str | None]] = []
        self.text_parts: list[str] = []
        self.doctype = ""
        self.errors: list[str] = []

    def _in_text(self) -> bool:
        return any(cls == "text" for _, cls in self.open)

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in VOID:
            return
        if tag == "span" and self._in_text():
            self.spans.append(dict(attrs))
        self.open.append((tag, dict(attrs).get("class") or ""))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1][0] != tag:
            self.errors.append(f"</{tag}> closes {self.open[-1][0] if self.open else 'nothing'}")
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if self._in_text() and self.open[-1][0] == "span":
            self.text_parts.append(data)


def parse(page: str) -> Page:
    parsed = Page()
    parsed.feed(page)
    parsed.close()
    assert parsed.errors == [] and parsed.open == [], (parsed.errors, parsed.open)
    assert parsed.doctype.lower() == "doctype html"
    for tag in ("html", "head", "title", "style", "body"):
        assert parsed.tags.count(tag) == 1, tag
    return parsed


def hand_made(predictors: list[str] | None = None) -> Explanation:
    pieces = [b"Say", b" <", b"script", b'>alert("x")</', b"script", b">", b" &", b" \xe2\x82", b"\xac", b"5", b" \x00", b" 'done'.\n"]
    bits = np.array([9.0, 3.0, 0.2, 6.0, 0.1, 0.05, 4.0, 12.0, 1.5, 2.5, 18.0, 0.7])
    return Explanation("hostile <name>.txt", b"".join(pieces), list(range(100, 112)), pieces, bits, 64, 48, "m.gguf [ab]", predictors)


def test_page_is_well_formed_and_escaped() -> None:
    e = hand_made()
    assert e.data == HOSTILE
    page = render_html(e)
    parsed = parse(page)
    assert "script" not in parsed.tags  # the text's <script> is text, not markup
    assert "".join(parsed.text_parts) == HOSTILE.decode().replace("\x00", "\u2400")
    assert "&lt;script&gt;" in page and "<script" not in page
    assert "hostile &lt;name&gt;.txt" in page


def test_spans_colours_and_tooltips() -> None:
    e = hand_made()
    spans = parse(render_html(e)).spans
    assert len(spans) == 11  # the Euro sign's two tokens share one span
    euro = next(s for s in spans if s["id"] == "t7")
    assert euro["data-bits"] == "13.500" and euro["class"] == "c5"
    assert "token 7" in (euro["title"] or "") and "token 8" in (euro["title"] or "")
    first = spans[0]
    assert first["class"] == f"c{bucket(9.0)}" and (first["title"] or "").startswith("9.00 bits: token 0 (id 100)")
    assert all("data-predictor" not in s for s in spans)
    assert [bucket(b) for b in (0.0, 0.5, 1.9, 2.0, 15.9, 16.0, 99.0)] == [0, 1, 2, 3, 5, 6, 6]
    assert len(BUCKETS) + 1 == 7


def test_summary_numbers() -> None:
    e = hand_made()
    page = render_html(e, top=3)
    assert e.total_bits == pytest.approx(57.05)
    assert e.bits_per_byte == pytest.approx(57.05 / len(HOSTILE))
    assert e.top_share(0.10) == pytest.approx(18.0 / 57.05)  # 10% of 12 tokens: the costliest one
    assert e.costliest(3) == [10, 7, 0]
    assert f"{100 * 18.0 / 57.05:.1f}%" in page
    assert "The 3 costliest tokens" in page and 'href="#t7"' in page
    assert "the language model alone" in page  # the predictor section, before there is an ensemble


def test_predictor_hook() -> None:
    e = hand_made(["llm"] * 10 + ["ngram", "ngram"])
    assert e.by_predictor() == {"llm": (10, pytest.approx(38.35)), "ngram": (2, pytest.approx(18.7))}
    parsed = parse(render_html(e))
    assert [s["data-predictor"] for s in parsed.spans][-2:] == ["ngram", "ngram"]
    assert "predicted by ngram" in (parsed.spans[-1]["title"] or "")
    with pytest.raises(ValueError, match="one entry per token"):
        hand_made(["llm"])


def test_token_bits_add_up_to_the_ideal_code_length() -> None:
    from nacrith.bench.model_limits import ideal_bits

    model = shared_engine(None, 1).model
    tokens = model.tokenize(HOSTILE * 2)[:-1]
    assert len(tokens) % 8 != 0  # a last block shorter than the others
    costs = token_bits(model, tokens, 32, 24, threads=1)
    assert costs.shape == (len(tokens),) and (costs >= 0).all()
    assert costs.sum() == pytest.approx(ideal_bits(model, tokens, 32, 24, threads=1), rel=1e-9)


def test_explain_with_the_ensemble_names_the_predictor_of_every_token() -> None:
    """A text said three times: the ensemble pays less than the model alone, and the repeats are won
    by its n-gram or match model; the model alone's column is its plain quantization."""
    from nacrith.explain import explain

    text = b"The Owl and the Pussy-cat went to sea in a beautiful pea-green boat. " * 3
    e = explain(text, window=64, threads=1)
    alone = explain(text, window=64, threads=1, ensemble=None)
    assert e.predictors is not None and e.model_bits is not None and alone.predictors is None
    assert len(e.predictors) == len(e.tokens) == len(alone.tokens)
    names = set(e.predictors)
    assert "LLM" in names and names - {"LLM"} and all(n in ("LLM", "match") or n.startswith("n-gram order ") for n in names)
    third = len(e.tokens) // 3
    assert sum(n != "LLM" for n in e.predictors[-third:]) > sum(n != "LLM" for n in e.predictors[:third])
    assert e.total_bits < float(e.model_bits.sum())
    # the plain quantization costs what the float64 softmax does, but for its rounding
    assert float(e.model_bits.sum()) == pytest.approx(alone.total_bits, rel=0.01)
    assert e.model_bits_per_byte == pytest.approx(float(e.model_bits.sum()) / len(text))
    assert "the language model alone" in render_html(e)


def test_explain_command_writes_the_page(tmp_path: Path) -> None:
    source = tmp_path / "hostile.txt"
    source.write_bytes(HOSTILE)
    target = tmp_path / "out.html"
    result = CliRunner().invoke(cli, ["explain", "-T", "1", "--window", "64", "--top", "5", str(source), "--html", str(target)])
    assert result.exit_code == 0, result.output
    assert "bits per byte" in result.stdout and "costliest tokens" in result.stdout
    assert "the language model alone:" in result.stdout and "won by: " in result.stdout
    assert f"wrote {target}" in result.stderr
    plain = CliRunner().invoke(cli, ["explain", "-T", "1", "--window", "64", "--no-ensemble", str(source)])
    assert plain.exit_code == 0 and "won by" not in plain.stdout and "language model alone" not in plain.stdout
    parsed = parse(target.read_text(encoding="utf-8"))
    assert "script" not in parsed.tags
    assert "".join(parsed.text_parts) == HOSTILE.decode().replace("\x00", "\u2400")
    assert all(float(s["data-bits"] or "nan") >= 0 for s in parsed.spans)
    bad = CliRunner().invoke(cli, ["explain", "-T", "1", "--window", "8", str(source)])
    assert bad.exit_code == 2 and "window" in bad.output
