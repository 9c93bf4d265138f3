"""A mutation engine for archives: blind byte damage, and damage aimed at every field the container reads.

:func:`fields` reads an archive with a reader that records where each field is (every byte,
varint, checksum, string and payload, with the name the reader gives it), and where each block
and frame begins and ends. The mutators then damage an archive blindly (bit flips, truncations,
deletions, insertions, duplicated and swapped spans) or aim at a field (each varint at 0, at
its maximum, one more, over-long; each byte at its extremes; the parameter list grown; the
index and footer edited; whole blocks and frames duplicated, dropped or swapped).

:func:`expected` says what a mutant may decode to: the original content, or, when the mutant is
whole frames of the original recombined (cut at a frame's end, a frame repeated), theirs.
:func:`check` applies the invariant.
"""

from __future__ import annotations

import io
import random
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import nacrith
from nacrith.container import FrameReader
from nacrith.container.fields import LAST_KEY
from nacrith.container.writer import varint
from nacrith.errors import NacrithError

__all__ = ["Field", "fields", "frames_of", "aimed", "systematic", "random_mutant", "expected", "check", "Outcome"]


@dataclass(frozen=True)
class Field:
    """A span of the archive: a field the reader read (``kind`` varint, byte, u32, string, bytes), or a block or frame."""

    offset: int
    length: int
    kind: str
    name: str
    value: int | None = None

    @property
    def end(self) -> int:
        return self.offset + self.length


class _Recorder(FrameReader):
    """A frame reader that notes every outermost field it reads."""

    def __init__(self, data: bytes, offset: int, out: list[Field]) -> None:
        super().__init__(io.BytesIO(data[offset:]), offset)
        self._out = out
        self._depth = 0

    def _note(self, kind: str, name: str, read: Callable[[], object]) -> object:
        start = self.offset
        self._depth += 1
        try:
            value = read()
        finally:
            self._depth -= 1
        if not self._depth:
            self._out.append(Field(start, self.offset - start, kind, name, value if isinstance(value, int) else None))
        return value

    def varint(self, what: str) -> int:
        return self._note("varint", what, lambda: super(_Recorder, self).varint(what))  # type: ignore[return-value]

    def byte(self, what: str) -> int:
        return self._note("byte", what, lambda: super(_Recorder, self).byte(what))  # type: ignore[return-value]

    def u32(self, what: str) -> int:
        return self._note("u32", what, lambda: super(_Recorder, self).u32(what))  # type: ignore[return-value]

    def short_string(self, what: str) -> str:
        return self._note("string", what, lambda: super(_Recorder, self).short_string(what))  # type: ignore[return-value]

    def read(self, n: int, what: str) -> bytes:
        return self._note("bytes", what, lambda: super(_Recorder, self).read(n, what))  # type: ignore[return-value]

    def read_up_to(self, n: int) -> bytes:  # only the magic is read this way
        return self._note("bytes", "magic", lambda: super(_Recorder, self).read_up_to(n))  # type: ignore[return-value]

    def read_block(self):  # type: ignore[no-untyped-def]
        start = self.offset
        block = super().read_block()
        self._out.append(Field(start, self.offset - start, "block", type(block).__name__))
        return block


def fields(archive: bytes) -> list[Field]:
    """Every field, block and frame of an archive, in the order read (a frame after its parts); of a damaged
    one, those read before the damage."""
    out: list[Field] = []
    at = 0
    while at < len(archive):
        reader = _Recorder(archive, at, out)
        try:
            reader.read_header()
            out.append(Field(at, reader.offset - at, "header", "header"))
            for _ in reader.blocks():
                pass
        except NacrithError:
            break
        out.append(Field(at, reader.offset - at, "frame", "frame"))
        at = reader.offset
    return out


def frames_of(archive: bytes) -> list[bytes]:
    return [archive[f.offset : f.end] for f in fields(archive) if f.kind == "frame"]


# --- mutators -------------------------------------------------------------------------------------


def _replace(archive: bytes, field: Field, new: bytes) -> bytes:
    return archive[: field.offset] + new + archive[field.end :]


def _overlong(value: int) -> bytes:
    """``value`` as a varint with one needless trailing zero group: valid LEB128, not minimal."""
    raw = bytearray(varint(value))
    raw[-1] |= 0x80
    return bytes(raw) + b"\x00"


def _varint_values(field: Field) -> Iterator[bytes]:
    value = field.value or 0
    for v in {0, 1, 2, max(0, value - 1), value + 1, value * 2, 255, 1 << 16, (1 << 16) + 1, 1 << 31, (1 << 63) - 1}:
        if v != value and v < 1 << 63:
            yield varint(v)
    yield _overlong(value)
    yield b"\xff" * 9 + b"\x01"  # ten bytes: over the nine a varint may have
    yield b"\x80"  # a continuation that never ends (at the end of the input)


def _byte_values(field: Field) -> Iterator[bytes]:
    value = field.value or 0
    for v in {0, 1, 2, 3, 4, 5, 0x7F, 0x80, 0xFF, *(value ^ (1 << bit) for bit in range(8))}:
        if v != value:
            yield bytes([v])


def aimed(archive: bytes, f: Field, spans: list[Field]) -> Iterator[tuple[str, bytes]]:
    """Every aimed mutation of one field, block or frame: ``(what was done, mutant)``."""
    label = f"{f.name} at {f.offset}"
    if f.kind == "varint":
        for new in _varint_values(f):
            yield f"{label} = {new.hex()}", _replace(archive, f, new)
    elif f.kind == "byte":
        for new in _byte_values(f):
            yield f"{label} = {new.hex()}", _replace(archive, f, new)
    elif f.kind == "u32":
        value = f.value or 0
        for v in sorted({0, 0xFFFFFFFF, (value + 1) & 0xFFFFFFFF, (value - 1) & 0xFFFFFFFF}):
            yield f"{label} = {v:#x}", _replace(archive, f, v.to_bytes(4, "little"))
    elif f.kind == "string":
        yield f"{label} empty", _replace(archive, f, b"\x00")
        yield f"{label} longer than it is", archive[: f.offset] + b"\xff" + archive[f.offset + 1 :]
        yield f"{label} not UTF-8", _replace(archive, f, b"\x02\xc3\x28")
    elif f.kind == "bytes" and f.length:
        yield f"{label} one byte short", _replace(archive, f, archive[f.offset : f.end - 1])
        yield f"{label} one byte long", _replace(archive, f, archive[f.offset : f.end] + b"\x00")
        yield f"{label} zeroed", _replace(archive, f, bytes(f.length))
    elif f.kind in ("block", "frame"):
        yield f"{label} dropped", _replace(archive, f, b"")
        yield f"{label} repeated", _replace(archive, f, archive[f.offset : f.end] * 2)
        following = next((g for g in spans if g.kind == f.kind and g.offset == f.end), None)
        if following is not None:
            swapped = archive[following.offset : following.end] + archive[f.offset : f.end]
            yield f"{label} swapped with the next", archive[: f.offset] + swapped + archive[following.end :]


def _parameters_added(archive: bytes, spans: list[Field]) -> Iterator[tuple[str, bytes]]:
    """Pairs added to each parameter list, before its terminating key 0: known keys, the last, one past it."""
    for end in (f for f in spans if f.name == "parameter key" and f.value == 0):
        for key in (1, 3, 8, 9, 12, LAST_KEY, LAST_KEY + 1):
            for value in (0, 1, 1 << 16, (1 << 63) - 1):
                yield f"parameter {key} = {value} added at {end.offset}", archive[: end.offset] + varint(key) + varint(value) + archive[end.offset :]


def systematic(archive: bytes) -> Iterator[tuple[str, bytes]]:
    """Every field set to each of its telling values, every block and frame dropped, repeated and swapped with
    the next, a cut after every field, and the parameter list grown: ``(what was done, mutant)``."""
    spans = fields(archive)
    for f in spans:
        yield from aimed(archive, f, spans)
        if f.end < len(archive):
            yield f"cut after {f.name} at {f.offset}", archive[: f.end]
    yield from _parameters_added(archive, spans)


def random_mutant(archive: bytes, rng: random.Random, spans: list[Field] | None = None) -> tuple[str, bytes]:
    """One blind or aimed mutation of ``archive``, chosen by ``rng``: ``(what was done, mutant)``."""
    spans = spans if spans is not None else fields(archive)
    n = len(archive)
    if not n:
        return "bytes added to nothing", rng.randbytes(rng.randint(1, 8))
    kind = rng.randrange(9 if spans else 7)
    at = rng.randrange(n)
    if kind == 0:
        bit = rng.randrange(8)
        return f"bit {bit} of byte {at} flipped", archive[:at] + bytes([archive[at] ^ (1 << bit)]) + archive[at + 1 :]
    if kind == 1:
        return f"cut at {at}", archive[:at]
    if kind == 2:
        size = rng.randint(1, 16)
        return f"{size} bytes at {at} deleted", archive[:at] + archive[at + size :]
    if kind == 3:
        extra = rng.randbytes(rng.randint(1, 16))
        return f"{extra.hex()} inserted at {at}", archive[:at] + extra + archive[at:]
    if kind == 4:
        span, to = archive[at : at + rng.randint(1, 32)], rng.randrange(n + 1)
        return f"{len(span)} bytes at {at} copied to {to}", archive[:to] + span + archive[to:]
    if kind == 5:
        size = rng.randint(1, 16)
        first, second = sorted((at, rng.randrange(n)))
        if second < first + size:
            return f"byte {at} set", archive[:at] + bytes([rng.randrange(256)]) + archive[at + 1 :]
        a, b = archive[first : first + size], archive[second : second + size]
        return f"{size} bytes at {first} and {second} swapped", archive[:first] + b + archive[first + size : second] + a + archive[second + len(b) :]
    if kind == 6:
        damaged = bytearray(archive)
        hits = rng.randint(2, 6)
        for _ in range(hits):
            damaged[rng.randrange(n)] = rng.randrange(256)
        return f"{hits} random bytes set", bytes(damaged)
    f = rng.choice([f for f in spans if f.kind not in ("frame", "header")] or spans)  # spans: not empty here
    return rng.choice(list(aimed(archive, f, spans)) or [("unchanged", archive)])


# --- the invariant ------------------------------------------------------------------------------------


def expected(mutant: bytes, frames: dict[bytes, bytes], original: bytes) -> bytes:
    """What ``mutant`` may decode to: the contents of the original frames it is made of, when it is nothing but
    whole original frames (``frames``: each frame's bytes -> its content); else the original content."""
    at, parts = 0, []
    ordered = sorted(frames, key=len, reverse=True)
    while at < len(mutant):
        frame = next((f for f in ordered if mutant.startswith(f, at)), None)
        if frame is None:
            return original
        parts.append(frames[frame])
        at += len(frame)
    return b"".join(parts) if parts else original


@dataclass(frozen=True)
class Outcome:
    """How one mutant decoded: its bytes (None when refused), the error's class name, and the time it took."""

    data: bytes | None
    error: str
    seconds: float


def check(mutant: bytes, allowed: bytes, decode: Callable[[bytes], bytes] = nacrith.decompress, what: str = "") -> Outcome:
    """Decode ``mutant``: a NacrithError with a message, or exactly ``allowed``; anything else fails (AssertionError)."""
    began = time.perf_counter()
    try:
        data = decode(mutant)
    except NacrithError as exc:
        seconds = time.perf_counter() - began
        assert str(exc).strip(), f"{what}: {type(exc).__name__} without a message"
        return Outcome(None, type(exc).__name__, seconds)
    except Exception as exc:  # the invariant: nothing but a NacrithError
        raise AssertionError(f"{what}: {type(exc).__name__}: {exc}") from exc
    seconds = time.perf_counter() - began
    assert data == allowed, f"{what}: decoded to {len(data)} bytes that are not the archive's content"
    return Outcome(data, "", seconds)
