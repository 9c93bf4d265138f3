"""Training a dictionary from sample documents (``nacrith train``): a primer chosen by measurement, and the
ensemble's start learned by coding the samples.

1. **Tokens.** Each sample as the encoder would code it alone: one chunk, as LF text when its line
   ends are all CRLF. Samples the model cannot code (binary, or text whose tokens do not give it
   back) are left out.
2. **Primer.** The candidates are no primer, the most typical sample, and the most typical samples
   one after another up to half the budget and up to the whole budget (the most typical last,
   nearest to the document). A sample is typical when its token trigrams occur in many other
   samples. Each candidate is measured with the language model alone: the cost of up to 16 held-out
   samples (in no candidate), coded as lanes that start from it. The cheapest wins.
3. **Ensemble.** Every sample is coded, in groups of ``lanes``, as one segment is coded, from empty
   tables and with the chosen primer: the bias head and the mixer end where that leaves them. The
   n-gram and match tables are not stored; the samples' tokens are, and loading replays them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from ..constants import DEFAULT_LANES, DEFAULT_WINDOW, PRECISION_BITS
from ..container import CodingParams
from ..engine import Engine, shared_engine
from ..neural.ensemble import Ensemble
from ..neural.lanes import encode_group
from ..neural.params import RATE_BITS, EnsembleParams
from ..neural.schedule import Prefix, default_slide_keep
from ..segments.plan import FALLBACK, text_chunk
from ..segments.start import group_evaluator
from .layout import MAX_SEQUENCE_TOKENS, DictionaryContent, write_dictionary

__all__ = ["train", "learn", "DEFAULT_PRIMER_BYTES", "Training"]

DEFAULT_PRIMER_BYTES = 1024
"""The primer's budget: measured on bibliography records (BENCHMARKS.md, "Small inputs and dictionaries")."""

HELD_OUT = 16
"""Samples the primer candidates are measured on: two groups of the default lanes."""

Report = Callable[[str], None]


@dataclass
class Training:
    """What training measured and chose, for reports (the dictionary's bytes are in ``data``)."""

    data: bytes = b""
    samples: int = 0
    skipped: int = 0
    tokens: int = 0
    candidates: dict[str, float] = field(default_factory=dict)
    """Each primer candidate's name and the held-out samples' cost with it, in bits."""
    primer: str = "none"
    primer_tokens: int = 0


def train(
    samples: Iterable[bytes],
    *,
    model: str | None = None,
    primer_bytes: int = DEFAULT_PRIMER_BYTES,
    ensemble: bool | EnsembleParams = True,
    lanes: int = DEFAULT_LANES,
    window: int = DEFAULT_WINDOW,
    threads: int | None = None,
) -> bytes:
    """A dictionary file's bytes, learned from ``samples`` (documents of one family) for ``model``;
    the options as :func:`learn` takes them.

    >>> open("family.nacrd", "wb").write(nacrith.train(records))  # doctest: +SKIP
    """
    return learn(
        samples, model=model, primer_bytes=primer_bytes, ensemble=ensemble, lanes=lanes, window=window, threads=threads
    ).data


def learn(
    samples: Iterable[bytes],
    *,
    model: str | None = None,
    primer_bytes: int = DEFAULT_PRIMER_BYTES,
    ensemble: bool | EnsembleParams = True,
    lanes: int = DEFAULT_LANES,
    window: int = DEFAULT_WINDOW,
    threads: int | None = None,
    report: Report | None = None,
) -> Training:
    """Learn a dictionary from ``samples``, with what was measured on the way; its file's bytes are ``.data``.

    ``primer_bytes``: the primer's budget (0: no primer); ``ensemble``: learn the ensemble's start for
    the default parameters (True), these parameters, or none (False: a primer alone). ``window``: the
    window the primer is measured with; a primer takes at most half of it.
    """
    if primer_bytes < 0:
        raise ValueError(f"primer_bytes must be >= 0, got {primer_bytes}")
    params = EnsembleParams() if ensemble is True else (ensemble or None)
    say = report or (lambda message: None)
    engine = shared_engine(model, threads)
    out = Training()
    documents, sequences = _tokens(engine, samples, out)
    if not sequences:
        raise ValueError("no sample the model can code: give text documents of the family")
    say(f"{out.samples} samples, {out.tokens:,} tokens" + (f" ({out.skipped} left out: not text the model codes)" if out.skipped else ""))
    coding = CodingParams(PRECISION_BITS, lanes, window, default_slide_keep(window), 1 << 16, engine.start_token())
    primer = _choose_primer(engine, coding, documents, sequences, primer_bytes, window // 2, out, say)
    content = DictionaryContent(engine.fingerprint, engine.model.vocab_size, primer)
    if params is not None:
        content = _learn(engine, coding, params, sequences, primer, content)
    out.data = write_dictionary(content)
    say(f"dictionary of {len(out.data):,} bytes: primer {out.primer} ({len(primer)} tokens)")
    return out


def _tokens(engine: Engine, samples: Iterable[bytes], out: Training) -> tuple[list[bytes], list[tuple[int, ...]]]:
    """The samples the model codes, and their tokens, within the dictionary's bound on tokens."""
    documents, sequences = [], []
    for sample in samples:
        chunk = text_chunk(engine.model, bytes(sample), crlf=True) if sample else None
        if chunk is None or chunk.method == FALLBACK or out.tokens + len(chunk.tokens) > MAX_SEQUENCE_TOKENS:
            out.skipped += 1
            continue
        documents.append(bytes(sample))
        sequences.append(tuple(chunk.tokens))
        out.samples += 1
        out.tokens += len(chunk.tokens)
    return documents, sequences


def typical_order(sequences: list[tuple[int, ...]]) -> list[int]:
    """Sample indices, the most typical first: by the mean share of samples that hold each of its token trigrams."""
    grams = [set(zip(s, s[1:], s[2:])) for s in sequences]
    count: dict[tuple[int, int, int], int] = {}
    for g in grams:
        for t in g:
            count[t] = count.get(t, 0) + 1
    score = [sum(count[t] - 1 for t in g) / len(g) if g else 0.0 for g in grams]
    return sorted(range(len(sequences)), key=lambda i: (-score[i], i))


def _choose_primer(
    engine: Engine,
    coding: CodingParams,
    documents: list[bytes],
    sequences: list[tuple[int, ...]],
    budget: int,
    max_tokens: int,
    out: Training,
    say: Report,
) -> tuple[int, ...]:
    """The primer tokens that make the held-out samples cheapest (none when no candidate helps)."""
    if budget == 0:
        return ()
    order = typical_order(sequences)
    candidates: dict[str, tuple[int, ...]] = {}
    used: set[int] = set()
    for name, limit in (("the most typical sample", 0), (f"typical samples in {budget // 2:,} bytes", budget // 2), (f"typical samples in {budget:,} bytes", budget)):
        chosen = _fill(order, documents, limit)
        tokens = tuple(engine.model.tokenize(b"".join(documents[i] for i in reversed(chosen))))
        while len(tokens) > max_tokens and len(chosen) > 1:  # the window must keep room for the document
            chosen = chosen[:-1]
            tokens = tuple(engine.model.tokenize(b"".join(documents[i] for i in reversed(chosen))))
        if 0 < len(tokens) <= max_tokens and tokens not in candidates.values():
            candidates[name] = tokens
            used.update(chosen)
    held_out = [sequences[i] for i in range(len(sequences)) if i not in used]
    if not candidates:
        return ()
    if not held_out:  # nothing left to measure on: the largest candidate
        out.primer, tokens = list(candidates.items())[-1]
        out.primer_tokens = len(tokens)
        return tokens
    step = max(1, len(held_out) // HELD_OUT)
    held_out = held_out[::step][:HELD_OUT]
    best, best_bits = (), _cost(engine, coding, held_out, ())
    out.candidates["no primer"] = best_bits
    say(f"held-out cost without a primer: {best_bits / 8:,.0f} bytes ({len(held_out)} samples)")
    for name, tokens in candidates.items():
        bits = out.candidates[name] = _cost(engine, coding, held_out, tokens)
        say(f"held-out cost with {name} ({len(tokens)} tokens): {bits / 8:,.0f} bytes")
        if bits < best_bits:
            best, best_bits, out.primer = tokens, bits, name
    out.primer_tokens = len(best)
    return best


def _fill(order: list[int], documents: list[bytes], limit: int) -> list[int]:
    """The most typical samples, in order, while their bytes stay within ``limit`` (at least one)."""
    chosen, size = [order[0]], len(documents[order[0]])
    for i in order[1:]:
        if size + len(documents[i]) > limit:
            break
        chosen.append(i)
        size += len(documents[i])
    return chosen


def _cost(engine: Engine, coding: CodingParams, sequences: list[tuple[int, ...]], primer: tuple[int, ...]) -> float:
    """Bits the language model alone spends on ``sequences``, coded as lanes that start from ``primer``."""
    prefix = Prefix((coding.start_token, *primer))
    bits = 0.0

    def count(lanes: list[int], tokens: list[int], cost: float) -> None:
        nonlocal bits
        bits += cost

    for group in _groups(sequences, coding.lanes):
        encode_group(group_evaluator(engine, len(group), coding, prefix, max(map(len, group))), group, coding, prefix=prefix, progress=count)
    return bits


def _learn(
    engine: Engine,
    coding: CodingParams,
    params: EnsembleParams,
    sequences: list[tuple[int, ...]],
    primer: tuple[int, ...],
    content: DictionaryContent,
) -> DictionaryContent:
    """The ensemble's start: the bias and mixer after coding every sample from empty tables, and the samples' tokens."""
    ensemble = Ensemble(params, engine.model.vocab_size, coding.precision_bits)
    prefix = Prefix((coding.start_token, *primer))
    for group in _groups(sequences, coding.lanes):
        evaluator = group_evaluator(engine, len(group), coding, prefix, max(map(len, group)))
        encode_group(evaluator, group, coding, regions=[len(s) for s in group], ensemble=ensemble, prefix=prefix)
    bias = None
    if ensemble.bias:
        limit = params.bias_limit
        bias = tuple(int(max(-limit, min(limit, round(b * (1 << RATE_BITS))))) for b in ensemble.bias.bias)
    mixer = tuple(tuple(row) for row in ensemble.mixer.weights) if ensemble.mixer else None
    return DictionaryContent(content.fingerprint, content.vocab_size, content.primer, params, tuple(sequences), bias, mixer)


def _groups(sequences: list[tuple[int, ...]], lanes: int) -> list[list[list[int]]]:
    return [[list(s) for s in sequences[i : i + lanes]] for i in range(0, len(sequences), lanes)]
