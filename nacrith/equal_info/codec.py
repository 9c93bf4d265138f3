"""Equal-info windows over a model: text in, windows out, and back.

The encoder cuts its input into pieces (at most one per lane, each long enough that the
partial window that ends it costs little) and codes them side by side, each piece's windows
one after another; the windows follow each other in text order. The decoder hands windows to
lanes as they free up. Both use the same evaluation context, whose shape the archive (or the
export's JSON) records: the lanes, the KV window, and the base (start token and primer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from ..chunking import safe_cut
from ..constants import PRECISION_BITS
from ..container import CodingParams, EqualInfo
from ..container.structures import MAX_WINDOW_BYTES
from ..neural.schedule import default_slide_keep
from .lanes import CodedWindow, LaneText, Progress, WindowSetup, decode_windows, encode_lanes
from .pieces import Pieces
from .primers import DEFAULT_PRIMER, FILL, primer_bytes

if TYPE_CHECKING:
    from ..engine import Engine
    from ..models.llm import LanguageModel

__all__ = ["equal_info_settings", "window_params", "setup_for", "split_pieces", "encode_text", "decode_code", "MIN_PIECE_BYTES", "PIECE_WINDOWS"]

MIN_PIECE_BYTES = 4096
"""Shortest piece the encoder gives a lane (unless the input is shorter): each piece ends in a partial window,
which ``PIECE_WINDOWS`` keeps small beside the piece."""

PIECE_WINDOWS = 64
"""A piece is at least this many windows' worth of text (about W / 2 bytes each), so its last, partial window
costs at most about 1/64 of its bits (1/128 on average)."""


def equal_info_settings(bits: int, token_bits: int | None = None, primer: int | None = None) -> EqualInfo:
    """The equal-info settings of the API's arguments (ValueError naming what is wrong): the token width
    defaults to 16 bits when it divides the window, else 8; the primer to the built-in one."""
    if token_bits is None:
        token_bits = 16 if bits % 16 == 0 else 8
    settings = EqualInfo(bits, token_bits, DEFAULT_PRIMER if primer is None else primer)
    problems = settings.problems()
    if problems:
        raise ValueError("bad equal-info settings: " + ", ".join(problems))
    return settings


def window_params(
    start_token: int, equal_info: EqualInfo, *, lanes: int = 8, window: int = 1024, slide_keep: int | None = None, backend: int = 0
) -> CodingParams:
    """The coding parameters of equal-info windows (the LLM alone: windows decode alone, so no ensemble learns)."""
    keep = slide_keep if slide_keep is not None else default_slide_keep(window)
    params = CodingParams(PRECISION_BITS, lanes, window, keep, 65536, start_token, None, 1 << 20, backend, 0, equal_info=equal_info)
    problems = equal_info.problems()
    if problems:
        raise ValueError("bad equal-info settings: " + ", ".join(problems))
    return params


def setup_for(model: LanguageModel, params: CodingParams) -> WindowSetup:
    """The base every window starts from: the start token, then the primer's tokens (FORMAT.md, "Primer")."""
    assert params.equal_info is not None
    base = (params.start_token, *model.tokenize(primer_bytes(params.equal_info.primer)))
    return WindowSetup(base, params.precision_bits, params.window, params.slide_keep)


def split_pieces(data: bytes, lanes: int, bits: int) -> list[bytes]:
    """``data`` cut into at most ``lanes`` pieces of nearly equal size, each at least ``MIN_PIECE_BYTES`` and
    ``PIECE_WINDOWS`` windows' worth, cut after a line end or space near the ideal place."""
    if not data:
        return []
    least = max(MIN_PIECE_BYTES, PIECE_WINDOWS * bits // 2)
    count = max(1, min(lanes, len(data) // least))
    cuts, start = [], 0
    for i in range(1, count):
        ideal = len(data) * i // count
        cut = safe_cut(data, ideal, start)
        cuts.append(data[start:cut])
        start = cut
    cuts.append(data[start:])
    return [c for c in cuts if c]


@dataclass(frozen=True)
class _ModelParts:
    pieces: Pieces
    setup: WindowSetup


def _parts(engine: Engine, params: CodingParams) -> _ModelParts:
    model = engine.model
    return _ModelParts(Pieces(model.pieces), setup_for(model, params))


def encode_text(engine: Engine, data: bytes, params: CodingParams, *, fill: bool = FILL, progress: Progress | None = None) -> list[CodedWindow]:
    """``data`` as windows of ``params.equal_info.bits`` bits, in text order."""
    assert params.equal_info is not None
    bits = params.equal_info.bits
    parts = _parts(engine, params)
    texts = split_pieces(data, params.lanes, bits)
    if not texts:
        return []
    evaluator = engine.evaluator(params.lanes, params.window, base=len(parts.setup.base))
    model = engine.model
    jobs = [LaneText(t, bits, fill) for t in texts]
    results = encode_lanes(evaluator, parts.pieces, model.tokenize, parts.setup, jobs, max_bytes=MAX_WINDOW_BYTES, progress=progress)
    return [w for r in results for w in r.windows]


def decode_code(engine: Engine, params: CodingParams, windows: Sequence[tuple[bytes, int]], *, progress: Progress | None = None) -> list[bytes]:
    """Each window's text, from (its code, its length), decoded ``params.lanes`` at a time (not yet checked
    against any checksum)."""
    assert params.equal_info is not None
    parts = _parts(engine, params)
    evaluator = engine.evaluator(params.lanes, params.window, base=len(parts.setup.base))
    tokens = decode_windows(evaluator, parts.pieces, parts.setup, params.equal_info.bits, windows, params.lanes, progress=progress)
    symbols = parts.pieces.pieces
    return [b"".join(symbols[t] for t in window) for window in tokens]
