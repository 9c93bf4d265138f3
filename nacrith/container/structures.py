"""The container's structures and their bounds: what a frame header, a block and the seek index hold.

Plain data, checked against FORMAT.md's bounds; :mod:`.writer` turns them into bytes and
:mod:`.reader` back (:mod:`.v1` reads version 1). A model is a fingerprint and a few bytes
here, a payload opaque bytes.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field

from ..constants import MAX_CHUNK_BYTES, MAX_LANES, MAX_SEGMENT_BYTES, MIN_SEGMENT_BYTES, STATE_BITS
from ..errors import CorruptArchiveError
from ..neural.adapt import AdaptParams
from ..neural.params import EnsembleParams
from ..transforms import BASE64_FLAGS, base64_length

__all__ = [
    "METHOD_STORED",
    "METHOD_ZSTD",
    "METHOD_NEURAL",
    "METHOD_NEURAL_CRLF",
    "METHOD_XZ",
    "NEURAL_METHODS",
    "FALLBACK_METHODS",
    "METHOD_NAMES",
    "method_name",
    "LAYOUT_CHUNK",
    "LAYOUT_SEGMENT",
    "LAYOUT_INDEXED",
    "LAYOUT_WINDOWS",
    "EqualInfo",
    "WindowBlock",
    "MAX_WINDOW_BYTES",
    "MAX_BLOCK_WINDOWS",
    "BACKEND_LLAMA_CPU",
    "BACKEND_LLAMA_CUDA",
    "BACKEND_TORCH_CPU",
    "BACKEND_TORCH_CUDA",
    "BACKENDS",
    "TORCH_BACKENDS",
    "ModelInfo",
    "CodingParams",
    "FrameHeader",
    "ChunkEntry",
    "Group",
    "OtherBytes",
    "Base64Run",
    "BASE64_FLAGS",
    "EndBlock",
    "IndexEntry",
    "build_tag",
    "crc32",
    "neural_payload_bound",
    "FINGERPRINT_BYTES",
    "BUILD_TAG_BYTES",
    "MAX_WINDOW",
]

METHOD_STORED = 0
METHOD_ZSTD = 1
METHOD_NEURAL = 2
METHOD_NEURAL_CRLF = 3
"""Neural, of the chunk with every CRLF line end made LF (the model codes web-style text better)."""
METHOD_XZ = 4
"""A raw LZMA2 stream (xz's), for bytes where it beats zstd: most binaries (version 2)."""
NEURAL_METHODS = frozenset({METHOD_NEURAL, METHOD_NEURAL_CRLF})
FALLBACK_METHODS = frozenset({METHOD_STORED, METHOD_ZSTD, METHOD_XZ})
METHOD_NAMES = {METHOD_STORED: "stored", METHOD_ZSTD: "zstd", METHOD_NEURAL: "neural", METHOD_NEURAL_CRLF: "neural-crlf", METHOD_XZ: "xz"}

LAYOUT_CHUNK = 0
"""Version 2: the frame is one chunk (a short text): no tables, no end block."""
LAYOUT_SEGMENT = 1
"""Version 2: the frame is one segment, ended by its end block."""
LAYOUT_INDEXED = 2
"""Version 2: segments, then the seek index and its footer."""
LAYOUT_WINDOWS = 3
"""Version 2: equal-info windows, every one exactly W bits of code, in window blocks, then an end block."""

MAX_WINDOW_BYTES = 1 << 20
"""Most text bytes in one equal-info window: an encoder ends a window there (only degenerate text, a run of
one character at a large W, would go further), and a decoder rejects more."""
MAX_BLOCK_WINDOWS = 1 << 22
"""Most windows in one window block, so a damaged count cannot ask for a huge table."""
PRIMERS = (0, 1)
"""Primer numbers a version 2 decoder knows: 0 none, 1 the built-in English primer (FORMAT.md, "Primer")."""

BACKEND_LLAMA_CPU = 0
"""llama.cpp on the CPU (FORMAT.md, "Evaluation context")."""
BACKEND_LLAMA_CUDA = 1
"""llama.cpp with every layer on a CUDA GPU: other kernels, other logits; an archive made there decodes there."""
BACKEND_TORCH_CPU = 2
"""torch on the CPU, float32 (FORMAT.md, "The torch backend"): the same model, other arithmetic, other logits."""
BACKEND_TORCH_CUDA = 3
"""torch on a CUDA GPU, float32."""
BACKENDS = {
    BACKEND_LLAMA_CPU: "llama.cpp CPU",
    BACKEND_LLAMA_CUDA: "llama.cpp CUDA",
    BACKEND_TORCH_CPU: "torch CPU float32",
    BACKEND_TORCH_CUDA: "torch CUDA float32",
}
TORCH_BACKENDS = frozenset({BACKEND_TORCH_CPU, BACKEND_TORCH_CUDA})

MAX_THREADS = 256
"""Most torch threads an archive may ask a decoder to compute with."""
FINGERPRINT_BYTES = 8
BUILD_TAG_BYTES = 2
MAX_WINDOW = 1 << 16


def method_name(method: int) -> str:
    return METHOD_NAMES.get(method, f"unknown({method})")


def neural_payload_bound(symbols: int, precision_bits: int) -> int:
    """Most payload bytes a neural chunk of ``symbols`` tokens (or fewer) may have: no coded chunk exceeds it.
    Version 2 passes the chunk's length: its tokens, each of at least one byte, are no more.

    A frequency of at least 1 in ``2**precision`` costs at most ``precision`` bits, and the
    coder's integer rounding less than 2 more (proof: DESIGN.md, "The neural payload bound");
    the finish adds 2 bits and a byte's padding, well inside the 8 spare bytes.
    """
    return (symbols * (precision_bits + 2) + 7) // 8 + 8


def build_tag(build: str) -> bytes:
    """The short tag of a build identity a version 2 header stores: the first bytes of its SHA-256."""
    return hashlib.sha256(build.encode("utf-8")).digest()[:BUILD_TAG_BYTES]


def crc32(data: bytes, value: int = 0) -> int:
    """CRC-32 (ISO 3309, as in gzip and zip): the checksum of chunks, segments and whole contents."""
    return zlib.crc32(data, value) & 0xFFFFFFFF


@dataclass(frozen=True)
class ModelInfo:
    """What identifies the predictor: decoding with anything else gives garbage."""

    fingerprint: bytes
    """First 8 bytes of the SHA-256 of the GGUF file."""
    build_tag: bytes
    """First 2 bytes of the SHA-256 of the build identity (version 2); logits can change between builds."""
    name: str = ""
    """File name of a model not known by fingerprint (empty for the presets)."""
    build: str = ""
    """The whole build identity, where the archive stores it (version 1); else empty."""
    preset: int = 0
    """The header's model number: 0 for a model named by fingerprint, else a preset's (version 2)."""


@dataclass(frozen=True)
class EqualInfo:
    """Equal-info windows (layout 3): every window is exactly ``bits`` bits of code and decodes alone."""

    bits: int
    """W: bits per window, a multiple of 8 from 16 to 65536."""
    token_bits: int = 16
    """The width of the tokens a window is cut into for export, 8 or 16 (W is a multiple of it)."""
    primer: int = 1
    """The primer every window's base holds after the start token: 0 none, 1 the built-in one."""

    def problems(self) -> list[str]:
        out = []
        if not (16 <= self.bits <= 65536 and self.bits % 8 == 0):
            out.append(f"window bits {self.bits} (a multiple of 8, 16..65536)")
        if self.token_bits not in (8, 16) or self.bits % self.token_bits:
            out.append(f"token bits {self.token_bits} (8 or 16, dividing the window bits)")
        if self.primer not in PRIMERS:
            out.append(f"primer {self.primer} ({', '.join(map(str, PRIMERS))})")
        return out


@dataclass(frozen=True)
class CodingParams:
    """Every parameter the decoder depends on, besides the model itself."""

    precision_bits: int
    lanes: int
    window: int
    slide_keep: int
    chunk_bytes: int
    start_token: int
    ensemble: EnsembleParams | None = None
    """The ensemble's parameters; None: the LLM alone, through the plain quantization."""
    segment_bytes: int = 0
    """Largest segment, in original bytes (version 2); 0 for version 1, whose frame is one sequence."""
    backend: int = BACKEND_LLAMA_CPU
    dictionary: int = 0
    """The dictionary's identity (the first 7 bytes of the SHA-256 of its file, as an integer); 0 for none."""
    adapt: AdaptParams | None = None
    """Dynamic evaluation's parameters (the torch backends only); None: the model stays as it was loaded."""
    threads: int = 1
    """The torch backends' intra-op threads: measured, some of torch's CPU products give other bits on other thread
    counts, so a decoder computes with this many (1 for the llama.cpp backends, whose thread count never matters)."""
    equal_info: EqualInfo | None = None
    """Equal-info windows (layout 3 only); None for chunks and segments."""

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
        if self.segment_bytes and not MIN_SEGMENT_BYTES <= self.segment_bytes <= MAX_SEGMENT_BYTES:
            problems.append(f"segment size {self.segment_bytes} ({MIN_SEGMENT_BYTES}..{MAX_SEGMENT_BYTES})")
        if not 0 <= self.dictionary < 1 << 56:
            problems.append(f"dictionary {self.dictionary} (a 56-bit identity)")
        if self.backend not in BACKENDS:
            problems.append(f"backend {self.backend} (0..{len(BACKENDS) - 1})")
        if not 1 <= self.threads <= MAX_THREADS:
            problems.append(f"threads {self.threads} (1..{MAX_THREADS})")
        elif self.threads != 1 and self.backend not in TORCH_BACKENDS:
            problems.append(f"threads {self.threads} with backend {self.backend} (a torch backend only)")
        if self.adapt is not None:
            problems += self.adapt.problems(window_keep=self.slide_keep)
            if self.backend not in TORCH_BACKENDS:
                problems.append(f"adaptation with backend {self.backend} (a torch backend only)")
        if self.ensemble is not None:
            problems += self.ensemble.problems()
            if not self.ensemble.enabled:
                problems.append("an ensemble with every model off")
        if self.equal_info is not None:
            problems += self.equal_info.problems()
            if self.ensemble is not None:
                problems.append("equal-info windows with the ensemble on (windows use the LLM alone)")
        if problems:
            raise CorruptArchiveError("impossible coding parameters: " + ", ".join(problems))


@dataclass(frozen=True)
class FrameHeader:
    model: ModelInfo
    params: CodingParams
    content_size: int | None = None
    """Original size when known in advance; version 1's end block, and version 2's segments, always have it."""
    version: int = 2
    layout: int = LAYOUT_SEGMENT
    chunk_method: int = METHOD_STORED
    """The method of a one-chunk frame (layout 0)."""


@dataclass(frozen=True)
class ChunkEntry:
    """One row of a group's chunk table (or the one chunk of a frame of layout 0)."""

    method: int
    length: int
    """Original bytes of the chunk."""
    tokens: int
    """Version 1's token count of a neural chunk (decoding stops after this many); 0 in version 2, whose
    neural chunks are decoded until they reach their length."""
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
class Base64Run:
    """A run of other bytes that the segment holds as their base64 text (FORMAT.md, Base64 runs)."""

    run: int
    """Its index in the runs (odd: a run of other bytes)."""
    line_length: int
    flags: int


@dataclass
class OtherBytes:
    """A segment's bytes that are not coded by the model, as one stream, and where they go.

    ``runs`` alternate between text (coded by the groups) and other bytes (this stream),
    text first: ``[text, other, text, other, ...]``; only the first may be empty. A run of
    other bytes that ``base64`` names places the base64 text of its bytes instead of them.
    """

    runs: list[int]
    method: int
    payload_length: int
    crc: int
    """CRC-32 of the other bytes, in order."""
    payload: bytes = b""
    base64: list[Base64Run] = field(default_factory=list)

    @property
    def length(self) -> int:
        """Bytes of the stream."""
        return sum(self.runs[1::2])

    @property
    def text_length(self) -> int:
        return sum(self.runs[0::2])

    @property
    def placed_length(self) -> int:
        """Bytes the runs of other bytes place in the segment: a base64 run its text, the others their bytes."""
        return self.length + sum(base64_length(self.runs[b.run], b.line_length, b.flags) - self.runs[b.run] for b in self.base64)


@dataclass(frozen=True)
class EndBlock:
    """The end of a version 1 frame, or of a version 2 segment: its size and the CRC-32 of its bytes."""

    content_size: int
    crc: int


@dataclass
class WindowBlock:
    """Equal-info windows in a row: each one's text length, the CRC-32 of their text, their code."""

    lengths: list[int]
    crc: int
    code: bytes = b""
    """``len(lengths) * W / 8`` bytes: window ``i`` is bytes ``i * W / 8`` to ``(i + 1) * W / 8``."""

    @property
    def length(self) -> int:
        return sum(self.lengths)


@dataclass(frozen=True)
class IndexEntry:
    """One segment in the seek index."""

    plain_size: int
    archive_size: int
    """Bytes of the segment's blocks in the archive, its end block included."""
    crc: int
