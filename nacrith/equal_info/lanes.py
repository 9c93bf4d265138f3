"""Windows coded side by side: each lane codes (or decodes) windows one after another, all lanes in lockstep.

Every window starts from the same **base**: the start token and the primer, evaluated once in
a sequence of its own; a lane that begins a window has its cache made a copy of the base's
(:meth:`WindowPredictor.restart`), and the window's first token is coded with the base's
table, with no evaluation. So a window's tables depend on its own tokens alone, and the lanes
may hold any windows in any order: the encoder gives each lane a text (pieces of the input, or
one text at several window sizes, for measurements) and codes its windows in turn; the decoder
hands out windows to lanes as they free up. Both feed each token of a window at the position
that follows the base and the window's earlier tokens, sliding as :mod:`nacrith.neural.schedule`
does (FORMAT.md, "Equal-info windows").

The encoder's choice of tokens is its own: the tokenizer's token while it fits, then (``fill``)
the longest token that spells a prefix of the rest of the text and still fits; the first token
of a window always finds one (the byte token at the progress floor). A window ends when
nothing fits, or at the end of its lane's text.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

import numpy as np

from ..coder.cdf import quantize
from ..coder.window import WindowDecoder, WindowEncoder, first_token_floor, floor_table
from ..errors import CorruptArchiveError, NacrithError
from .pieces import Pieces

__all__ = ["WindowPredictor", "WindowSetup", "LaneText", "CodedWindow", "WindowFailed", "encode_lanes", "decode_windows"]

Progress = Callable[[int, int, float], None]
"""Called after each step with (text bytes coded, tokens coded, their cost in bits)."""

_LOOKAHEAD_MARGIN = 32
"""Bytes at the end of a tokenized slice whose tokens are not trusted: the text beyond could change them."""


class WindowPredictor(Protocol):
    """What windows are coded with; :class:`~nacrith.models.llm.LaneEvaluator` is one."""

    def prime(self, tokens: list[int]) -> np.ndarray:
        """Evaluate the base ``tokens`` in the base sequence; the logits after the last of them, shape (V,)."""

    def restart(self, lane: int) -> None:
        """Make ``lane``'s cache a copy of the base sequence's."""

    def slide(self, lane: int, drop: int, length: int) -> None:
        """Forget the ``drop`` tokens after the start token of ``lane``'s ``length`` cached ones; shift the rest down."""

    def step(self, lanes: list[int], tokens: list[int], positions: list[int]) -> np.ndarray:
        """Feed ``tokens[i]`` to ``lanes[i]`` at ``positions[i]``; the next-token logits, one row per lane."""


@dataclass(frozen=True)
class WindowSetup:
    """What a window's tables depend on besides its tokens (FORMAT.md, "Equal-info windows")."""

    base: tuple[int, ...]
    """The start token, then the primer's tokens."""
    precision_bits: int
    kv_window: int
    """Tokens a lane's cache holds, the base included, before it slides."""
    slide_keep: int

    def __post_init__(self) -> None:
        if not 1 <= len(self.base) < self.slide_keep < self.kv_window:
            raise ValueError(
                f"the base of {len(self.base)} tokens needs 1 <= base < slide keep ({self.slide_keep}) < window ({self.kv_window})"
            )


@dataclass(frozen=True)
class LaneText:
    """One lane's work for the encoder: a text, cut into windows of ``bits`` bits from its start."""

    data: bytes
    bits: int
    fill: bool = True
    """When the tokenizer's next token does not fit, try the tokens that spell a prefix of it (the next
    window then starts inside a word); else end the window there."""


@dataclass(frozen=True)
class CodedWindow:
    code: bytes
    """Exactly ``bits / 8`` bytes."""
    length: int
    """Text bytes the window holds."""
    tokens: int
    used: int
    """Bits of code before the zero padding (the rest is what no further token fitted)."""


@dataclass
class LaneResult:
    windows: list[CodedWindow] = field(default_factory=list)
    end: int = 0
    """Text bytes coded: the whole text, unless the encoder was stopped early (``deadline``)."""
    bits: float = 0.0
    """The tokens' ideal cost, -log2 of their frequencies, summed."""


class WindowFailed(CorruptArchiveError):
    """A window does not hold what its length says: damage, or another model's or build's logits."""

    def __init__(self, window: int, reason: str) -> None:
        super().__init__(f"window {window}: {reason}")
        self.window = window
        self.reason = reason


class _Tables:
    """The base's table (with the progress floor for each window size) and the quantization of later rows."""

    def __init__(self, predictor: WindowPredictor, setup: WindowSetup, pieces: Pieces) -> None:
        self.precision = setup.precision_bits
        self.total = 1 << setup.precision_bits
        self._base = pieces.extend(quantize(np.asarray(predictor.prime(list(setup.base))), setup.precision_bits))
        self._pieces = pieces
        self._first: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def first(self, bits: int) -> tuple[np.ndarray, np.ndarray]:
        """A window's first table, and its cumulative sums."""
        if bits not in self._first:
            floor = first_token_floor(bits, self.precision)
            freq = floor_table(self._base, self._pieces.byte_symbols, floor)
            self._first[bits] = (freq, np.cumsum(freq))
        return self._first[bits]


class _Lane:
    """A lane's place in its current window: the coder, the table of its next token, its cache length."""

    def __init__(self) -> None:
        self.coder: WindowEncoder | WindowDecoder | None = None
        self.freq: np.ndarray | None = None
        self.cum: np.ndarray | None = None
        self.cached: int | None = None
        """Tokens in the lane's cache; None until the window's first token is fed (the cache still holds another's)."""
        self.symbols = 0

    def feed_position(self, predictor: WindowPredictor, lane: int, setup: WindowSetup) -> int:
        """Where the lane's next token goes: after a restart at a window's first feed, a slide when full."""
        if self.cached is None:
            predictor.restart(lane)
            self.cached = len(setup.base)
        if self.cached == setup.kv_window:
            predictor.slide(lane, setup.kv_window - setup.slide_keep, setup.kv_window)
            self.cached = setup.slide_keep
        self.cached += 1
        return self.cached - 1


def _step(predictor: WindowPredictor, tables: _Tables, pieces: Pieces, setup: WindowSetup, lanes: list[_Lane], feeds: list[tuple[int, int, int]]) -> None:
    """Feed each lane's symbol (a byte symbol as the start token) and give it its next table."""
    ids = [f[0] for f in feeds]
    logits = predictor.step(ids, [pieces.fed(f[1], setup.base[0]) for f in feeds], [f[2] for f in feeds])
    try:
        freq = pieces.extend(quantize(logits, tables.precision))
    except ValueError as exc:  # NaN or infinite logits: a broken model or build
        raise NacrithError(f"the model returned unusable logits: {exc}") from None
    cum = np.cumsum(freq, axis=1)
    for row, lane in enumerate(ids):
        lanes[lane].freq = freq[row]
        lanes[lane].cum = cum[row]


class _TextLane(_Lane):
    """An encoder's lane: its text, where it is, the tokenizer's tokens ahead, the windows coded."""

    def __init__(self, job: LaneText) -> None:
        super().__init__()
        self.data = job.data
        self.bits = job.bits
        self.fill = job.fill
        self.pos = 0
        self.natural: dict[int, int] = {}
        self.result = LaneResult()
        self.window_start = 0


def encode_lanes(
    predictor: WindowPredictor,
    pieces: Pieces,
    tokenize: Callable[[bytes], list[int]],
    setup: WindowSetup,
    jobs: Sequence[LaneText],
    *,
    max_bytes: int = 1 << 20,
    deadline: float | None = None,
    progress: Progress | None = None,
) -> list[LaneResult]:
    """Each job's text as windows, the jobs side by side in lanes; no window holds more than ``max_bytes``.
    ``deadline`` (a ``time.monotonic()``): lanes begin no window after it, so a long measurement can stop and
    go on later from each result's ``end``."""
    tables = _Tables(predictor, setup, pieces)
    lanes = [_TextLane(job) for job in jobs]
    active = list(range(len(lanes)))
    while True:
        feeds = []
        done_bytes, done_tokens, done_bits = 0, 0, 0.0
        for i in active:
            lane = lanes[i]
            before, bits_before = lane.pos, lane.result.bits
            token = _encode_next(lane, tables, pieces, tokenize, max_bytes, deadline)
            done_bytes += lane.pos - before
            done_bits += lane.result.bits - bits_before
            if token is not None:
                done_tokens += 1
                feeds.append((i, token, lane.feed_position(predictor, i, setup)))
        if progress and done_bytes:
            progress(done_bytes, done_tokens, done_bits)
        if not feeds:
            break
        active = [f[0] for f in feeds]
        _step(predictor, tables, pieces, setup, lanes, feeds)
    return [lane.result for lane in lanes]


def _encode_next(
    lane: _TextLane, tables: _Tables, pieces: Pieces, tokenize: Callable[[bytes], list[int]], max_bytes: int, deadline: float | None
) -> int | None:
    """Code the lane's next token (ending and beginning windows as needed); the token to feed, or None when the
    lane has nothing more to feed (its text is done, or the deadline passed at a window's start)."""
    while True:
        if lane.pos >= len(lane.data):
            _close(lane)
            return None
        if lane.coder is None:
            if deadline is not None and time.monotonic() > deadline:
                return None
            lane.coder = WindowEncoder(lane.bits)
            lane.freq, lane.cum = tables.first(lane.bits)
            lane.cached = None
            lane.window_start = lane.pos
            lane.symbols = 0
            _tokenize(lane, pieces, tokenize)
        assert isinstance(lane.coder, WindowEncoder) and lane.freq is not None and lane.cum is not None
        token = _choose(lane, pieces, tokenize, tables.total, lane.window_start + max_bytes)
        if token is None:
            _close(lane)
            continue
        f = int(lane.freq[token])
        lane.coder.encode(int(lane.cum[token]) - f, f, tables.total)
        lane.result.bits += tables.precision - math.log2(f)
        lane.symbols += 1
        lane.pos += len(pieces.pieces[token])
        if lane.pos >= len(lane.data):
            _close(lane)
            return None
        return token


def _choose(lane: _TextLane, pieces: Pieces, tokenize: Callable[[bytes], list[int]], total: int, end: int) -> int | None:
    """The token the window codes next, or None when the window is full (of bits, or of bytes: ``end``)."""
    coder = lane.coder
    assert isinstance(coder, WindowEncoder) and lane.freq is not None and lane.cum is not None
    freq, cum = lane.freq, lane.cum

    def fits(token: int) -> bool:
        f = int(freq[token])
        return lane.pos + len(pieces.pieces[token]) <= end and coder.fits(int(cum[token]) - f, f, total)

    if lane.pos not in lane.natural:
        _tokenize(lane, pieces, tokenize)
    natural = lane.natural.get(lane.pos)
    if natural is None:
        natural = next(pieces.prefixes(lane.data, lane.pos))  # the tokenizer did not spell these bytes
    if fits(natural):
        return natural
    if lane.fill or coder.symbols == 0:
        for token in pieces.prefixes(lane.data, lane.pos):
            if token != natural and fits(token):
                return token
    if coder.symbols == 0:
        raise AssertionError(f"no token fits an empty window of {coder.bits} bits: the progress floor is broken")
    return None


def _tokenize(lane: _TextLane, pieces: Pieces, tokenize: Callable[[bytes], list[int]]) -> None:
    """The tokenizer's tokens from the lane's position, over a slice long enough for a window, kept while their
    pieces spell the text (binary input may not tokenize back to itself)."""
    data, pos = lane.data, lane.pos
    end = min(len(data), pos + 2 * lane.bits + 256)  # a window of W bits rarely holds more than W / 2 bytes
    limit = end if end == len(data) else end - _LOOKAHEAD_MARGIN
    lane.natural = {}
    try:
        tokens = tokenize(bytes(data[pos:end]))
    except NacrithError:
        tokens = []
    at = pos
    for token in tokens:
        if at >= limit or not pieces.matches(token, data, at):
            break
        lane.natural[at] = token
        at += len(pieces.pieces[token])


def _close(lane: _TextLane) -> None:
    coder = lane.coder
    if coder is None:
        return
    assert isinstance(coder, WindowEncoder)
    if coder.symbols:
        used = coder.used
        lane.result.windows.append(CodedWindow(coder.finish(), lane.pos - lane.window_start, coder.symbols, used))
    lane.result.end = lane.pos
    lane.coder = None


class _WindowLane(_Lane):
    """A decoder's lane: the window it holds and what it has decoded of it."""

    def __init__(self) -> None:
        super().__init__()
        self.index: int | None = None
        self.done = 0
        self.tokens: list[int] = []


def decode_windows(
    predictor: WindowPredictor,
    pieces: Pieces,
    setup: WindowSetup,
    bits: int,
    windows: Sequence[tuple[bytes, int]],
    lanes: int,
    *,
    progress: Progress | None = None,
) -> list[list[int]]:
    """The tokens of each window, given as (its code, its length in bytes), decoded ``lanes`` at a time."""
    tables = _Tables(predictor, setup, pieces)
    state = [_WindowLane() for _ in range(lanes)]
    out: list[list[int]] = [[] for _ in windows]
    queue = iter(range(len(windows)))
    active = list(range(lanes))
    while True:
        feeds = []
        done_bytes, done_tokens, done_bits = 0, 0, 0.0
        for i in active:
            lane = state[i]
            token, decoded, cost = _decode_next(lane, tables, pieces, bits, windows, out, queue)
            done_bytes += decoded
            done_tokens += cost[0]
            done_bits += cost[1]
            if token is not None:
                feeds.append((i, token, lane.feed_position(predictor, i, setup)))
        if progress and done_bytes:
            progress(done_bytes, done_tokens, done_bits)
        if not feeds:
            break
        active = [f[0] for f in feeds]
        _step(predictor, tables, pieces, setup, state, feeds)
    return out


def _decode_next(
    lane: _WindowLane, tables: _Tables, pieces: Pieces, bits: int, windows: Sequence[tuple[bytes, int]], out: list[list[int]], queue
) -> tuple[int | None, int, tuple[int, float]]:
    """Decode the lane's next token (taking the next window when one ends); (the token to feed or None, bytes
    decoded, (tokens, bits))."""
    decoded, count, cost = 0, 0, 0.0
    while True:
        if lane.index is None:
            index = next(queue, None)
            if index is None:
                return None, decoded, (count, cost)
            code, length = windows[index]
            if length < 1:
                raise WindowFailed(index, f"length {length}: a window holds at least one byte")
            lane.index, lane.coder, lane.done, lane.tokens = index, WindowDecoder(code, bits), 0, []
            lane.freq, lane.cum = tables.first(bits)
            lane.cached = None
        decoder, cum, index = lane.coder, lane.cum, lane.index
        assert isinstance(decoder, WindowDecoder) and cum is not None and lane.freq is not None
        symbol = int(np.searchsorted(cum, decoder.target(tables.total), side="right"))
        f = int(lane.freq[symbol])
        decoder.consume(int(cum[symbol]) - f, f, tables.total)
        size = len(pieces.pieces[symbol])
        if size == 0:
            raise WindowFailed(index, f"decodes token {symbol}, which stands for no bytes")
        lane.done += size
        decoded += size
        count += 1
        cost += tables.precision - math.log2(f)
        lane.tokens.append(symbol)
        length = windows[index][1]
        if lane.done > length:
            raise WindowFailed(index, f"decodes a token of {size} bytes past its {length} bytes")
        if decoder.used > bits:
            raise WindowFailed(index, f"its tokens need more than its {bits} bits")
        if lane.done < length:
            return symbol, decoded, (count, cost)
        problem = decoder.check_end()
        if problem:
            raise WindowFailed(index, problem)
        out[index] = lane.tokens
        lane.index = None
