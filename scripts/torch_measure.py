#!/usr/bin/env python3
"""The torch backend beside llama.cpp, and what dynamic evaluation buys, on the first N bytes of a file.

``python scripts/torch_measure.py FILE --size N`` measures, in one process:

* the cross-check: both backends' logits on the same tokens (sliding blocks of the default window,
  as ``nacrith bench``'s ideal code length reads them): the largest and the mean absolute
  difference, and each backend's ideal bits per byte;
* archives made with the default settings by llama.cpp, by torch, and by torch with ``--adapt``,
  with the ensemble and without: bits per byte and seconds to compress (decoding is the tests'
  business: tests/test_torch_backend.py decodes an adapting archive in a fresh process).

``--part cross`` or ``--part archives`` runs one half. It appends one JSON row to
benchmarks/torch.json. Run it alone on an idle machine (it loads the model twice).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import nacrith
from nacrith.constants import DEFAULT_WINDOW
from nacrith.engine import Engine
from nacrith.neural.schedule import default_slide_keep
from nacrith.neural.sequence import logit_blocks

OUT = Path(__file__).resolve().parent.parent / "benchmarks" / "torch.json"


def _bits(logits: np.ndarray, targets: list[int]) -> float:
    z = logits.astype(np.float64)
    top = z.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(z - top).sum(axis=1)) + top[:, 0]
    return float((log_z - z[np.arange(len(z)), targets]).sum() / np.log(2))


def cross_check(data: bytes) -> dict:
    """Both backends on the same tokens: how far their logits are apart, and their ideal code lengths."""
    llama, ours = Engine(), Engine(backend="torch")
    tokens = llama.model.tokenize(data)
    assert ours.model.tokenize(data) == tokens, "both backends use llama.cpp's tokenizer"
    window, keep = DEFAULT_WINDOW, default_slide_keep(DEFAULT_WINDOW)
    largest, total, bits = 0.0, 0.0, {"llama": 0.0, "torch": 0.0}
    blocks = zip(logit_blocks(llama.model, tokens, window, keep, None), logit_blocks(ours.model, tokens, window, keep, None))
    for (start, a), (_, b) in blocks:
        targets = tokens[start : start + len(a)]
        difference = np.abs(a.astype(np.float64) - b)
        largest, total = max(largest, float(difference.max())), total + float(difference.sum())
        bits["llama"] += _bits(a, targets)
        bits["torch"] += _bits(b, targets)
    return {
        "tokens": len(tokens),
        "largest_logit_difference": largest,
        "mean_logit_difference": total / (len(tokens) * llama.model.vocab_size),
        "ideal_bpb_llama": bits["llama"] / len(data),
        "ideal_bpb_torch": bits["torch"] / len(data),
    }


def archives(data: bytes) -> dict:
    """bits per byte and seconds of the default settings, both backends, with adaptation and without."""
    runs = {
        "torch": {"backend": "torch"},
        "torch_adapt": {"backend": "torch", "adapt": True},
        "llama": {},
        "torch_alone": {"backend": "torch", "ensemble": False},
        "torch_adapt_alone": {"backend": "torch", "adapt": True, "ensemble": False},
    }
    out = {}
    for name, options in runs.items():
        began = time.perf_counter()
        archive = nacrith.compress(data, **options)
        seconds = time.perf_counter() - began
        out[name] = {"bpb": 8 * len(archive) / len(data), "compress_seconds": seconds}
        print(name, json.dumps(out[name]), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--size", type=int, default=4096, help="bytes from the start of the file (default 4096)")
    parser.add_argument("--part", choices=("all", "cross", "archives"), default="all")
    args = parser.parse_args()
    data = args.file.read_bytes()[: args.size]
    row = {"file": args.file.name, "bytes": len(data), "torch": __import__("torch").__version__}
    if args.part in ("all", "cross"):
        row |= cross_check(data)
        print(json.dumps(row), flush=True)
    if args.part in ("all", "archives"):
        row["archives"] = archives(data)
    rows = json.loads(OUT.read_text()) if OUT.exists() else []
    rows.append(row)
    OUT.write_text(json.dumps(rows, indent=2) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
