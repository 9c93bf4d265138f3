"""Small inputs and dictionaries (BENCHMARKS.md, "Small inputs and dictionaries"): bibliography records
coded one archive each, with and without a trained dictionary, beside gzip, xz and zstd.

    python scripts/small_inputs.py train OUT_DIR [--samples N]     # the dictionaries (nacrith's, zstd's)
    python scripts/small_inputs.py measure OUT_DIR [--records M]   # every record, every compressor
    python scripts/small_inputs.py render OUT_DIR                  # the markdown table of OUT_DIR/*.json

``train`` and ``measure`` load the model once each; run them with nacrith importable (installed,
or PYTHONPATH=.) and under the model lock (flock /tmp/nacrith-model.lock ...). The family is
:mod:`nacrith.bench.records`: records 0 to N-1 to train on (nacrith's dictionary and zstd's alike),
records 200 to 200+M-1 to measure, so the two never overlap while N <= 200. Three nacrith
settings, all at the default options:

- no dictionary;
- the primer alone: the trained dictionary's primer, without its ensemble state (the ensemble
  starts from empty tables, as without a dictionary);
- the trained dictionary: the primer and the ensemble state (bias, mixer, the samples replayed
  into the n-gram and match tables).

Every nacrith archive is decoded and compared with its record; one that does not round-trip
stops the run. ``measure`` keeps each record's figures in OUT_DIR/measure.partial.json as it goes,
and a run that was stopped goes on from there.
"""

from __future__ import annotations

import argparse
import gzip
import json
import lzma
import platform
import statistics
import time
from pathlib import Path

import zstandard

import nacrith
from nacrith.bench.records import records
from nacrith.dictionary import DictionaryContent, read_dictionary, write_dictionary
from nacrith.dictionary.train import learn

MEASURED_FROM = 200
"""The first record measured: records below it are the training pool."""
ZSTD_DICT_BYTES = 112640
"""zstd --train's default largest dictionary (110 KiB); the samples hold less, so zstd keeps what it finds."""
SETTINGS = ("no dictionary", "primer alone", "primer and ensemble state")


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def xz(data: bytes) -> int:
    return len(lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=9 | lzma.PRESET_EXTREME))


def zstd(data: bytes, dictionary: zstandard.ZstdCompressionDict | None = None) -> int:
    """As the zstd tool writes a frame: a checksum, the content size, and with a dictionary its ID."""
    c = zstandard.ZstdCompressor(level=19, write_checksum=True, write_content_size=True, dict_data=dictionary)
    return len(c.compress(data))


def part_train(out: Path, samples: int) -> dict:
    training_set = records(samples)
    notes: list[str] = []
    began = time.perf_counter()
    training = learn(training_set, report=notes.append)
    seconds = time.perf_counter() - began
    (out / "records.nacrd").write_bytes(training.data)
    full = read_dictionary(training.data)
    primer_alone = write_dictionary(DictionaryContent(full.fingerprint, full.vocab_size, full.primer))
    (out / "records-primer.nacrd").write_bytes(primer_alone)
    z = zstandard.train_dictionary(ZSTD_DICT_BYTES, training_set)
    (out / "records.zstd-dict").write_bytes(z.as_bytes())
    return {
        "samples": samples,
        "sample bytes": sum(map(len, training_set)),
        "seconds": seconds,
        "notes": notes,
        "candidates (held-out bits)": training.candidates,
        "primer": training.primer,
        "primer tokens": training.primer_tokens,
        "tokens": training.tokens,
        "dictionary bytes": len(training.data),
        "primer-alone dictionary bytes": len(primer_alone),
        "zstd dictionary bytes": len(z.as_bytes()),
    }


def nacrith_once(data: bytes, dictionary: nacrith.Dictionary | None) -> dict:
    """The archive's size, its overhead (all but the payloads) and the seconds each way; checks the round trip."""
    began = time.perf_counter()
    archive = nacrith.compress(data, dictionary=dictionary)
    coded = time.perf_counter()
    back = nacrith.decompress(archive, dictionary=dictionary)
    decoded = time.perf_counter()
    if back != data:
        raise SystemExit(f"round trip failed ({len(data)} bytes, dictionary {dictionary!r})")
    payloads = sum(c.payload_size for f in nacrith.inspect(archive).frames for c in f.chunks)
    return {"bytes": len(archive), "overhead": len(archive) - payloads, "compress s": coded - began, "decompress s": decoded - coded}


def part_measure(out: Path, count: int) -> dict:
    dictionaries = {
        "no dictionary": None,
        "primer alone": nacrith.Dictionary.load(out / "records-primer.nacrd"),
        "primer and ensemble state": nacrith.Dictionary.load(out / "records.nacrd"),
    }
    zd = zstandard.ZstdCompressionDict((out / "records.zstd-dict").read_bytes())
    partial = out / "measure.partial.json"
    rows = json.loads(partial.read_text()) if partial.exists() else []  # a run cut short goes on where it stopped
    nacrith_once(records(1, start=MEASURED_FROM + count)[0], dictionaries["primer and ensemble state"])  # the model, loaded once
    for i in range(MEASURED_FROM + len(rows), MEASURED_FROM + count):
        data = records(1, start=i)[0]
        row: dict = {"record": i, "size": len(data), "gzip -9": gz(data), "xz -9e": xz(data), "zstd -19": zstd(data), "zstd -19 -D": zstd(data, zd)}
        for name, dictionary in dictionaries.items():
            row[name] = nacrith_once(data, dictionary)
        rows.append(row)
        print(json.dumps(row), flush=True)
        partial.write_text(json.dumps(rows))
    return {"records": rows}


def render(out: Path) -> str:
    train = json.loads((out / "train.json").read_text())["result"]
    rows = json.loads((out / "measure.json").read_text())["result"]["records"]
    total = sum(r["size"] for r in rows)
    n = len(rows)
    lines = [
        f"{n} records ({total:,} bytes, {total / n:.1f} bytes a record), one archive each; dictionaries trained on "
        f"{train['samples']} other records ({train['sample bytes']:,} bytes).",
        "",
        "| compressor | bytes | bytes a record | bits per byte | of which overhead, a record | compress / decompress, s a record (median) |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for name in ("gzip -9", "xz -9e", "zstd -19", "zstd -19 -D"):
        size = sum(r[name] for r in rows)
        label = "zstd -19, trained dictionary" if name == "zstd -19 -D" else name
        lines.append(f"| {label} | {size:,} | {size / n:.1f} | {8 * size / total:.3f} | | |")
    for name in SETTINGS:
        size = sum(r[name]["bytes"] for r in rows)
        over = sum(r[name]["overhead"] for r in rows) / n
        c = statistics.median(r[name]["compress s"] for r in rows)
        d = statistics.median(r[name]["decompress s"] for r in rows)
        lines.append(f"| nacrith, {name} | {size:,} | {size / n:.1f} | {8 * size / total:.3f} | {over:.1f} | {c:.2f} / {d:.2f} |")
    lines += [
        "",
        f"nacrith's dictionary: {train['dictionary bytes']:,} bytes, primer {train['primer']} ({train['primer tokens']} tokens), "
        f"trained in {train['seconds']:.0f} s; the primer alone: {train['primer-alone dictionary bytes']:,} bytes; "
        f"zstd's: {train['zstd dictionary bytes']:,} bytes.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("train", "measure", "render"))
    parser.add_argument("out", type=Path)
    parser.add_argument("--samples", type=int, default=200, help="records to train on (at most 200)")
    parser.add_argument("--records", type=int, default=30, help="records to measure")
    a = parser.parse_args()
    if not 1 <= a.samples <= MEASURED_FROM:
        parser.error(f"--samples must be 1..{MEASURED_FROM}")
    a.out.mkdir(parents=True, exist_ok=True)
    if a.part == "render":
        print(render(a.out))
        return
    began = time.perf_counter()
    result = part_train(a.out, a.samples) if a.part == "train" else part_measure(a.out, a.records)
    meta = {"seconds": time.perf_counter() - began, "machine": platform.processor() or platform.machine(), "python": platform.python_version(), "nacrith": nacrith.__version__}
    (a.out / f"{a.part}.json").write_text(json.dumps({"result": result} | meta, indent=1))
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
