"""What each part of the ensemble is worth: many ensembles fed by one pass of the model.

The LLM's logits do not depend on the ensemble (the tokens, batches and positions are
the same whatever is mixed in), so one lockstep pass over a text can feed every variant
at once: each gets the same logits, keeps its own state, and is charged the exact code
length of its own frequencies (the arithmetic coder adds < 0.01%, FORMAT.md). Each
variant's own time is measured, so its speed is the model's plus its own, in one run.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Callable, Union

import numpy as np

from ..constants import PRECISION_BITS
from ..container import CodingParams
from ..engine import Engine
from ..segments.plan import group_chunks, plan_chunks
from ..neural.ensemble import Ensemble
from ..neural.lanes import step_frequencies
from ..neural.params import EnsembleParams
from ..neural.schedule import counted, lockstep_steps
from ..options import Options
from ..transforms import crlf_to_lf

__all__ = ["AblationRow", "Variant", "ablate", "ablation", "standard_variants", "describe"]

Variant = Union[EnsembleParams, Callable[[int, int], Ensemble], None]
"""An archive's ensemble parameters; or a factory ``(vocab, precision_bits) -> Ensemble`` for a
variant no archive can hold (a mixer taken apart), measured for what it shows; None: the LLM alone."""


def _build(variant: Variant, vocab: int, precision_bits: int) -> Ensemble | None:
    if variant is None:
        return None
    if isinstance(variant, EnsembleParams):
        return Ensemble(variant, vocab, precision_bits)
    return variant(vocab, precision_bits)


@dataclass
class AblationRow:
    variant: str
    bits: float
    """Code length of the neural chunks, from the variant's own frequencies."""
    original_bytes: int
    tokens: int
    model_seconds: float
    """The shared lockstep pass (llama.cpp evaluation), charged to every variant."""
    own_seconds: float
    """This variant's frequencies and learning."""

    @property
    def bpb(self) -> float:
        return self.bits / self.original_bytes if self.original_bytes else 0.0

    @property
    def tok_s(self) -> float:
        seconds = self.model_seconds + self.own_seconds
        return self.tokens / seconds if seconds else 0.0

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "bpb": self.bpb, "tok_s": self.tok_s}


def ablate(engine: Engine, data: bytes, variants: dict[str, Variant], options: Options | None = None) -> list[AblationRow]:
    """One row per variant (None: the LLM alone) for the text chunks of ``data``, cut and grouped as the
    encoder cuts and groups them, and played on the schedule coding plays."""
    options = options or Options()
    chunks = [c for c in plan_chunks(data, lambda: engine.model, options) if c.neural]
    neural_bytes = sum(len(c.data) for c in chunks)
    params = CodingParams(PRECISION_BITS, options.lanes, options.window, options.keep, options.chunk_bytes, engine.model.start_token)
    vocab = engine.model.vocab_size
    ensembles = {name: _build(v, vocab, params.precision_bits) for name, v in variants.items()}
    bits = dict.fromkeys(variants, 0.0)
    own = dict.fromkeys(variants, 0.0)
    model_seconds = 0.0
    tokens = 0
    for group in group_chunks(chunks, options.lanes):
        lanes = [c.tokens for c in group]
        counts = [len(t) for t in lanes]
        tokens += sum(counts)
        for ensemble in ensembles.values():
            if ensemble is not None:
                ensemble.begin_group([len(c.data) for c in group])  # as the encoder: each lane reserves its chunk length
        evaluator = engine.evaluator(len(lanes), params.window)
        evaluator.reset()
        for step in lockstep_steps(evaluator, len(counts), counted(counts), params.window, params.slide_keep):
            began = time.perf_counter()
            logits = np.array(evaluator.step(step.lanes, step.fed(lanes, params.start_token), step.positions))  # llama.cpp reuses its buffer
            model_seconds += time.perf_counter() - began
            coded = [lanes[lane][step.index] for lane in step.lanes]
            rows = np.arange(len(coded))
            for name, ensemble in ensembles.items():
                began = time.perf_counter()
                chosen = step_frequencies(step, logits, params.precision_bits, ensemble)[rows, coded]
                if ensemble:
                    ensemble.update(step.lanes, coded)
                own[name] += time.perf_counter() - began
                bits[name] += float(len(coded) * params.precision_bits - np.log2(chosen).sum())
    return [AblationRow(name, bits[name], neural_bytes, tokens, model_seconds, own[name]) for name in variants]


def describe(rows: list[AblationRow], name: str) -> str:
    """A text table; bits relative to the LLM alone (with the transform), speed relative to it too."""
    base = next(r for r in rows if r.variant == "LLM alone")
    lines = [f"{name}: {base.original_bytes:,} bytes of text, {base.tokens:,} tokens (code lengths; speed = model + variant)"]
    for row in rows:
        change = 100 * (row.bits / base.bits - 1) if base.bits else math.nan
        speed = row.tok_s / base.tok_s if base.tok_s else math.nan
        lines.append(f"  {row.variant:<34} {row.bpb:7.4f} bpb  {change:+6.2f}%  {row.tok_s:6.1f} tok/s  ({speed:.2f}x)")
    return "\n".join(lines)


def standard_variants() -> dict[str, Variant]:
    """The ablation of BENCHMARKS.md: the LLM alone, then each model added in turn, each left out, and the
    mixer taken apart."""
    full = EnsembleParams()
    return {
        "LLM alone": None,
        "+ bias head": dataclasses.replace(full, ngram_orders=0, match_min_length=0),
        "+ bias, n-gram": dataclasses.replace(full, match_min_length=0),
        "+ bias, n-gram, match (default)": full,
        "n-gram, match (no bias)": dataclasses.replace(full, bias_rate=0),
        "bias, match (no n-gram)": dataclasses.replace(full, ngram_orders=0),
        "default, mixer with one weight set": lambda vocab, bits: Ensemble(full, vocab, bits, mixing_contexts=False),
        "default, mixer weights not learned": lambda vocab, bits: Ensemble(full, vocab, bits, learn_mixer=False),
    }


def ablation(engine: Engine, data: bytes, options: Options) -> list[AblationRow]:
    """:func:`standard_variants` on ``data``, and the LLM alone without the CRLF transform when it applies."""
    rows = ablate(engine, data, standard_variants(), options)
    if crlf_to_lf(data) is not None:
        kept = {"LLM alone, CRLF kept": None, "default, CRLF kept": EnsembleParams()}
        rows = ablate(engine, data, kept, dataclasses.replace(options, crlf=False)) + rows
    return rows
