"""nacrith against the general-purpose compressors: one measured round trip per (file, compressor).

Every row is a real round trip, verified byte for byte; a row says ``verified`` only
when the decompressed bytes equal the input. A compressor whose library is missing gets
a row that says so. For nacrith, its rows also carry the model's own ideal code length
on the same bytes (the same window, no chunking) and the raw llama.cpp lockstep speed
measured in the same run, so a table shows how far the pipeline is from the model alone.

Timings are wall-clock seconds of one run each, on whatever else the machine is doing:
compare them within a run, never across machines. KB is 1000 bytes.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Iterable, Iterator

from .. import __version__
from ..engine import shared_engine
from ..errors import NacrithError
from ..transforms import crlf_to_lf
from . import baselines

__all__ = ["Source", "ModelLimits", "Row", "run", "machine", "machine_running_model"]


@dataclass(frozen=True)
class Source:
    """One input: its name in tables, where it came from, its bytes, and anything a reader must know."""

    name: str
    data: bytes
    path: str | None = None
    note: str = ""
    """E.g. that this is only a prefix of the benchmark file."""


@dataclass(frozen=True)
class ModelLimits:
    """What a nacrith row measures of the model alone besides the round trip: the benchmark's own settings,
    apart from the coder's options (the API's keywords), since no archive or coder ever sees them."""

    ideal: bool = True
    """Also compute the model's ideal code length (costs about one more pass of the model)."""
    ceiling: bool = True
    """Also measure the raw lockstep speed (a few seconds per lane shape)."""
    ceiling_steps: int = 256
    """Lockstep steps timed for the ceiling: enough for a steady rate; fewer only in tests."""


@dataclass
class Row:
    file: str
    compressor: str
    """The command line it stands for, e.g. ``xz -9e``; ``nacrith`` for ours."""
    key: str
    """The --only name."""
    original_bytes: int
    compressed_bytes: int | None = None
    bpb: float | None = None
    ratio: float | None = None
    compress_seconds: float | None = None
    decompress_seconds: float | None = None
    compress_kbps: float | None = None
    decompress_kbps: float | None = None
    verified: bool = False
    status: str = "ok"
    """ok, missing (library not importable) or failed (an error, or a round trip that changed the bytes)."""
    note: str = ""
    path: str | None = None
    nacrith: dict[str, Any] = field(default_factory=dict)
    """Only for nacrith: ideal_bpb, tokens, compress_tok_s, decompress_tok_s, ceiling_tok_s, lanes, lanes_used, window, model..."""
    run: dict[str, Any] = field(default_factory=dict)
    """The machine and software the run used (the same for every row of a run)."""

    def as_dict(self) -> dict[str, Any]:
        """The JSON object: the row's keys, nacrith's extras flattened in, and ``run``."""
        d = asdict(self)
        extras = d.pop("nacrith")
        d.update(extras)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Row":
        """The inverse of :meth:`as_dict`: keys that are not fields go back into ``nacrith``."""
        names = {f.name for f in fields(cls)} - {"nacrith"}
        return cls(**{k: v for k, v in d.items() if k in names}, nacrith={k: v for k, v in d.items() if k not in names})


def _timed(function: Any, data: bytes) -> tuple[bytes, float]:
    began = time.perf_counter()
    out = function(data)
    return out, time.perf_counter() - began


def _kbps(nbytes: int, seconds: float) -> float:
    return nbytes / 1000 / max(seconds, 1e-9)


def _sizes(row: Row, compressed: int, compress_seconds: float, decompress_seconds: float) -> None:
    n = row.original_bytes
    row.compressed_bytes = compressed
    row.bpb = 8 * compressed / n if n else None
    row.ratio = n / compressed if compressed else None
    row.compress_seconds, row.decompress_seconds = compress_seconds, decompress_seconds
    row.compress_kbps, row.decompress_kbps = _kbps(n, compress_seconds), _kbps(n, decompress_seconds)


def _baseline_row(source: Source, baseline: baselines.Baseline, bar: Any) -> Row:
    row = Row(source.name, baseline.label, baseline.key, len(source.data), path=source.path)
    codec = baselines.load(baseline)
    if isinstance(codec, str):
        row.status, row.note = "missing", codec
        return row
    compress, decompress = codec
    try:
        archive, compress_seconds = _timed(compress, source.data)
        bar.update(len(source.data))
        restored, decompress_seconds = _timed(decompress, archive)
        bar.update(len(source.data))
    except Exception as exc:  # a third-party library's error is this row's failure, not the run's
        row.status, row.note = "failed", f"{type(exc).__name__}: {exc}"
        return row
    _sizes(row, len(archive), compress_seconds, decompress_seconds)
    row.verified = restored == source.data
    if not row.verified:
        row.status, row.note = "failed", "the round trip changed the bytes"
    return row


def _nacrith_row(source: Source, coding: dict[str, Any], limits: ModelLimits, ceilings: dict[tuple[int, int], float], bar: Any) -> Row:
    from ..models.llm import build_id  # these load llama.cpp: only when nacrith is measured
    from .measure import measure
    from .model_limits import ideal_bits, lockstep_ceiling

    row = Row(source.name, "nacrith", "nacrith", len(source.data), path=source.path)
    threads = coding.get("threads")
    engine = shared_engine(coding.get("model"), threads)
    _ = engine.model  # load it now, so the first file's timing is not the model's loading
    try:
        m = measure(source.data, progress=lambda nbytes, tokens, bits: bar.update(nbytes), **coding)
    except (NacrithError, ValueError) as exc:
        row.status, row.note = "failed", str(exc)
        return row
    _sizes(row, m.compressed_bytes, m.compress_seconds, m.decompress_seconds)
    row.verified = m.verified
    if not row.verified:
        row.status, row.note = "failed", "the round trip changed the bytes"
    window, keep = m.params.window, m.params.slide_keep  # as coded: the API's defaults for what was not given
    extras: dict[str, Any] = dict(
        ideal_bpb=None,
        tokens=m.tokens,
        compress_tok_s=m.compress_tok_s,
        decompress_tok_s=m.decompress_tok_s,
        ceiling_tok_s=None,
        lanes=m.params.lanes,
        lanes_used=m.lanes,
        window=window,
        keep=keep,
        threads=threads or _usable_cores(),
        model=engine.path.name,
        model_fingerprint=engine.fingerprint.hex(),
        llama_build=build_id(),
        round_trip_rss_mib=m.round_trip_rss_mib,  # the process's peak when the round trip ended
    )
    if limits.ideal and m.tokens:
        # the token stream the pipeline codes (CRLF text as LF, nacrith.transforms), per original byte:
        # so the gap to the ideal is what chunking and coding cost, not what the transform won
        text = crlf_to_lf(source.data) or source.data
        tokens = engine.model.tokenize(text)
        if engine.model.detokenize(tokens) == text:
            bar.set_postfix_str("the model's ideal code length")
            extras["ideal_bpb"] = ideal_bits(engine.model, tokens, window, keep, threads) / len(source.data)
            if text is not source.data:
                extras["ideal_note"] = "ideal of the text with its CRLF line ends as LF, as nacrith codes it"
        else:  # partly binary: the model never sees those bytes, so a whole-file ideal would mean nothing
            extras["ideal_note"] = "no ideal: the tokenizer does not reproduce this file exactly (its non-text parts go to zstd)"
    if limits.ceiling and m.lanes:
        shape = (m.lanes, window)
        if shape not in ceilings:  # once per lane shape and run: a few seconds each
            bar.set_postfix_str(f"lockstep ceiling, {m.lanes} lanes")
            ceilings[shape] = lockstep_ceiling(engine.model, m.lanes, window, keep, limits.ceiling_steps, threads)
        extras["ceiling_tok_s"] = ceilings[shape]
    bar.set_postfix_str("")
    row.nacrith = extras
    return row


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def set_description_str(self, text: str) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass


def run(
    sources: Iterable[Source], compressors: list[str], *, limits: ModelLimits = ModelLimits(), bar: Any = None, **coding: Any
) -> Iterator[Row]:
    """A row per (source, compressor), in the order of ``compressors`` (keys from baselines.NAMES).

    ``coding``: nacrith's options, as :func:`nacrith.compress`'s keywords (``lanes``, ``window``,
    ``model``, ``threads``); its defaults for those not given. ``bar`` is a tqdm-like object
    (update, set_description_str, set_postfix_str) counting input bytes: each round trip
    advances it by twice the file's size.
    """
    bar = bar if bar is not None else _NoBar()
    info = machine_running_model(coding.get("threads")) if "nacrith" in compressors else machine()
    ceilings: dict[tuple[int, int], float] = {}
    by_key = {b.key: b for b in baselines.BASELINES}
    for source in sources:
        for key in compressors:
            bar.set_description_str(f"{source.name}: {key}")
            done = getattr(bar, "n", 0) + 2 * len(source.data)
            if key == "nacrith":
                row = _nacrith_row(source, coding, limits, ceilings, bar)
            else:
                row = _baseline_row(source, by_key[key], bar)
            if hasattr(bar, "n") and bar.n < done:
                bar.update(done - bar.n)  # whatever the callbacks did not report (a failure, a missing library)
            if source.note and not row.note:
                row.note = source.note
            row.run = info
            yield row


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _usable_cores() -> int:
    """The cores this process may run on: what llama.cpp uses when no thread count is given."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def machine() -> dict[str, Any]:
    """What a reader needs to weigh the timings: machine, load, software, date."""
    usable = _usable_cores()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return dict(
        platform=platform.platform(),
        cpu=_cpu_model(),
        cores=os.cpu_count(),
        usable_cores=usable,
        load_average=load,
        python=platform.python_version(),
        nacrith=__version__,
        llama_cpp_python=_version("llama_cpp_python"),
        zstandard=_version("zstandard"),
        brotli=_version("brotli"),
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )


def machine_running_model(threads: int | None) -> dict[str, Any]:
    """:func:`machine`, and the threads llama.cpp runs with (every usable core when None)."""
    info = machine()
    return {**info, "threads": threads or info["usable_cores"]}
