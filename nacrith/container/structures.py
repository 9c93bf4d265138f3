"""The container's structures and their bounds: what a frame header, a chunk entry and an end block hold.

Plain data, checked against FORMAT.md's bounds; :mod:`.writer` turns them into bytes and
:mod:`.reader` back. A model is a fingerprint and a few strings here, a payload opaque bytes.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from ..constants import MAX_CHUNK_BYTES, MAX_LANES, STATE_BITS
from ..errors import CorruptArchiveError
from ..neural.params import EnsembleParams

__all__ = [
    "METHOD_STORED",
    "METHOD_ZSTD",
    "METHOD_NEURAL",
    "METHOD_NEURAL_CRLF",
    "NEURAL_METHODS",
    "method_name",
    "METHOD_NAMES",
    "ModelInfo",
    "CodingParams",
    "FrameHeader",
    "ChunkEntry",
    "Group",
    "EndBlock",
    "crc32",
    "neural_payload_bound",
    "FINGERPRINT_BYTES",
    "MAX_WINDOW",
]

METHOD_STORED = 0
METHOD_ZSTD = 1
METHOD_NEURAL = 2
METHOD_NEURAL_CRLF = 3
"""Neural, of the chunk with every CRLF line end made LF (the model codes web-style text better)."""
NEURAL_METHODS = frozenset({METHOD_NEURAL, METHOD_NEURAL_CRLF})
METHOD_NAMES = {METHOD_STORED: "stored", METHOD_ZSTD: "zstd", METHOD_NEURAL: "neural", METHOD_NEURAL_CRLF: "neural-crlf"}

FINGERPRINT_BYTES = 8
MAX_WINDOW = 1 << 16


def method_name(method: int) -> str:
    return METHOD_NAMES.get(method, f"unknown({method})")


def neural_payload_bound(tokens: int, precision_bits: int) -> int:
    """Most payload bytes a neural chunk may have, a bound no coded chunk can exceed.

    A frequency of at least 1 in ``2**precision`` costs at most ``precision`` bits, and the
    coder's integer rounding less than 2 more: the interval it narrows spans more than
    ``2**30`` of the state, so ``span // total >= 2**(30 - precision)`` (FORMAT.md, "Chunk
    entry"). The finish adds 2 bits and a byte's padding, well inside the 8 spare bytes.
    """
    return (tokens * (precision_bits + 2) + 7) // 8 + 8


def crc32(data: bytes, value: int = 0) -> int:
    """CRC-32 (ISO 3309, as in gzip and zip): the checksum of chunks and of the whole content."""
    return zlib.crc32(data, value) & 0xFFFFFFFF


@dataclass(frozen=True)
class ModelInfo:
    """What identifies the predictor: decoding with anything else gives garbage."""

    fingerprint: bytes
    """First 8 bytes of the SHA-256 of the GGUF file."""
    llama_version: str
    """llama-cpp-python version that wrote the archive; logits can change between builds."""
    name: str = ""
    """File name of a model not known by fingerprint (empty for the built-in presets)."""


@dataclass(frozen=True)
class CodingParams:
    """Every parameter the neural decoder depends on, besides the model itself."""

    precision_bits: int
    lanes: int
    window: int
    slide_keep: int
    chunk_bytes: int
    start_token: int
    ensemble: EnsembleParams | None = None
    """The ensemble's parameters; None: the LLM alone, through the plain quantization."""

    def validate(self) -> None:
        """Raise CorruptArchiveError when a value is impossible (a damaged or hostile header)."""
        problems = []
        if not 1 <= self.precision_bits <= STATE_BITS - 2:
            problems.append(f"precision {self.precision_bits} bits (1..{STATE_BITS - 2})")
        if not 1 <= self.lanes <= MAX_LANES:
            problems.append(f"lanes {self.lanes} (1..{MAX_LANES})")
        if not 2 <= self.window <= MAX_WINDOW:
            problems.append(f"window {self.window} (2..{MAX_WINDOW})")
        if not 1 <= self.slide_keep < self.window:
            problems.append(f"slide keep {self.slide_keep} (1..window-1)")
        if not 1 <= self.chunk_bytes <= MAX_CHUNK_BYTES:
            problems.append(f"chunk size {self.chunk_bytes} (1..{MAX_CHUNK_BYTES})")
        if self.ensemble is not None:
            problems += self.ensemble.problems()
            if not self.ensemble.enabled:
                problems.append("an ensemble with every model off")
        if problems:
            raise CorruptArchiveError("impossible coding parameters: " + ", ".join(problems))


@dataclass(frozen=True)
class FrameHeader:
    model: ModelInfo
    params: CodingParams
    content_size: int | None = None
    """Original size when known in advance (not for a stream); the end block always has it."""


@dataclass(frozen=True)
class ChunkEntry:
    """One row of a group's chunk table."""

    method: int
    length: int
    """Original bytes of the chunk."""
    tokens: int
    """Token count (neural chunks only; 0 otherwise). Decoding stops after this many."""
    payload_length: int
    crc: int
    """CRC-32 of the chunk's original bytes: a bad model or build stops at the first bad chunk."""

    @property
    def method_name(self) -> str:
        return method_name(self.method)


@dataclass
class Group:
    """Chunks coded together: the neural ones ran side by side as lanes, in table order."""

    entries: list[ChunkEntry]
    payloads: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class EndBlock:
    content_size: int
    crc: int

