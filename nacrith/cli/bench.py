"""``nacrith bench``: options wired to :mod:`nacrith.bench.compare`; the measuring is done there."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

import click
from tqdm import tqdm

from ..atomic import write_atomically
from ..bench import baselines, corpora
from ..bench.compare import ModelLimits, Row, Source, machine_running_model, run
from ..bench.tables import render
from . import files
from .options import check_coding_options, lanes_option, model_options, window_option
from .report import Fatal, describe, interruptible, say

__all__ = ["bench_command"]


def _read(path: Path, limit: int | None) -> bytes:
    with open(path, "rb") as f:
        return f.read() if limit is None else f.read(limit)


def _sources(
    paths: tuple[str, ...], corpus_names: tuple[str, ...], limit: int | None, download: bool, note: Callable[[str], None]
) -> list[Source]:
    """The inputs, each read once (up to ``limit`` bytes); what a reader of the results must know goes to ``note``."""
    chosen: dict[Path, str] = {Path(p): "" for p in paths}
    for name in corpus_names:
        try:
            corpus = corpora.resolve(name, download=download)
        except corpora.CorpusError as exc:
            raise Fatal(f"--corpus {name}: {exc}") from None
        note(f"--corpus {name}: {corpus.note}" if corpus.note else f"--corpus {name}: {', '.join(map(str, corpus.files))}")
        for path in corpus.files:
            chosen.setdefault(path, corpus.file_notes.get(path, ""))
    sources = []
    for path, remark in chosen.items():
        try:
            data = _read(path, limit)
            if limit is not None and len(data) == limit and path.stat().st_size > limit:
                remark = f"first {limit:,} bytes" + (f"; {remark}" if remark else "")
        except OSError as exc:
            raise Fatal(describe(exc)) from None
        if remark:
            note(f"{path.name}: {remark}")
        sources.append(Source(path.name, data, str(path), remark))
    return sources


@click.command(name="bench")
@click.argument("file", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--corpus", multiple=True, type=click.Choice(corpora.NAMES), help="A named corpus (repeatable): canterbury, enwik8.")
@click.option("--limit", type=click.IntRange(min=1), metavar="BYTES", help="Use only the first BYTES of each file.")
@click.option("--only", metavar="LIST", help=f"Compressors to run, comma-separated: {', '.join(baselines.NAMES)}; zstd means both levels.")
@click.option("--no-nacrith", is_flag=True, help="Leave nacrith out: a quick table of the baselines.")
@lanes_option()
@window_option()
@model_options
@click.option("--no-ideal", is_flag=True, help="Skip the model's ideal code length (one more pass of the model per file).")
@click.option("--no-ceiling", is_flag=True, help="Skip the raw lockstep speed (a few seconds per lane shape).")
@click.option("--json", "json_path", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True), help="Write the rows as a JSON list ('-': stdout, the table then goes to stderr).")
@click.option("--plot", "plot_path", metavar="FILE.png", type=click.Path(dir_okay=False), help="Draw bits per byte as a bar chart (needs matplotlib: nacrith[plot]).")
@click.option("--no-download", is_flag=True, help="--corpus enwik8: fail rather than download it.")
@click.option("--ablation", is_flag=True, help="Instead: what each ensemble model is worth, every variant fed by one pass of the model.")
@click.option(
    "--scaling",
    is_flag=True,
    help="Instead: bits per byte and speed for lanes 1/4/8/16/32 by window 512/1024/2048, each FILE cut into one chunk per lane.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or notes.")
@interruptible
def bench_command(
    file: tuple[str, ...],
    corpus: tuple[str, ...],
    limit: int | None,
    only: str | None,
    no_nacrith: bool,
    lanes: int | None,
    window: int | None,
    model: str | None,
    threads: int,
    no_ideal: bool,
    no_ceiling: bool,
    json_path: str | None,
    plot_path: str | None,
    no_download: bool,
    ablation: bool,
    scaling: bool,
    quiet: bool,
) -> None:
    """Compare nacrith with gzip, bzip2, xz, zstd and brotli on FILE... or a named corpus.

    One row per file and compressor: sizes, bits per byte, ratio, compress and
    decompress speed in KB/s (1000 bytes), and whether the round trip gave back the
    same bytes (checked byte for byte). A compressor whose library is missing is listed
    as missing. nacrith's rows add the model's own ideal code length on the file and
    the raw llama.cpp speed measured in the same run. Exit status 1 when any round
    trip failed.

    \b
    Examples:
      nacrith bench notes.txt
      nacrith bench --corpus canterbury --json results.json --plot bpb.png
      nacrith bench --corpus enwik8 --limit 1000000 -T 2
      nacrith bench --no-nacrith --only zstd,xz big.log
      nacrith bench --ablation alice29.txt
      nacrith bench --scaling --limit 65536 --json scaling.json enwik8
    """
    try:
        keys = baselines.select(only)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if no_nacrith:
        keys = [k for k in keys if k != "nacrith"]
    if not keys:
        raise click.UsageError("no compressor left to run (--no-nacrith with --only nacrith)")
    if not file and not corpus:
        raise click.UsageError("give FILE... or --corpus NAME")
    if plot_path:
        from ..bench.plot import PlotUnavailable, require_matplotlib

        try:
            require_matplotlib()
        except PlotUnavailable as exc:
            raise Fatal(str(exc)) from None
    chosen = dict(lanes=lanes, window=window, model=model, threads=threads or None)
    coding = {key: value for key, value in chosen.items() if value is not None}  # the API's defaults for the rest
    if "nacrith" in keys:  # bad settings or a missing model fail once, before any file
        check_coding_options(**coding)
    sources = _sources(file, corpus, limit, not no_download, (lambda message: None) if quiet else say)
    if ablation:
        _ablation(sources, coding, json_path)
        return
    if scaling:
        _scaling(sources, coding, json_path, quiet)
        return
    show = not quiet and files.is_terminal("stderr")
    total = 2 * sum(len(s.data) for s in sources) * len(keys)
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, leave=False, dynamic_ncols=True, file=sys.stderr, disable=not show) as bar:
        rows = list(run(sources, keys, limits=ModelLimits(ideal=not no_ideal, ceiling=not no_ceiling), bar=bar, **coding))
    table_to_stderr = json_path == "-"
    click.echo(render(rows), err=table_to_stderr)
    if json_path:
        _write_json(rows, json_path)
    if plot_path:
        from ..bench.plot import bar_chart

        try:
            bar_chart(rows, plot_path)
        except OSError as exc:
            raise Fatal(describe(exc)) from None
    _exit_if_failed([f"{r.file}: {r.compressor}: {r.note}" for r in rows if r.status == "failed"])


def _ablation(sources: list[Source], coding: dict[str, Any], json_path: str | None) -> None:
    from ..bench.ablation import ablation, describe as describe_ablation
    from ..engine import shared_engine
    from ..options import Options

    engine = shared_engine(coding.get("model"), coding.get("threads"))
    options = Options(**{key: coding[key] for key in ("lanes", "window") if key in coding})
    run_info = machine_running_model(coding.get("threads"))
    out = []
    for source in sources:
        rows = ablation(engine, source.data, options)
        click.echo(describe_ablation(rows, source.name), err=json_path == "-")
        settings = {"lanes": options.lanes, "window": options.window, "model": engine.path.name, "run": run_info}
        out += [{"file": source.name, "kind": "ablation", **row.as_dict(), **settings} for row in rows]
    if json_path:
        _write_json(out, json_path)


def _scaling(sources: list[Source], coding: dict[str, Any], json_path: str | None, quiet: bool) -> None:
    from ..bench.scaling import ScalingPoint, render_scaling, scaling

    out: list[dict] = []
    failed = []
    run_info = machine_running_model(coding.get("threads"))
    for source in sources:
        def done(p: ScalingPoint, name: str = source.name) -> None:
            if not quiet:
                say(f"{name}: lanes {p.lanes}, window {p.window}: {p.bpb:.4f} bpb, "
                    f"{p.compress_tok_s:.1f} / {p.decompress_tok_s:.1f} tok/s, ceiling {p.ceiling_tok_s:.1f}")
            out.append({"file": name, "kind": "scaling", **p.as_dict(), "run": run_info})
            if json_path and json_path != "-":
                _write_json(out, json_path)  # an hour-long run stopped midway keeps the points it measured

        points = scaling(source.data, model=coding.get("model"), threads=coding.get("threads"), done=done)
        click.echo(render_scaling(points, source.name), err=json_path == "-")
        failed += [f"{source.name}: lanes {p.lanes}, window {p.window}: the round trip changed the bytes" for p in points if not p.verified]
    if json_path:
        _write_json(out, json_path)
    _exit_if_failed(failed)


def _exit_if_failed(failures: list[str]) -> None:
    """Each failure on stderr, then exit status 1 if there was any: a round trip that changed the bytes fails the run."""
    for message in failures:
        say(message)
    if failures:
        raise click.exceptions.Exit(1)


def _write_json(rows: list[Row] | list[dict], path: str) -> None:
    text = json.dumps([r if isinstance(r, dict) else r.as_dict() for r in rows], indent=2) + "\n"
    if path == "-":
        click.echo(text, nl=False)
        return
    try:
        write_atomically(path, text.encode("utf-8"))  # rewritten after every --scaling point: a kill mid-write must not lose the rest
    except OSError as exc:
        raise Fatal(describe(exc)) from None
