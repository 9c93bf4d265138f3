"""Frames: input bytes in, archive bytes out, and back, one group at a time.

Data flows one way: the encoder cuts input into groups (chunking), gives text chunks
to the model in lockstep lanes (lockstep) and the rest to the fallback, and writes
the container; the decoder reads the container and runs the same lanes. Memory holds
one group at a time, whatever the input size.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from . import chunking, fallback
from .constants import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_LANES,
    DEFAULT_WINDOW,
    MAX_LANES,
    MIN_CHUNK_BYTES,
    PRECISION_BITS,
)
from .container import (
    METHOD_NEURAL,
    METHOD_NEURAL_CRLF,
    NEURAL_METHODS,
    ChunkEntry,
    CodingParams,
    EndBlock,
    FrameHeader,
    FrameReader,
    Group,
    ModelInfo,
    crc32,
    frames,
    neural_payload_bound,
    write_end,
    write_group,
    write_header,
)
from .ensemble import Ensemble
from .ensemble_params import EnsembleParams
from .errors import CorruptArchiveError, ModelMismatchError
from .lockstep import LaneSettings, decode_lanes, encode_lanes
from .models import registry
from .transforms import crlf_to_lf, lf_to_crlf

__all__ = ["Options", "Engine", "FrameEncoder", "FrameDecoder", "decode_stream", "decode_frames", "Progress"]

Progress = Callable[[int, int, float], None]
"""Called as work completes with (input bytes done, tokens coded, their ideal cost in bits)."""


@dataclass(frozen=True)
class Options:
    """Compression settings. Only the encoder chooses them; the archive stores what decoding needs."""

    lanes: int = DEFAULT_LANES
    window: int = DEFAULT_WINDOW
    slide_keep: int | None = None
    """Tokens kept when a window slides; default three quarters of the window."""
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    min_chunk_bytes: int = MIN_CHUNK_BYTES
    ensemble: EnsembleParams | None = EnsembleParams()
    """The models mixed with the LLM (None: the LLM alone)."""
    crlf: bool = True
    """Code text whose line ends are all CRLF as LF text (method neural-crlf): the model knows LF text better."""

    def __post_init__(self) -> None:
        if not 1 <= self.lanes <= MAX_LANES:
            raise ValueError(f"lanes must be 1..{MAX_LANES}, got {self.lanes}")
        if not 16 <= self.window <= 1 << 16:
            raise ValueError(f"window must be 16..65536 tokens, got {self.window}")
        if self.slide_keep is not None and not 1 <= self.slide_keep < self.window:
            raise ValueError(f"slide_keep must be 1..window-1, got {self.slide_keep}")
        if not 256 <= self.chunk_bytes <= 1 << 24:
            raise ValueError(f"chunk_bytes must be 256..16 MiB, got {self.chunk_bytes}")
        if self.ensemble is not None and (self.ensemble.problems() or not self.ensemble.enabled):
            raise ValueError(f"unusable ensemble parameters: {', '.join(self.ensemble.problems()) or 'every model off'}")

    @property
    def keep(self) -> int:
        return self.slide_keep if self.slide_keep is not None else self.window * 3 // 4

    @property
    def group_bytes(self) -> int:
        return self.lanes * self.chunk_bytes


class Engine:
    """A model file, loaded on first use, with the evaluator of the last lane shape used.

    Creating the engine only resolves and fingerprints the file; binary input never loads it.
    """

    def __init__(self, model: str | os.PathLike[str] | None = None, threads: int | None = None) -> None:
        self.path: Path = registry.resolve_model_path(model)
        self.fingerprint = registry.fingerprint(self.path)
        self.threads = threads
        self._model = None
        self._evaluator = None
        self._evaluator_shape: tuple[int, int] | None = None

    @property
    def model(self):  # -> LanguageModel; imported lazily so binary-only work never loads llama.cpp
        if self._model is None:
            from .models.llm import LanguageModel

            self._model = LanguageModel(self.path)
        return self._model

    def evaluator(self, lanes: int, window: int):
        if self._evaluator_shape != (lanes, window):
            self._evaluator = None  # free the old KV cache before allocating the next
            self._evaluator = self.model.evaluator(lanes, window, self.threads)
            self._evaluator_shape = (lanes, window)
        return self._evaluator

    def model_info(self) -> ModelInfo:
        from .models.llm import build_id

        # A file name that is not UTF-8 (possible on Linux) is stored with replacement characters.
        name = "" if registry.known_name(self.fingerprint) else os.fsencode(self.path.name).decode("utf-8", "replace")
        return ModelInfo(self.fingerprint, build_id(), name)

    def describe(self) -> str:
        return f"{self.path.name} [{self.fingerprint.hex()}]"


def _describe_model(info: ModelInfo) -> str:
    name = info.name or registry.known_name(info.fingerprint) or "unknown model"
    return f"{name} [{info.fingerprint.hex()}]"


_FALLBACK = -1
"""A chunk's method until fallback.pack decides between zstd and stored."""


@dataclass
class _Chunk:
    data: bytes
    method: int
    payload: bytes = b""
    tokens: list[int] = field(default_factory=list)


def _join_fallback(chunks: list[_Chunk]) -> list[_Chunk]:
    """Neighbouring chunks for the fallback become one: zstd does better on one longer input."""
    out: list[_Chunk] = []
    for chunk in chunks:
        if out and chunk.method not in NEURAL_METHODS and out[-1].method not in NEURAL_METHODS:
            out[-1] = _Chunk(out[-1].data + chunk.data, _FALLBACK)
        else:
            out.append(chunk)
    return out


def _input_bytes(model, tokens: list[int], crlf_tokens: list[int]) -> int:
    """Input bytes that ``tokens`` stand for: their pieces, and a CR per LF in neural-crlf chunks."""
    return int(model.piece_lengths[tokens].sum() + model.piece_newlines[crlf_tokens].sum())


def _neural_chunk(model, text: bytes, crlf: bool) -> _Chunk:
    """The chunk coded by the model if its tokens give back exactly its bytes, else for the fallback.

    With ``crlf``, text whose every line feed follows a carriage return is coded as LF text:
    removing the CR of each CRLF is undone exactly by putting one before each LF.
    """
    lf = crlf_to_lf(text) if crlf else None
    if lf is not None:
        tokens = model.tokenize(lf)
        if tokens and model.detokenize(tokens) == lf:
            return _Chunk(text, METHOD_NEURAL_CRLF, tokens=tokens)
    tokens = model.tokenize(text)
    if tokens and model.detokenize(tokens) == text:
        return _Chunk(text, METHOD_NEURAL, tokens=tokens)
    return _Chunk(text, _FALLBACK)


class FrameEncoder:
    """Streams one frame: feed bytes with :meth:`write`, end with :meth:`finish`; each returns archive bytes."""

    def __init__(
        self,
        engine: Engine,
        options: Options | None = None,
        content_size: int | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.engine = engine
        self.options = options or Options()
        self._progress = progress
        self._pending = bytearray()
        self._crc = 0
        self._size = 0
        self._finished = False
        o = self.options
        self.params = CodingParams(PRECISION_BITS, o.lanes, o.window, o.keep, o.chunk_bytes, 0, o.ensemble)
        self._ensemble: Ensemble | None = None
        self._lane_methods: list[int] = []
        self._content_size = content_size
        self._header_written = False

    def _header(self) -> bytes:
        if self._header_written:
            return b""
        self._header_written = True
        # The start token belongs to the model, so even binary input loads it (a ~0.1 s mmap).
        start = self.engine.model.start_token
        self.params = dataclasses.replace(self.params, start_token=start)
        return write_header(FrameHeader(self.engine.model_info(), self.params, self._content_size))

    def write(self, data: bytes) -> bytes:
        if self._finished:
            raise ValueError("cannot write() after finish()")
        self._pending += data
        out = bytearray(self._header())
        group_bytes = self.options.group_bytes
        while len(self._pending) > group_bytes:
            cut = chunking.safe_cut(self._pending, group_bytes, 0)
            out += self._encode_segment(bytes(self._pending[:cut]))
            del self._pending[:cut]
        return bytes(out)

    def finish(self) -> bytes:
        if self._finished:
            raise ValueError("cannot finish() twice")
        out = bytearray(self._header())
        if self._pending:
            out += self._encode_segment(bytes(self._pending))
            self._pending.clear()
        self._finished = True
        if self._content_size is not None and self._content_size != self._size:
            raise ValueError(f"content_size was given as {self._content_size}, but {self._size} bytes were written")
        out += write_end(EndBlock(self._size, self._crc))
        return bytes(out)

    def _encode_segment(self, segment: bytes) -> bytes:
        """Cut a segment into chunks, code them, and return the group blocks."""
        self._crc = crc32(segment, self._crc)
        self._size += len(segment)
        chunks = self._plan(segment)
        out = bytearray()
        group: list[_Chunk] = []
        for chunk in chunks:
            neural = sum(c.method in NEURAL_METHODS for c in group)
            if group and chunk.method in NEURAL_METHODS and neural == self.options.lanes:
                out += self._encode_group(group)
                group = []
            group.append(chunk)
        if group:
            out += self._encode_group(group)
        return bytes(out)

    def _plan(self, segment: bytes) -> list[_Chunk]:
        o = self.options
        chunks: list[_Chunk] = []
        model = None
        for piece in chunking.split_text_runs(segment):
            data = segment[piece.start : piece.end]
            if not piece.is_text:
                chunks.append(_Chunk(data, _FALLBACK))
                continue
            model = model or self.engine.model
            count = chunking.chunk_count(len(data), o.lanes, o.chunk_bytes, o.min_chunk_bytes)
            start = 0
            for end in chunking.cut_points(data, count, o.chunk_bytes):
                text = data[start:end]
                start = end
                chunks.append(_neural_chunk(model, text, o.crlf))
        return _join_fallback(chunks)

    def _encode_group(self, group: list[_Chunk]) -> bytes:
        neural = [c for c in group if c.method in NEURAL_METHODS]
        p = self.params
        settings = LaneSettings(p.precision_bits, p.window, p.slide_keep, p.start_token)
        if neural:
            if p.ensemble is not None and self._ensemble is None:
                self._ensemble = Ensemble(p.ensemble, self.engine.model.vocab_size, p.precision_bits)
            evaluator = self.engine.evaluator(len(neural), p.window)
            self._lane_methods = [c.method for c in neural]
            payloads = encode_lanes(evaluator, [c.tokens for c in neural], settings, self._lane_progress, self._ensemble)
            for chunk, payload in zip(neural, payloads):
                # The bound holds for any frequencies >= 1 (container.neural_payload_bound): a payload
                # over it would be a broken coder, never a chunk to send elsewhere.
                assert len(payload) <= neural_payload_bound(len(chunk.tokens), p.precision_bits), (len(payload), len(chunk.tokens))
                chunk.payload = payload
        entries, payloads = [], []
        for chunk in group:
            if chunk.method not in NEURAL_METHODS:
                chunk.method, chunk.payload = fallback.pack(chunk.data)
                if self._progress:
                    self._progress(len(chunk.data), 0, 8.0 * len(chunk.payload))
            tokens = len(chunk.tokens) if chunk.method in NEURAL_METHODS else 0
            entries.append(ChunkEntry(chunk.method, len(chunk.data), tokens, len(chunk.payload), crc32(chunk.data)))
            payloads.append(chunk.payload)
        return write_group(Group(entries, payloads))

    def _lane_progress(self, lanes: list[int], tokens: list[int], bits: float) -> None:
        if self._progress:
            crlf = [t for lane, t in zip(lanes, tokens) if self._lane_methods[lane] == METHOD_NEURAL_CRLF]
            self._progress(_input_bytes(self.engine.model, tokens, crlf), len(tokens), bits)


class FrameDecoder:
    """Decodes the blocks of one frame in order; every chunk is checked before its bytes are returned.

    ``engine_factory`` is called only when the first neural chunk appears, so an archive of
    binary data decodes without loading a model.
    """

    def __init__(self, header: FrameHeader, engine_factory: Callable[[], Engine], progress: Progress | None = None) -> None:
        self.header = header
        p = header.params
        self._settings = LaneSettings(p.precision_bits, p.window, p.slide_keep, p.start_token)
        self._engine_factory = engine_factory
        self._engine: Engine | None = None
        self._ensemble: Ensemble | None = None
        self._lane_methods: list[int] = []
        self._progress = progress
        self._crc = 0
        self._size = 0
        self._groups = 0
        self.finished = False

    def decode(self, block: Group | EndBlock) -> bytes:
        if self.finished:
            raise CorruptArchiveError("data after the end block")
        if isinstance(block, EndBlock):
            self._check_end(block)
            self.finished = True
            return b""
        neural = [i for i, e in enumerate(block.entries) if e.method in NEURAL_METHODS]
        tokens: dict[int, list[int]] = {}
        if neural:
            engine = self._engine_for_neural()
            p = self.header.params
            self._lane_methods = [block.entries[i].method for i in neural]
            if p.ensemble is not None and self._ensemble is None:
                self._ensemble = Ensemble(p.ensemble, engine.model.vocab_size, p.precision_bits)
            decoded = decode_lanes(
                engine.evaluator(len(neural), p.window),
                [block.payloads[i] for i in neural],
                [block.entries[i].tokens for i in neural],
                self._settings,
                self._lane_progress,
                self._ensemble,
            )
            tokens = dict(zip(neural, decoded))
        parts = []
        for i, (entry, payload) in enumerate(zip(block.entries, block.payloads)):
            if entry.method in NEURAL_METHODS:
                data = self._engine_for_neural().model.detokenize(tokens[i])
                if entry.method == METHOD_NEURAL_CRLF:
                    data = lf_to_crlf(data)
            else:
                data = fallback.unpack(entry.method, payload, entry.length)
            if len(data) != entry.length or crc32(data) != entry.crc:
                _chunk_failed(self.header.model, self._engine, self._groups, i, entry)
            parts.append(data)
        out = b"".join(parts)
        self._crc = crc32(out, self._crc)
        self._size += len(out)
        self._groups += 1
        if self._progress:  # neural bytes were reported token by token
            self._progress(sum(e.length for e in block.entries if e.method not in NEURAL_METHODS), 0, 0.0)
        return out

    def _engine_for_neural(self) -> Engine:
        if self._engine is None:
            engine = self._engine_factory()
            _check_model(self.header.model, engine)
            vocab = engine.model.vocab_size
            p = self.header.params
            if vocab > 1 << p.precision_bits or p.start_token >= vocab:
                raise CorruptArchiveError(
                    f"impossible parameters for a {vocab}-token model: precision {p.precision_bits} bits, "
                    f"start token {p.start_token}"
                )
            self._engine = engine
        return self._engine

    def _lane_progress(self, lanes: list[int], tokens: list[int], bits: float) -> None:
        if self._progress and self._engine is not None:
            crlf = [t for lane, t in zip(lanes, tokens) if self._lane_methods[lane] == METHOD_NEURAL_CRLF]
            self._progress(_input_bytes(self._engine.model, tokens, crlf), len(tokens), bits)

    def _check_end(self, end: EndBlock) -> None:
        declared = self.header.content_size
        if end.content_size != self._size or (declared is not None and declared != self._size):
            raise CorruptArchiveError(
                f"the archive decodes to {self._size} bytes, but it declares {end.content_size}"
                + (f" (header: {declared})" if declared is not None else "")
            )
        if end.crc != self._crc:
            raise CorruptArchiveError("the content checksum does not match: the archive is damaged")


def decode_stream(
    reader: FrameReader, engine_factory: Callable[[], Engine], progress: Progress | None = None, *, last: bool = True
) -> Iterator[bytes]:
    """Yield the original bytes of the frame in ``reader``, group by group (``last``: nothing may follow it)."""
    decoder = FrameDecoder(reader.read_header(), engine_factory, progress)
    for block in reader.blocks(last=last):
        out = decoder.decode(block)
        if out:
            yield out


def decode_frames(stream: BinaryIO, engine_factory: Callable[[], Engine], progress: Progress | None = None) -> Iterator[bytes]:
    """Yield the original bytes of every frame in ``stream``: concatenated archives decode to the
    concatenation of their contents, as gzip, xz and zstd streams do."""
    for reader in frames(stream):
        yield from decode_stream(reader, engine_factory, progress, last=False)


def _check_model(expected: ModelInfo, engine: Engine) -> None:
    if expected.fingerprint != engine.fingerprint:
        raise ModelMismatchError(
            f"the archive was made with model {_describe_model(expected)}, "
            f"but the model in use is {engine.describe()}; pass the archive's model with --model (or model=)"
        )


def _chunk_failed(expected: ModelInfo, engine: Engine | None, group: int, index: int, entry: ChunkEntry) -> None:
    where = f"group {group}, chunk {index} ({entry.method_name}, {entry.length} bytes)"
    if entry.method in NEURAL_METHODS and engine is not None:
        from .models.llm import build_id

        here = build_id()
        if here != expected.llama_version:
            raise ModelMismatchError(
                f"{where} does not decode to its checksum: the archive was written by llama.cpp build "
                f"{expected.llama_version!r} and this is {here!r}, whose logits differ. "
                f"Decode it where llama-cpp-python {expected.llama_version.split('/')[0]} was built the same way."
            )
    raise CorruptArchiveError(f"{where} fails its checksum: the archive is damaged")
