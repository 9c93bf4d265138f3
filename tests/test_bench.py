"""``nacrith bench``: every compressor's round trip, the table and JSON, missing compressors, corpora, the Markdown tables.

Inputs are about a hundred bytes; nacrith runs with ``-T 1 --window 64`` (one thread:
llama.cpp's spinning threads slow down badly when the two cores are shared). Only one
test pays for the model's ideal code length and the lockstep ceiling, on a tiny input.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from nacrith.atomic import sha256_file
from nacrith.bench import baselines, corpora, enwik8
from nacrith.bench.compare import ModelLimits, Row, Source, run
from nacrith.bench.tables import render
from nacrith.cli import cli
from nacrith.constants import DEFAULT_LANES
from nacrith.engine import shared_engine
from nacrith.options import Options

REPO = Path(__file__).resolve().parent.parent

TEXT = (
    b"Alice was beginning to get very tired of sitting by her sister on the bank, "
    b"and of having nothing to do.\n"
)

REQUIRED_KEYS = {"file", "compressor", "original_bytes", "compressed_bytes", "bpb", "compress_kbps", "decompress_kbps", "verified"}
NACRITH_KEYS = {"ideal_bpb", "tokens", "compress_tok_s", "decompress_tok_s", "ceiling_tok_s", "lanes", "window", "model", "round_trip_rss_mib"}


def bench(*args: str) -> Result:
    result = CliRunner().invoke(cli, ["bench", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "alice.txt"
    path.write_bytes(TEXT)
    return path


def brotli_available() -> bool:
    return importlib.util.find_spec("brotli") is not None


def test_every_compressor_round_trips_table_and_json(text_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    result = bench("-T", "1", "--window", "64", "--no-ideal", "--no-ceiling", str(text_file), "--json", str(out))
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    assert [r["key"] for r in rows] == list(baselines.NAMES)
    for row in rows:
        assert REQUIRED_KEYS <= row.keys()
        assert row["file"] == "alice.txt" and row["original_bytes"] == len(TEXT)
        if row["key"] == "brotli" and not brotli_available():
            assert row["status"] == "missing" and row["verified"] is False and row["compressed_bytes"] is None
            continue
        assert row["status"] == "ok" and row["verified"] is True, row
        assert row["bpb"] == pytest.approx(8 * row["compressed_bytes"] / len(TEXT))
        assert row["compress_kbps"] > 0 and row["decompress_kbps"] > 0
        assert row["run"]["cores"] >= 1 and row["run"]["platform"]
    ours = rows[0]
    assert NACRITH_KEYS <= ours.keys()
    assert (ours["window"], ours["threads"], ours["ideal_bpb"], ours["ceiling_tok_s"]) == (64, 1, None, None)
    assert ours["tokens"] > 0 and ours["model"].endswith(".gguf")
    assert not NACRITH_KEYS & rows[1].keys()  # nacrith's extras only on its rows
    for label in ("nacrith", "gzip -9", "bzip2 -9", "xz -9e", "zstd -19", "zstd --ultra -22", "brotli"):
        assert label in result.stdout
    assert "yes" in result.stdout


def test_ideal_and_ceiling_on_a_tiny_input() -> None:
    rows = list(run([Source("tiny.txt", TEXT)], ["nacrith"], limits=ModelLimits(ceiling_steps=16), window=32, threads=1))
    [row] = rows
    assert row.verified and row.status == "ok"
    x = row.nacrith
    assert (x["lanes"], x["lanes_used"], x["window"], x["keep"], x["threads"]) == (DEFAULT_LANES, 1, 32, 24, 1)  # as the archive stores them
    assert 0 < x["ideal_bpb"] < row.bpb  # the container's overhead dominates so tiny an input
    assert x["ceiling_tok_s"] > 0 and x["compress_tok_s"] > 0
    text = render(rows)
    assert "ideal bpb" in text and "ceiling tok/s" in text and "(1 lane)" in text
    again = Row.from_dict(json.loads(json.dumps(row.as_dict())))
    assert again == row


def test_nacrith_under_its_ideal_is_shown_as_a_saving() -> None:
    """The ensemble can beat the model's own cross-entropy: the gap is signed, not "+-4.5%"."""
    row = Row("e.txt", "nacrith", "nacrith", 1000, 119, 0.95, 8.4, 1.0, 1.0, 1.0, 1.0, True,
              nacrith=dict(ideal_bpb=1.0, tokens=286, compress_tok_s=112.0, decompress_tok_s=110.0, ceiling_tok_s=120.0,
                           lanes=8, lanes_used=8, window=1024, keep=768, threads=2, model="m.gguf", model_fingerprint="ab"))
    text = render([row])
    assert "-5.0%" in text and "+-" not in text
    assert "93%" in text and "92%" in text  # compress and decompress against the ceiling


def test_missing_compressor_is_listed_as_missing(text_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zstandard", None)  # import zstandard now raises ImportError
    out = tmp_path / "rows.json"
    result = bench("--no-nacrith", str(text_file), "--json", str(out))
    assert result.exit_code == 0, result.output
    rows = {r["key"]: r for r in json.loads(out.read_text())}
    for key in ("zstd-19", "zstd-22"):
        assert rows[key]["status"] == "missing" and rows[key]["verified"] is False
        assert "zstandard" in rows[key]["note"]
    assert rows["gzip"]["verified"] is True
    missing_lines = [line for line in result.stdout.splitlines() if "zstd" in line]
    assert len(missing_lines) == 2 and all("missing" in line and "pip install zstandard" in line for line in missing_lines)


def test_brotli_when_importable(text_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("brotli")  # stands in for the optional extra, with the same calls
    fake.compress = lambda data, quality, lgwin: zlib.compress(data, 9)  # type: ignore[attr-defined]
    fake.decompress = zlib.decompress  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "brotli", fake)
    out = tmp_path / "rows.json"
    assert bench("--only", "brotli", str(text_file), "--json", str(out)).exit_code == 0
    [row] = json.loads(out.read_text())
    assert (row["compressor"], row["verified"]) == ("brotli -q 11 -w 24", True)


def test_only_selects_and_rejects(text_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    assert bench("--only", "zstd,xz", str(text_file), "--json", str(out)).exit_code == 0
    assert [r["key"] for r in json.loads(out.read_text())] == ["xz", "zstd-19", "zstd-22"]
    result = bench("--only", "zip", str(text_file))
    assert result.exit_code == 2 and "unknown compressor 'zip'" in result.output
    assert bench("--no-nacrith", "--only", "nacrith", str(text_file)).exit_code == 2
    assert bench("--no-nacrith").exit_code == 2  # no input


def test_a_changed_round_trip_fails_the_run(text_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(gzip: types.ModuleType) -> tuple:
        return (lambda data: gzip.compress(data)), (lambda archive: gzip.decompress(archive)[:-1])

    patched = tuple(b if b.key != "gzip" else baselines.Baseline(b.key, b.label, b.module, b.install, broken) for b in baselines.BASELINES)
    monkeypatch.setattr(baselines, "BASELINES", patched)
    out = tmp_path / "rows.json"
    result = bench("--only", "gzip,bzip2", str(text_file), "--json", str(out))
    assert result.exit_code == 1
    rows = {r["key"]: r for r in json.loads(out.read_text())}
    assert rows["gzip"]["verified"] is False and rows["gzip"]["status"] == "failed"
    assert rows["bzip2"]["verified"] is True
    assert "gzip -9: the round trip changed the bytes" in result.stderr


def test_plot_without_matplotlib_says_so(text_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = bench("--no-nacrith", str(text_file), "--plot", str(tmp_path / "bpb.png"))
    assert result.exit_code == 1
    assert "matplotlib" in result.stderr and "nacrith[plot]" in result.stderr
    assert not (tmp_path / "bpb.png").exists()


def test_plot_draws_a_png(text_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "bpb.png"
    assert bench("--no-nacrith", str(text_file), "--plot", str(target)).exit_code == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_progress_bar_when_stderr_is_a_terminal(text_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nacrith.cli.files.is_terminal", lambda stream: True)
    result = bench("--only", "gzip", str(text_file))
    assert result.exit_code == 0 and "alice.txt: gzip" in result.stderr


def test_corpus_canterbury_full_set_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "corpora" / "canterbury"
    folder.mkdir(parents=True)
    for name in ("alice29.txt", "fields.c", "kennedy.xls"):
        (folder / name).write_bytes(TEXT + name.encode())
    monkeypatch.setenv(corpora.CORPORA_ENV, str(tmp_path / "corpora"))
    out = tmp_path / "rows.json"
    result = bench("--corpus", "canterbury", "--only", "gzip", "--json", str(out))
    assert result.exit_code == 0, result.output
    assert [r["file"] for r in json.loads(out.read_text())] == ["alice29.txt", "fields.c", "kennedy.xls"]
    assert "3 files" in result.stderr


def test_corpus_canterbury_packaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(corpora.CORPORA_ENV, raising=False)
    out = tmp_path / "rows.json"
    result = bench("--corpus", "canterbury", "--only", "gzip", "--limit", "500", "--json", str(out))
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    assert [r["file"] for r in rows] == list(corpora.PACKAGED_CANTERBURY)
    assert all(r["original_bytes"] == 500 and r["note"] == "first 500 bytes" for r in rows)
    assert "the 4 Canterbury texts packaged in" in result.stderr


def test_packaged_texts_match_their_checksums() -> None:
    listed = dict(line.split()[::-1] for line in (corpora.PACKAGED / "SHA256SUMS").read_text().splitlines())
    assert sorted(listed) == sorted(corpora.PACKAGED_CANTERBURY)
    assert {name: sha256_file(corpora.PACKAGED / name) for name in listed} == listed


def test_corpus_enwik8_prefix_is_said_to_be_a_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = tmp_path / "enwik8" / enwik8.PREFIX_NAME
    prefix.parent.mkdir()
    prefix.write_bytes(TEXT * 3)
    monkeypatch.setenv(corpora.CORPORA_ENV, str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(enwik8, "PREFIX_BYTES", len(TEXT) * 3)
    monkeypatch.setattr(enwik8, "PREFIX_SHA256", sha256_file(prefix))
    out = tmp_path / "rows.json"
    result = bench("--corpus", "enwik8", "--no-download", "--limit", "100", "--only", "gzip", "--json", str(out))
    assert result.exit_code == 0, result.output
    [row] = json.loads(out.read_text())
    assert row["file"] == enwik8.PREFIX_NAME and row["original_bytes"] == 100
    assert "not the full" in row["note"] and "not the full" in result.stderr


def test_corpus_enwik8_absent_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(corpora.CORPORA_ENV, str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    result = bench("--corpus", "enwik8", "--no-download", "--only", "gzip")
    assert result.exit_code == 1
    assert "enwik8 not found" in result.stderr and str(tmp_path / "cache" / "nacrith" / "corpora" / "enwik8") in result.stderr


def load_benchmarks_md() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("benchmarks_md", REPO / "scripts" / "benchmarks_md.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmarks_md_tables(text_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        Row("alice.txt", "nacrith", "nacrith", 1000, 150, 1.2, 6.67, 1.0, 1.0, 1.0, 1.0, True,
            nacrith=dict(ideal_bpb=1.1, tokens=250, compress_tok_s=250.0, decompress_tok_s=240.0, ceiling_tok_s=500.0,
                         lanes=8, lanes_used=1, window=2048, keep=1536, threads=2, model="m.gguf", model_fingerprint="ab")),
        Row("alice.txt", "xz -9e", "xz", 1000, 400, 3.2, 2.5, 0.01, 0.001, 100.0, 1000.0, True),
        Row("alice.txt", "brotli -q 11 -w 24", "brotli", 1000, status="missing", note="no module 'brotli'"),
        Row("alice.txt", "gzip -9", "gzip", 1000, 500, 4.0, 2.0, 0.01, 0.001, 100.0, 1000.0, False, status="failed", note="the round trip changed the bytes"),
    ]
    for row in rows:
        row.run = {"platform": "Linux-test", "cpu": "Test CPU", "cores": 2, "usable_cores": 2, "python": "3.11", "date": "2026-01-01"}
    results = tmp_path / "results.json"
    results.write_text(json.dumps([r.as_dict() for r in rows]))
    module = load_benchmarks_md()
    assert module.main([str(results)]) == 0
    md = capsys.readouterr().out
    assert "| file | bytes | nacrith | model's ideal | xz -9e | brotli -q 11 -w 24 | gzip -9 |" in md
    assert "| alice.txt | 1,000 | **1.200** | 1.100 | 3.200 | missing | failed |" in md
    assert "Test CPU (2 cores" in md and "Linux-test" in md
    assert "m.gguf (fingerprint ab): lanes 8, window 2048 tokens sliding to 1536" in md
    assert "| alice.txt | 250 | 1.200 | 1.100 | +9.1% | 250 | 240 | 500 (1 lane) | 50% | 48% | – |" in md
    assert "gzip -9: failed (the round trip changed the bytes)" in md
    # And from a real run's JSON:
    out = tmp_path / "real.json"
    assert bench("--no-nacrith", str(text_file), "--json", str(out)).exit_code == 0
    assert module.main([str(out)]) == 0
    assert f"| alice.txt | {len(TEXT):,} |" in capsys.readouterr().out


def test_ablation_charges_each_variant_its_own_code_length(english: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """One model pass feeds every variant; the LLM alone codes the encoder's tokens, and costs what its archive's payloads do."""
    import nacrith
    from nacrith.bench.ablation import ablation, describe

    engine = shared_engine()
    stepped: list[int] = []  # lanes fed per llama.cpp call, over the whole ablation

    class CountingEvaluator:
        def __init__(self, inner: object) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> object:
            return getattr(self._inner, name)

        def step(self, lanes: list[int], tokens: list[int], positions: list[int]) -> object:
            stepped.append(len(lanes))
            return self._inner.step(lanes, tokens, positions)  # type: ignore[attr-defined]

    evaluator = engine.evaluator
    monkeypatch.setattr(engine, "evaluator", lambda lanes, window: CountingEvaluator(evaluator(lanes, window)))
    text = english * 2
    assert b"\r\n" in text  # so there is a second pass, with the CRLFs kept
    rows = ablation(engine, text, Options(lanes=2, window=64))
    names = [r.variant for r in rows]
    assert names[:2] == ["LLM alone, CRLF kept", "default, CRLF kept"] and "LLM alone" in names
    assert {"+ bias, n-gram, match (default)", "default, mixer with one weight set", "default, mixer weights not learned"} <= set(names)
    alone, kept = next(r for r in rows if r.variant == "LLM alone"), rows[0]
    # each token evaluated once per pass, however many variants the pass feeds (10 here)
    assert sum(stepped) == alone.tokens + kept.tokens
    assert all(r.tokens == alone.tokens for r in rows[2:]) and rows[1].tokens == kept.tokens
    coded: list[int] = []
    archive = nacrith.compress(text, lanes=2, window=64, ensemble=False, progress=lambda nbytes, tokens, bits: coded.append(tokens))
    chunks = [c for c in nacrith.inspect(archive).frames[0].chunks if c.neural]
    assert alone.tokens == sum(coded)  # the tokens the encoder codes
    payload = sum(c.payload_size for c in chunks)
    assert abs(8 * payload - alone.bits) < 0.01 * alone.bits + 16 * len(chunks)  # the coder's finish: a few bytes per chunk
    full = next(r for r in rows if r.variant.endswith("(default)"))
    assert full.bits < alone.bits  # the text repeats: the n-gram and match models see it
    assert kept.bits > alone.bits  # the model knows LF text better: why nacrith codes CRLF text as LF
    # taking the mixer apart changes what the same models cost
    assert len({round(r.bits, 6) for r in rows if r.variant.startswith("default, mixer")} | {round(full.bits, 6)}) == 3
    assert "LLM alone" in describe(rows, "english")


def test_bench_ablation_command(text_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "ablation.json"
    result = CliRunner().invoke(cli, ["bench", "--ablation", "--window", "64", "--lanes", "2", "--json", str(out), str(text_file)])
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    assert {r["variant"] for r in rows} >= {"LLM alone", "+ bias head"}
    assert all(r["file"] == text_file.name and r["bpb"] > 0 for r in rows)
    assert all(r["kind"] == "ablation" and r["lanes"] == 2 and r["window"] == 64 and r["run"]["cores"] for r in rows)
    module = load_benchmarks_md()
    table = module.render_ablation(rows)
    alone = next(r for r in rows if r["variant"] == "LLM alone")
    bias = next(r for r in rows if r["variant"] == "+ bias head")
    assert f"| + bias head | {bias['bpb']:.4f} | {100 * (bias['bits'] / alone['bits'] - 1):+.2f}% |" in table
    assert f"{alone['tokens']:,} tokens" in table


def test_ideal_of_crlf_text_is_of_the_lf_stream_nacrith_codes() -> None:
    """The gap to the ideal shows what chunking and coding cost, not what the CRLF transform won."""
    from nacrith.bench.model_limits import ideal_bits

    crlf = TEXT.replace(b"\n", b"\r\n")
    [row] = list(run([Source("crlf.txt", crlf)], ["nacrith"], limits=ModelLimits(ceiling=False), window=32, threads=1))
    model = shared_engine(None, 1).model
    lf_ideal = ideal_bits(model, model.tokenize(TEXT), 32, 24, 1) / len(crlf)
    assert row.nacrith["ideal_bpb"] == pytest.approx(lf_ideal)
    assert "as LF" in row.nacrith["ideal_note"]


def test_scaling_codes_one_chunk_per_lane_and_checks_every_round_trip(english: bytes) -> None:
    from nacrith.bench.scaling import render_scaling, scaling

    data = english[:1500]
    points = scaling(data, lanes=(1, 3), windows=(32, 64), threads=1, ceiling_steps=8)
    assert [(p.lanes, p.window) for p in points] == [(1, 32), (3, 32), (1, 64), (3, 64)]
    assert all(p.verified and p.original_bytes == len(data) and p.tokens > 0 and p.ceiling_tok_s > 0 for p in points)
    by = {(p.lanes, p.window): p for p in points}
    # three cold starts cost bits over one: the trade the table exists to show
    assert by[1, 64].bpb < by[3, 64].bpb
    text = render_scaling(points, "english")
    assert "window 32" in text and "window 64" in text and f"{by[3, 64].bpb:.3f} bpb" in text


def test_bench_scaling_command(text_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nacrith.bench import scaling

    monkeypatch.setattr(scaling, "LANES", (1, 2))
    monkeypatch.setattr(scaling, "WINDOWS", (32,))
    out = tmp_path / "scaling.json"
    text_file.write_bytes(TEXT * 4)
    result = bench("--scaling", "-T", "1", "--json", str(out), str(text_file))
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    assert [(r["lanes"], r["window"]) for r in rows] == [(1, 32), (2, 32)]
    assert all(r["kind"] == "scaling" and r["verified"] and r["bpb"] > 0 and r["run"]["cores"] for r in rows)
    assert "lanes" in result.output and "window 32" in result.output


def test_benchmarks_md_updates_the_tables_between_the_markers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = load_benchmarks_md()
    rows = [Row("alice.txt", "xz -9e", "xz", 1000, 400, 3.2, 2.5, 0.01, 0.001, 100.0, 1000.0, True).as_dict()]
    scaling = [
        {"file": "e8", "kind": "scaling", "lanes": lanes, "window": 512, "original_bytes": 65536, "bpb": bpb, "verified": True,
         "compress_tok_s": 150.0, "decompress_tok_s": 140.0, "ceiling_tok_s": 160.0, "run": {"cpu": "Test CPU", "threads": 2}}
        for lanes, bpb in ((1, 1.0), (4, 1.1))
    ]
    results = tmp_path / "results.json"
    results.write_text(json.dumps(rows + scaling))
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text(f"# Benchmarks\n\nprose before\n\n{module.BEGIN}\nold tables\n{module.END}\n\nprose after\n")
    assert module.main(["--update", str(doc), str(results)]) == 0
    once = doc.read_text()
    assert "old tables" not in once and "prose before" in once and once.endswith("prose after\n")
    assert "| alice.txt | 1,000 | **3.200** |" in once
    assert "| 4 | 1.100 · 150 / 140 · 160 |" in once and "e8, 65,536 bytes, one chunk per lane" in once
    assert module.main(["--update", str(doc), str(results)]) == 0
    assert doc.read_text() == once  # regenerating is idempotent
    doc.write_text("# no markers\n")
    assert module.main(["--update", str(doc), str(results)]) == 1
    assert "expected one line" in capsys.readouterr().err


def test_benchmarks_md_names_the_run_of_each_row_and_leaves_stored_files_out_of_the_model_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = load_benchmarks_md()
    def nacrith_row(name: str, tokens: int, run: dict) -> dict:
        return {"file": name, "compressor": "nacrith", "key": "nacrith", "original_bytes": 1000, "compressed_bytes": 150, "bpb": 1.2,
                "verified": True, "status": "ok", "tokens": tokens, "compress_tok_s": 50.0 if tokens else 0.0,
                "decompress_tok_s": 50.0 if tokens else 0.0, "ceiling_tok_s": 60.0 if tokens else None, "lanes": 8, "lanes_used": 1,
                "window": 1024, "model": "m.gguf", "run": run}
    old, new = {"cpu": "Old CPU", "date": "2026-01-01"}, {"cpu": "New CPU", "date": "2026-02-01"}
    results = tmp_path / "results.json"
    results.write_text(json.dumps([nacrith_row("a.txt", 250, new), nacrith_row("table.xls", 0, new), nacrith_row("e8", 300, old)]))
    assert module.main([str(results)]) == 0
    md = capsys.readouterr().out
    assert "**Machine (run 1)**" in md and "**Machine (run 2)**" in md
    assert "| a.txt (run 1) | 1,000 | **1.200** |" in md and "| e8 (run 2) | 300 |" in md
    model_table = md.split("### nacrith against its model alone")[1]
    assert "table.xls" not in model_table.split("Notes:")[0]
    assert "- table.xls: no text the model could code; nacrith stored it with zstd" in md
