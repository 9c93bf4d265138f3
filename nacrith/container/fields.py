"""The compact parts of a version 2 header: model presets and the coding parameters as (key, value) pairs.

A header names a known model by a small number and writes only the parameters that differ
from their defaults, so an archive of a short text made with the defaults spends a few bytes
on saying how it was made (FORMAT.md, "Parameters").
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..constants import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_LANES,
    DEFAULT_SEGMENT_BYTES,
    DEFAULT_WINDOW,
    MAX_SEGMENT_BYTES,
    MIN_SEGMENT_BYTES,
    PRECISION_BITS,
)
from ..errors import CorruptArchiveError, UnsupportedFormatError
from ..neural.adapt import AdaptParams
from ..neural.params import EnsembleParams
from ..neural.schedule import default_slide_keep
from .structures import BACKEND_LLAMA_CPU, CodingParams, EqualInfo

__all__ = ["ModelPreset", "MODEL_PRESETS", "preset_of", "params_to_pairs", "params_from_pairs", "KNOWN_KEYS"]


@dataclass(frozen=True)
class ModelPreset:
    number: int
    fingerprint: bytes
    file_name: str
    start_token: int
    """The model's BOS token: where every lane starts unless the header says otherwise."""


MODEL_PRESETS = {
    1: ModelPreset(1, bytes.fromhex("b179c9523d0e6a0f"), "SmolLM2-135M-Instruct.Q4_1.gguf", 1),
    2: ModelPreset(2, bytes.fromhex("a5fd3b62230aa5ec"), "gemma-3-270m-q4_k_m.gguf", 2),
}
"""Header model number -> the model it stands for. 0 means the fingerprint follows in the header."""


def preset_of(fingerprint: bytes) -> ModelPreset | None:
    return next((p for p in MODEL_PRESETS.values() if p.fingerprint == fingerprint), None)


_ENSEMBLE_FIELDS = [f.name for f in fields(EnsembleParams)]
_ADAPT_FIELDS = [f.name for f in fields(AdaptParams)]

KEY_PRECISION, KEY_LANES, KEY_WINDOW, KEY_SLIDE_KEEP, KEY_CHUNK, KEY_START, KEY_SEGMENT, KEY_ENSEMBLE = range(1, 9)
KEY_ENSEMBLE_FIRST = 9
"""Keys 9 to 18: the ten ensemble parameters, in the order of :class:`EnsembleParams`."""
KEY_BACKEND = KEY_ENSEMBLE_FIRST + len(_ENSEMBLE_FIELDS)
KEY_DICTIONARY = KEY_BACKEND + 1
"""The dictionary an archive was made with: the first 7 bytes of its file's SHA-256, as an integer (0: none)."""
KEY_ADAPT = KEY_DICTIONARY + 1
"""21: dynamic evaluation on (1) or off (0); keys 22 to 26 its parameters, in the order of :class:`AdaptParams`.
(Keys 27 to 29 are kept for it; 30 to 49 are other work's.)"""
KEY_ADAPT_FIRST = KEY_ADAPT + 1
KEY_THREADS = KEY_ADAPT_FIRST + len(_ADAPT_FIELDS)
"""27: the torch backends' thread count (the logits depend on it)."""
LAST_KEY = KEY_THREADS

KEY_WINDOW_BITS, KEY_TOKEN_BITS, KEY_PRIMER = 30, 31, 32
"""Equal-info windows (layout 3): W, the export token width, the primer. Keys 30 to 39 are theirs."""
_EQUAL_INFO_KEYS = (KEY_WINDOW_BITS, KEY_TOKEN_BITS, KEY_PRIMER)
_EQUAL_INFO_DEFAULTS = {KEY_WINDOW_BITS: 0, KEY_TOKEN_BITS: EqualInfo(16).token_bits, KEY_PRIMER: EqualInfo(16).primer}

KNOWN_KEYS = frozenset(range(1, LAST_KEY + 1)) | frozenset(_EQUAL_INFO_KEYS)
"""The keys this version reads; any other is a newer format's (UnsupportedFormatError)."""


def _defaults(window: int, start_token: int | None) -> dict[int, int | None]:
    ensemble = EnsembleParams()
    out: dict[int, int | None] = {
        KEY_PRECISION: PRECISION_BITS,
        KEY_LANES: DEFAULT_LANES,
        KEY_WINDOW: DEFAULT_WINDOW,
        KEY_SLIDE_KEEP: default_slide_keep(window),
        KEY_CHUNK: DEFAULT_CHUNK_BYTES,
        KEY_START: start_token,
        KEY_SEGMENT: DEFAULT_SEGMENT_BYTES,
        KEY_ENSEMBLE: 1,
        KEY_BACKEND: BACKEND_LLAMA_CPU,
        KEY_DICTIONARY: 0,
        KEY_ADAPT: 0,
        KEY_THREADS: 1,
    }
    for i, name in enumerate(_ENSEMBLE_FIELDS):
        out[KEY_ENSEMBLE_FIRST + i] = getattr(ensemble, name)
    adapt = AdaptParams()
    for i, name in enumerate(_ADAPT_FIELDS):
        out[KEY_ADAPT_FIRST + i] = getattr(adapt, name)
    out.update(_EQUAL_INFO_DEFAULTS)
    return out


def params_to_pairs(params: CodingParams, default_start: int | None) -> list[tuple[int, int]]:
    """The (key, value) pairs a header writes: every parameter that differs from its default, by key.

    ``default_start``: the start token the model preset implies (None for a model named by
    fingerprint, whose start token is always written).
    """
    values: dict[int, int] = {
        KEY_PRECISION: params.precision_bits,
        KEY_LANES: params.lanes,
        KEY_WINDOW: params.window,
        KEY_SLIDE_KEEP: params.slide_keep,
        KEY_CHUNK: params.chunk_bytes,
        KEY_START: params.start_token,
        KEY_SEGMENT: params.segment_bytes,
        KEY_ENSEMBLE: int(params.ensemble is not None),
        KEY_BACKEND: params.backend,
        KEY_DICTIONARY: params.dictionary,
        KEY_ADAPT: int(params.adapt is not None),
        KEY_THREADS: params.threads,
    }
    if params.ensemble is not None:
        for i, name in enumerate(_ENSEMBLE_FIELDS):
            values[KEY_ENSEMBLE_FIRST + i] = getattr(params.ensemble, name)
    if params.adapt is not None:
        for i, name in enumerate(_ADAPT_FIELDS):
            values[KEY_ADAPT_FIRST + i] = getattr(params.adapt, name)
    if params.equal_info is not None:
        e = params.equal_info
        values.update({KEY_WINDOW_BITS: e.bits, KEY_TOKEN_BITS: e.token_bits, KEY_PRIMER: e.primer})
    defaults = _defaults(params.window, default_start)
    return [(key, value) for key, value in sorted(values.items()) if defaults[key] != value]


def params_from_pairs(pairs: list[tuple[int, int]], default_start: int | None) -> CodingParams:
    """The parameters a header's pairs stand for (keys strictly increasing, each at most once).

    Raises UnsupportedFormatError for a key this decoder does not know (a newer encoder's), and
    CorruptArchiveError for pairs out of order or contradicting each other.
    """
    given: dict[int, int] = {}
    for key, value in pairs:
        if key not in KNOWN_KEYS:
            raise UnsupportedFormatError(f"the archive sets parameter {key}, unknown to this nacrith (upgrade nacrith?)")
        if given and key <= max(given):
            raise CorruptArchiveError(f"header parameter {key} out of order or repeated")
        given[key] = value
    window = given.get(KEY_WINDOW, DEFAULT_WINDOW)
    values = {**_defaults(window, default_start), **given}
    if values[KEY_START] is None:
        raise CorruptArchiveError("the header names its model by fingerprint but gives no start token")
    ensemble_keys = range(KEY_ENSEMBLE_FIRST, KEY_ENSEMBLE_FIRST + len(_ENSEMBLE_FIELDS))
    if values[KEY_ENSEMBLE] not in (0, 1):
        raise CorruptArchiveError(f"ensemble switch {values[KEY_ENSEMBLE]} (0 or 1)")
    ensemble = None
    if values[KEY_ENSEMBLE]:
        ensemble = EnsembleParams(*(values[k] for k in ensemble_keys))  # type: ignore[arg-type]
    elif any(k in given for k in ensemble_keys):
        raise CorruptArchiveError("ensemble parameters given with the ensemble off")
    adapt_keys = range(KEY_ADAPT_FIRST, KEY_ADAPT_FIRST + len(_ADAPT_FIELDS))
    if values[KEY_ADAPT] not in (0, 1):
        raise CorruptArchiveError(f"adaptation switch {values[KEY_ADAPT]} (0 or 1)")
    adapt = None
    if values[KEY_ADAPT]:
        adapt = AdaptParams(*(values[k] for k in adapt_keys))  # type: ignore[arg-type]
    elif any(k in given for k in adapt_keys):
        raise CorruptArchiveError("adaptation parameters given with adaptation off")
    equal_info = None
    if values[KEY_WINDOW_BITS]:
        equal_info = EqualInfo(values[KEY_WINDOW_BITS], values[KEY_TOKEN_BITS], values[KEY_PRIMER])  # type: ignore[arg-type]
    elif any(k in given for k in (KEY_TOKEN_BITS, KEY_PRIMER)):
        raise CorruptArchiveError("equal-info parameters given without the window bits")
    params = CodingParams(
        precision_bits=values[KEY_PRECISION],  # type: ignore[arg-type]
        lanes=values[KEY_LANES],  # type: ignore[arg-type]
        window=window,
        slide_keep=values[KEY_SLIDE_KEEP],  # type: ignore[arg-type]
        chunk_bytes=values[KEY_CHUNK],  # type: ignore[arg-type]
        start_token=values[KEY_START],  # type: ignore[arg-type]
        ensemble=ensemble,
        segment_bytes=values[KEY_SEGMENT],  # type: ignore[arg-type]
        backend=values[KEY_BACKEND],  # type: ignore[arg-type]
        dictionary=values[KEY_DICTIONARY],  # type: ignore[arg-type]
        adapt=adapt,
        threads=values[KEY_THREADS],  # type: ignore[arg-type]
        equal_info=equal_info,
    )
    if params.segment_bytes == 0:  # version 1's "one sequence"; a version 2 header names a size
        raise CorruptArchiveError(f"segment size 0 ({MIN_SEGMENT_BYTES}..{MAX_SEGMENT_BYTES})")
    params.validate()
    return params
