"""The dictionary file (.nacrd): its fields to bytes and back, every rule of FORMAT.md's "Dictionary file" checked.

It knows nothing of models: a primer and training sequences are token numbers here, a model a
fingerprint. The whole file is read at once (it is small, and its checksum covers all of it):
the magic and version first, then the CRC-32, then each field with its bounds, so damage is
named as damage and a well-formed file that breaks a rule as what it breaks.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from ..container import crc32
from ..container.writer import varint
from ..errors import CorruptArchiveError, UnsupportedFormatError
from ..neural.params import RATE_BITS, EnsembleParams

__all__ = [
    "DICTIONARY_MAGIC",
    "DICTIONARY_VERSION",
    "MAX_DICTIONARY_BYTES",
    "DictionaryContent",
    "mixer_shape",
    "write_dictionary",
    "read_dictionary",
    "identity_of",
]

DICTIONARY_MAGIC = b"\x8eNCD"
"""A dictionary's magic: the archive's high first byte, then ``NCD``, so neither is taken for the other."""

DICTIONARY_VERSION = 1

MAX_VOCAB = 1 << 21
"""Largest vocabulary a dictionary may name: the ensemble's integers stay exact in binary64 below it (FORMAT.md)."""

MAX_PRIMER_TOKENS = 65535
"""A primer fills at most a window (2**16 tokens) less the token fed at step 0."""

MAX_SEQUENCE_TOKENS = 1 << 22
"""Training tokens a dictionary may hold in all: they are replayed into the n-gram and match tables
when it is loaded, which should take seconds, not hours."""

MAX_DICTIONARY_BYTES = 64 << 20
"""Largest file a reader accepts: more than any dictionary within the bounds above."""

MIN_MIXER_WEIGHT = 1e-6
"""The mixer never lets a weight fall below this (nacrith.models.mixer), so a stored one may not either."""

_FLAG_ENSEMBLE = 0x01

_SMALLEST = 4 + 1 + 8 + 1 + 1 + 1 + 4
"""Magic, version, fingerprint, a one-byte vocabulary and primer length, flags, CRC-32: a primer of no tokens."""


@dataclass(frozen=True)
class DictionaryContent:
    """What a dictionary file says, field by field (FORMAT.md, "Dictionary file")."""

    fingerprint: bytes
    """The model it was trained for: the first 8 bytes of the SHA-256 of its GGUF file."""
    vocab_size: int
    primer: tuple[int, ...]
    """Tokens every lane sees after the start token and before its chunk."""
    ensemble: EnsembleParams | None = None
    """The ensemble parameters its state is for; None: no ensemble state (a primer alone)."""
    sequences: tuple[tuple[int, ...], ...] = ()
    """Token sequences replayed into the n-gram and match tables."""
    bias: tuple[int, ...] | None = None
    """The bias head's start, one integer over 2**16 per token (with a bias head)."""
    mixer: tuple[tuple[float, ...], ...] | None = None
    """The mixer's start, one row of weights per mixing context (with a mixer)."""


def mixer_shape(params: EnsembleParams) -> tuple[int, int] | None:
    """(mixing contexts, inputs) of the ensemble's mixer, None without one (nacrith.neural.ensemble)."""
    inputs = 1 + params.ngram_orders + (1 if params.match_min_length else 0)
    if inputs == 1:
        return None
    return 4 * (2 * params.ngram_orders + 1) * 5, inputs


def identity_of(data: bytes) -> int:
    """A dictionary file's identity, as archives name it: the first 7 bytes of its SHA-256, big-endian."""
    return int.from_bytes(hashlib.sha256(data).digest()[:7], "big")


def _zigzag(value: int) -> int:
    return 2 * value if value >= 0 else -2 * value - 1


def write_dictionary(content: DictionaryContent) -> bytes:
    """The file's bytes; raises ValueError for content that breaks a rule a reader checks."""
    _check(content, ValueError)
    out = bytearray(DICTIONARY_MAGIC)
    out.append(DICTIONARY_VERSION)
    out += content.fingerprint
    out += varint(content.vocab_size)
    out += varint(len(content.primer)) + b"".join(varint(t) for t in content.primer)
    out.append(_FLAG_ENSEMBLE if content.ensemble else 0)
    if content.ensemble:
        out += b"".join(varint(v) for v in content.ensemble.values())
        out += varint(len(content.sequences))
        for sequence in content.sequences:
            out += varint(len(sequence)) + b"".join(varint(t) for t in sequence)
        if content.bias is not None:
            out += b"".join(varint(_zigzag(b)) for b in content.bias)
        if content.mixer is not None:
            out += b"".join(struct.pack("<d", w) for row in content.mixer for w in row)
    out += crc32(bytes(out)).to_bytes(4, "little")
    return bytes(out)


class _Cursor:
    """Reads the fields of a dictionary whose checksum held; running out is then a rule broken, not a cut."""

    def __init__(self, data: bytes, end: int, name: str) -> None:
        self.data, self.at, self.end, self.name = data, 0, end, name

    def fail(self, what: str) -> CorruptArchiveError:
        return CorruptArchiveError(f"dictionary {self.name}: {what} (byte {self.at})")

    def take(self, n: int, what: str) -> bytes:
        if self.at + n > self.end:
            raise self.fail(f"{what} runs past the end of the file")
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def varint(self, what: str, low: int = 0, high: int = (1 << 63) - 1) -> int:
        value = 0
        for i in range(9):
            byte = self.take(1, what)[0]
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if i and byte == 0:
                    raise self.fail(f"over-long varint for {what}")
                if not low <= value <= high:
                    raise self.fail(f"{what} {value} ({low}..{high})")
                return value
        raise self.fail(f"varint for {what} longer than 9 bytes")

    def tokens(self, count: int, vocab: int, what: str) -> tuple[int, ...]:
        return tuple(self.varint(what, 0, vocab - 1) for _ in range(count))


def read_dictionary(data: bytes, name: str = "") -> DictionaryContent:
    """The content of a dictionary file. UnsupportedFormatError: not a dictionary, or a newer version;
    CorruptArchiveError: damaged (its checksum fails), or a field breaks its rule."""
    name = name or "(bytes)"
    if len(data) < len(DICTIONARY_MAGIC) + 1 or data[:4] != DICTIONARY_MAGIC:
        raise UnsupportedFormatError(f"{name} is not a nacrith dictionary (no dictionary magic 8e 4e 43 44)")
    if data[4] != DICTIONARY_VERSION:
        raise UnsupportedFormatError(f"dictionary {name} is of version {data[4]}; this nacrith reads version {DICTIONARY_VERSION}")
    if len(data) < _SMALLEST or crc32(data[:-4]) != int.from_bytes(data[-4:], "little"):
        raise CorruptArchiveError(f"dictionary {name} fails its checksum: the file is damaged or cut short")
    cursor = _Cursor(data, len(data) - 4, name)
    cursor.take(5, "magic and version")
    fingerprint = cursor.take(8, "model fingerprint")
    vocab = cursor.varint("vocabulary size", 1, MAX_VOCAB)
    primer = cursor.tokens(cursor.varint("primer length", 0, MAX_PRIMER_TOKENS), vocab, "primer token")
    flags = cursor.take(1, "flags")[0]
    if flags & ~_FLAG_ENSEMBLE:
        raise cursor.fail(f"reserved flag bits set ({flags:#04x})")
    content = DictionaryContent(fingerprint, vocab, primer)
    if flags & _FLAG_ENSEMBLE:
        params = EnsembleParams.from_values([cursor.varint("ensemble parameter") for _ in EnsembleParams().values()])
        problems = params.problems() or ([] if params.enabled else ["every model off"])
        if problems:
            raise cursor.fail("invalid ensemble parameters: " + ", ".join(problems))
        sequences, total = [], 0
        for _ in range(cursor.varint("sequence count", 0, MAX_SEQUENCE_TOKENS)):
            length = cursor.varint("sequence length", 1, MAX_SEQUENCE_TOKENS - total)
            total += length
            sequences.append(cursor.tokens(length, vocab, "sequence token"))
        bias = None
        if params.bias_rate:
            bias = tuple(_unzigzag(cursor.varint("bias"), params.bias_limit, cursor) for _ in range(vocab))
        mixer = None
        shape = mixer_shape(params)
        if shape:
            contexts, inputs = shape
            raw = cursor.take(8 * contexts * inputs, "mixer weights")
            weights = struct.unpack(f"<{contexts * inputs}d", raw)
            if not all(MIN_MIXER_WEIGHT <= w <= 1.0 for w in weights):  # NaN fails too
                raise cursor.fail(f"a mixer weight outside {MIN_MIXER_WEIGHT}..1")
            mixer = tuple(tuple(weights[i * inputs : (i + 1) * inputs]) for i in range(contexts))
        content = DictionaryContent(fingerprint, vocab, primer, params, tuple(sequences), bias, mixer)
    if cursor.at != cursor.end:
        raise cursor.fail(f"{cursor.end - cursor.at} bytes after the last field")
    return content


def _unzigzag(value: int, limit: int, cursor: _Cursor) -> int:
    out = value // 2 if value % 2 == 0 else -(value + 1) // 2
    if not -limit <= out <= limit:
        raise cursor.fail(f"a bias of {out} / 2**{RATE_BITS} beyond the limit {limit} / 2**{RATE_BITS}")
    return out


def _check(content: DictionaryContent, error: type[Exception]) -> None:
    """The rules a reader checks, for a writer: what it writes must read back."""
    problems = []
    if len(content.fingerprint) != 8:
        problems.append("a fingerprint of 8 bytes")
    if not 1 <= content.vocab_size <= MAX_VOCAB:
        problems.append(f"a vocabulary of 1..{MAX_VOCAB} tokens")
    tokens = [*content.primer, *(t for s in content.sequences for t in s)]
    if any(not 0 <= t < content.vocab_size for t in tokens):
        problems.append("tokens below the vocabulary size")
    if len(content.primer) > MAX_PRIMER_TOKENS:
        problems.append(f"a primer of at most {MAX_PRIMER_TOKENS} tokens")
    params = content.ensemble
    if params is None:
        if content.sequences or content.bias is not None or content.mixer is not None:
            problems.append("no ensemble state without ensemble parameters")
    else:
        if params.problems() or not params.enabled:
            problems.append("valid ensemble parameters")
        if any(not s for s in content.sequences) or sum(map(len, content.sequences)) > MAX_SEQUENCE_TOKENS:
            problems.append(f"sequences of at least 1 token, at most {MAX_SEQUENCE_TOKENS} in all")
        if (content.bias is not None) != bool(params.bias_rate):
            problems.append("a bias exactly when the bias head is on")
        elif content.bias is not None and (len(content.bias) != content.vocab_size or any(abs(b) > params.bias_limit for b in content.bias)):
            problems.append("one bias per token, within the bias limit")
        shape = mixer_shape(params)
        if (content.mixer is not None) != bool(shape):
            problems.append("mixer weights exactly when there is a mixer")
        elif content.mixer is not None and shape is not None:
            if len(content.mixer) != shape[0] or any(len(row) != shape[1] for row in content.mixer):
                problems.append(f"mixer weights of {shape[0]} x {shape[1]}")
            elif not all(MIN_MIXER_WEIGHT <= w <= 1.0 for row in content.mixer for w in row):
                problems.append(f"mixer weights in {MIN_MIXER_WEIGHT}..1")
    if problems:
        raise error("a dictionary needs " + ", ".join(problems))
