"""FORMAT.md and its test vectors (format-vectors/*.json) are checked against the code.

* Every ``python`` block of FORMAT.md (the build string, slides, schedule, quantization,
  ensemble and coder) is executed; its functions must produce the vectors and agree with
  nacrith's code.
* Every vector file is read, and the code must write, read and reject exactly those bytes and
  values. Vectors N4 to N6 must also fail the slips of the reference code they are there to
  catch.
* The annotated tables FORMAT.md keeps (Vectors A2 and A3) must be what the small parser below,
  written from FORMAT.md and not from the container code, makes of the vectors' bytes.

Only the tests marked slow need the language model (Vector A5). Vectors A7 and A8 replace the
model by a formula: nacrith's encoder and decoder run on it through :class:`FormulaEngine`, the
one place this module plugs a model into them. How a slide moves a cache is checked without the
model, by playing the llama.cpp calls on a cache simulated as llama.h documents them.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import re
import types
import zlib
from pathlib import Path

import numpy as np
import pytest

# nacrith's internals, all named here: the one place to repoint when modules move.
import nacrith
import nacrith.api
import nacrith.codec
from nacrith import errors, fallback
from nacrith.codec import FrameEncoder, Options, decode_frames
from nacrith.coder import ArithmeticDecoder, ArithmeticEncoder, quantize
from nacrith.coder.cdf import exp_table
from nacrith.constants import FORMAT_VERSION, MAGIC
from nacrith.container import (
    NEURAL_METHODS,
    ChunkEntry,
    CodingParams,
    EndBlock,
    FrameHeader,
    FrameReader,
    Group,
    ModelInfo,
    write_end,
    write_group,
    write_header,
)
from nacrith.ensemble import Ensemble
from nacrith.ensemble_params import MAX_MEMORY, EnsembleParams
from nacrith.lockstep import LaneSettings, decode_lanes, encode_lanes

LLM_MODULE = "nacrith.models.llm"  # imports llama_cpp: imported only by the tests that need it
REGISTRY_MODULE = "nacrith.models.registry"
ENGINE_PATCHES = ((nacrith.api, "engine"), (nacrith.codec, "Engine"))
"""Where nacrith resolves a model for decoding: patched to fail in the tests that must not load one."""

ROOT = Path(__file__).resolve().parent.parent
FORMAT_MD = ROOT / "FORMAT.md"
DESIGN_MD = ROOT / "DESIGN.md"
VECTOR_DIR = ROOT / "format-vectors"
KINDS = ("archives", "rejected", "coder", "quantize", "exptable", "build", "schedule", "ensemble")


# --- reading FORMAT.md and the vector files -----------------------------------------------------------

_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.S | re.M)
_ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*`([0-9a-f ]*)`\s*\|\s*([^|]*?)\s*\|\s*([^|]*?)\s*\|\s*$", re.M)


def _text(path: Path) -> str:
    if not path.exists():
        pytest.fail(f"{path} is missing")
    return path.read_text(encoding="utf-8")


def _load(kind: str) -> list[dict]:
    path = VECTOR_DIR / f"{kind}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


VECTORS = {kind: _load(kind) for kind in KINDS}
ARCHIVES, REJECTED, CODERS, QUANTIZERS, TABLES, BUILDS, SCHEDULES, ENSEMBLES = (VECTORS[k] for k in KINDS)
FORMULA_ARCHIVES = [v for v in ARCHIVES if "model" in v]
BY_NAME = {v["name"]: v for vectors in VECTORS.values() for v in vectors}


def _ids(vectors: list[dict]) -> list[str]:
    return [v["name"] for v in vectors]


def _archive(vector: dict) -> bytes:
    return bytes.fromhex(vector["archive"])


def _content(vector: dict) -> bytes:
    return bytes.fromhex(vector["content"])


@functools.cache
def reference_code(slips: tuple[tuple[str, str], ...] = ()) -> dict:
    """FORMAT.md's python blocks, executed in order in one namespace; ``slips`` replace text in
    them first (each must occur once), to run the reference code with a mistake."""
    source = "\n".join(content for tag, content in _FENCE.findall(_text(FORMAT_MD)) if tag.strip() == "python")
    for old, new in slips:
        assert source.count(old) == 1, f"the reference code has {source.count(old)} of {old!r}"
        source = source.replace(old, new)
    namespace: dict = {"__name__": "format_md"}
    exec(compile(source, str(FORMAT_MD), "exec"), namespace)
    return namespace


def annotated_tables() -> dict[str, list[tuple[int, str, str, str]]]:
    """The field-by-field tables of FORMAT.md's "### Vector X" sections, by vector name."""
    sections = re.split(r"^### Vector ([A-Z]\d+)[^\n]*\n", _text(FORMAT_MD), flags=re.M)
    tables = {}
    for name, body in zip(sections[1::2], sections[2::2]):
        body = re.split(r"^#{1,3} ", body, maxsplit=1, flags=re.M)[0]
        tables[name] = [(int(o), b.strip(), f.strip(), v.strip()) for o, b, f, v in _ROW.findall(body)]
    return tables


# --- an independent reading of the archive layout, written from FORMAT.md ----------------------------

_METHOD_NAMES = {0: "stored", 1: "zstd", 2: "neural", 3: "neural-crlf"}
_NEURAL = (2, 3)
_ENSEMBLE_FIELDS = (
    "ngram orders",
    "ngram table bits",
    "ngram count limit",
    "match min length",
    "match table bits",
    "history bits",
    "bias rate",
    "bias limit",
    "mixer rate",
    "mixer first weight",
)


class SpecParser:
    """Parses a whole archive into rows of (offset, bytes, field, value) and plain structures.

    Deliberately separate from the container code: if the two disagree with each other, one of
    them disagrees with FORMAT.md.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.rows: list[tuple[int, str, str, str]] = []

    def take(self, n: int, name: str, value: str = "") -> bytes:
        raw = self.data[self.pos : self.pos + n]
        assert len(raw) == n, f"archive ends inside {name}"
        self.rows.append((self.pos, raw.hex(" "), name, value))
        self.pos += n
        return raw

    def byte(self, name: str, show=str) -> int:
        value = self.data[self.pos]
        self.take(1, name, show(value))
        return value

    def varint(self, name: str) -> int:
        start, value, shift = self.pos, 0, 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        assert self.pos - start <= 9 and (self.pos - start == 1 or byte != 0), f"{name}: not a minimal varint"
        self.rows.append((start, self.data[start : self.pos].hex(" "), name, str(value)))
        return value

    def short_string(self, name: str) -> str:
        n = self.data[self.pos]
        text = self.data[self.pos + 1 : self.pos + 1 + n].decode("utf-8")
        self.take(1 + n, name, f'"{text}"')
        return text

    def u32(self, name: str) -> int:
        value = int.from_bytes(self.data[self.pos : self.pos + 4], "little")
        self.take(4, name, f"0x{value:08x}")
        return value

    def parse(self) -> tuple[FrameHeader, list[Group], EndBlock]:
        self.take(4, "magic")
        assert self.data[:4] == bytes.fromhex("8e4e4352")
        assert self.byte("version") == 1
        names = {1: "content size", 2: "model name", 4: "ensemble"}
        flags = self.byte("flags", lambda f: f"0x{f:02x}" + "".join(f" {n}" for b, n in names.items() if f & b))
        assert flags & ~7 == 0
        content_size = self.varint("content size") if flags & 1 else None
        fingerprint = self.take(8, "model fingerprint")
        self.rows[-1] = self.rows[-1][:3] + (fingerprint.hex(),)
        build = self.short_string("llama.cpp build")
        name = self.short_string("model name") if flags & 2 else ""
        params = CodingParams(
            self.byte("precision bits"),
            self.varint("lanes"),
            self.varint("window"),
            self.varint("slide keep"),
            self.varint("chunk size"),
            self.varint("start token"),
            EnsembleParams(*(self.varint(name) for name in _ENSEMBLE_FIELDS)) if flags & 4 else None,
        )
        header = FrameHeader(ModelInfo(fingerprint, build, name), params, content_size)
        groups = []
        while True:
            kind = self.byte("block type", lambda k: {0: "0 end", 1: "1 group"}[k])
            if kind == 0:
                end = EndBlock(self.varint("content size"), self.u32("content CRC-32"))
                assert self.pos == len(self.data), "bytes after the end block"
                return header, groups, end
            entries = []
            for i in range(self.varint("chunk count")):
                method = self.byte(f"chunk {i} method", lambda m: f"{m} {_METHOD_NAMES[m]}")
                length = self.varint(f"chunk {i} length")
                tokens = self.varint(f"chunk {i} tokens") if method in _NEURAL else 0
                payload_length = self.varint(f"chunk {i} payload length")
                entries.append(ChunkEntry(method, length, tokens, payload_length, self.u32(f"chunk {i} CRC-32")))
            payloads = [
                self.take(e.payload_length, f"chunk {i} payload", f"{e.payload_length} bytes") for i, e in enumerate(entries)
            ]
            groups.append(Group(entries, payloads))


def annotate(archive: bytes) -> str:
    """The markdown table FORMAT.md shows for an archive vector (used to write and check it)."""
    parser = SpecParser(archive)
    parser.parse()
    lines = ["| Offset | Bytes | Field | Value |", "|---:|---|---|---|"]
    lines += [f"| {offset} | `{raw}` | {name} | {value} |" for offset, raw, name, value in parser.rows]
    return "\n".join(lines)


def _has_neural_chunks(vector: dict) -> bool:
    _, groups, _ = SpecParser(_archive(vector)).parse()
    return any(e.method in _NEURAL for g in groups for e in g.entries)


def _chunks_with_content(groups: list[Group], content: bytes) -> list[list[tuple[ChunkEntry, bytes, bytes]]]:
    """Per group, each chunk's (entry, payload, original bytes)."""
    out, pos = [], 0
    for group in groups:
        chunks = []
        for entry, payload in zip(group.entries, group.payloads):
            chunks.append((entry, payload, content[pos : pos + entry.length]))
            pos += entry.length
        out.append(chunks)
    assert pos == len(content), "the chunks' lengths do not add up to the content"
    return out


# --- a model given by a formula: what nacrith's encoder and decoder need of an engine ------------------


class FormulaModel:
    """A vector's ``model``: one token per byte (the last token, the start token, is no bytes), and
    logits given by a Python expression of the step ``s``, the fed token ``t``, its position ``p``,
    the lane ``i`` and the token ``v`` (evaluated once per row, with ``v`` every token at once)."""

    def __init__(self, spec: dict) -> None:
        self.vocab_size = spec["vocab"]
        self.start_token = spec["start_token"]
        assert self.start_token == self.vocab_size - 1 == 256, "one token per byte, then the start token"
        self.logit = compile(spec["logit"], "logit", "eval")
        pieces = [bytes([b]) for b in range(256)] + [b""]
        self.piece_lengths = np.array([len(p) for p in pieces], dtype=np.int64)
        self.piece_newlines = np.array([p.count(b"\n") for p in pieces], dtype=np.int64)

    def tokenize(self, data: bytes) -> list[int]:
        return list(data)

    def detokenize(self, tokens: list[int]) -> bytes:
        return bytes(t for t in tokens if t < 256)

    def logits(self, step: int, lanes: list[int], tokens: list[int], positions: list[int]) -> np.ndarray:
        v = np.arange(self.vocab_size)
        rows = [eval(self.logit, {}, {"s": step, "t": t, "p": p, "i": i, "v": v}) for i, t, p in zip(lanes, tokens, positions)]
        z = np.array(rows, dtype=np.float64)
        assert np.array_equal(z.astype(np.float32).astype(np.float64), z), "logits must be exact float32 values"
        return z.astype(np.float32)


class FormulaEvaluator:
    """The lanes of a group: the step count since the group began is the formula's ``s``; slides
    change nothing (the formula sees the positions the schedule gives)."""

    def __init__(self, model: FormulaModel) -> None:
        self.model = model
        self.steps = 0

    def reset(self) -> None:
        self.steps = 0

    def slide(self, lane: int, drop: int, length: int) -> None:
        pass

    def step(self, lanes: list[int], tokens: list[int], positions: list[int]) -> np.ndarray:
        self.steps += 1
        return self.model.logits(self.steps - 1, lanes, tokens, positions)


class FormulaEngine:
    """Stands in for nacrith's engine (a model file and its evaluator) in the encoder and decoder."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.model = FormulaModel(spec)
        self.fingerprint = bytes.fromhex(spec["fingerprint"])

    def evaluator(self, lanes: int, window: int) -> FormulaEvaluator:
        return FormulaEvaluator(self.model)

    def model_info(self) -> ModelInfo:
        return ModelInfo(self.fingerprint, self.spec["build"], "")

    def describe(self) -> str:
        return f"a formula [{self.fingerprint.hex()}]"


def formula_encode(vector: dict) -> bytes:
    """The archive nacrith's encoder writes of the vector's content with its formula model and settings."""
    settings = vector["encoder"]
    options = Options(
        lanes=settings["lanes"],
        window=settings["window"],
        slide_keep=settings["slide_keep"],
        chunk_bytes=settings["chunk_bytes"],
        min_chunk_bytes=settings["min_chunk_bytes"],
        ensemble=EnsembleParams(*settings["ensemble"]) if settings["ensemble"] else None,
    )
    content = _content(vector)
    encoder = FrameEncoder(FormulaEngine(vector["model"]), options, len(content))
    return encoder.write(content) + encoder.finish()


def formula_decode(vector: dict, archive: bytes) -> bytes:
    engine = FormulaEngine(vector["model"])
    return b"".join(decode_frames(io.BytesIO(archive), lambda: engine))


# --- the vectors exist ---------------------------------------------------------------------------------


def test_every_kind_of_vector_is_there_and_listed_in_format_md() -> None:
    assert len(ARCHIVES) >= 8 and len(REJECTED) >= 16 and len(CODERS) >= 6 and len(QUANTIZERS) >= 7
    assert TABLES and BUILDS and SCHEDULES and len(ENSEMBLES) >= 6 and NEURAL_ARCHIVES and len(FORMULA_ARCHIVES) >= 2
    assert any(not v["content"] for v in ARCHIVES), "a vector for empty input"
    names = [v["name"] for vectors in VECTORS.values() for v in vectors]
    assert len(names) == len(set(names)) == len(BY_NAME)
    listed = _text(FORMAT_MD).split("### All vectors", 1)[1]
    for kind, vectors in VECTORS.items():
        line = re.search(rf"^- `{kind}\.json`: (.*?)(?=^- |\Z)", listed, re.M | re.S)
        assert line, f"FORMAT.md does not list {kind}.json"
        assert re.findall(r"(?:^|; )([A-Z]\d+): ", " ".join(line[1].split())) == [v["name"] for v in vectors]
    assert {"python"} <= {tag.strip() for tag, _ in _FENCE.findall(_text(FORMAT_MD))}


def test_format_md_names_the_version_the_code_writes() -> None:
    text = _text(FORMAT_MD)
    assert re.search(rf"^Format version: {FORMAT_VERSION}\b", text, re.M)
    assert "8E 4E 43 52" in text and MAGIC == bytes.fromhex("8E4E4352")


def _header_bounds() -> dict[str, tuple[int, int]]:
    """The "1 to 30"-style bounds of the frame header table, by field name."""
    text = _text(FORMAT_MD)
    table = text[text.index("## Frame header") : text.index("### Flags")]
    row = re.compile(r"^\| (Precision bits|Lanes|Window|Chunk size) \|[^|]*\|[^|]*\|\D*(\d+) to (\d+)", re.M)
    return {name: (int(low), int(high)) for name, low, high in row.findall(table)}


def test_header_bounds_in_format_md_are_those_the_code_checks() -> None:
    bounds = _header_bounds()
    assert set(bounds) == {"Precision bits", "Lanes", "Window", "Chunk size"}
    fields = {"Precision bits": "precision_bits", "Lanes": "lanes", "Window": "window", "Chunk size": "chunk_bytes"}
    base = CodingParams(precision_bits=24, lanes=8, window=2048, slide_keep=1, chunk_bytes=65536, start_token=0)
    for name, (low, high) in bounds.items():
        for value, ok in ((low - 1, False), (low, True), (high, True), (high + 1, False)):
            params = CodingParams(**{**base.__dict__, fields[name]: value})
            if ok:
                params.validate()
            else:
                with pytest.raises(errors.CorruptArchiveError):
                    params.validate()


def test_flags_in_format_md_are_those_the_code_reads() -> None:
    """Bit 2 is the ensemble's; the reserved mask of the flags table is what FrameReader rejects."""
    text = _text(FORMAT_MD)
    table = text[text.index("### Flags") : text.index("### Model identity")]
    reserved = re.search(r"^\| 3–7 \| `0x([0-9A-F]{2})` \| Reserved", table, re.M)
    assert reserved and int(reserved[1], 16) == 0xF8
    assert re.search(r"^\| 2 \| `0x04` \| Ensemble parameters present", table, re.M)
    empty = _archive(BY_NAME["A1"])  # flags 0x01 at offset 5
    assert any(SpecParser(_archive(v)).parse()[0].params.ensemble for v in ARCHIVES), "a header with bit 2"
    for bit in range(3, 8):
        damaged = empty[:5] + bytes([empty[5] | 1 << bit]) + empty[6:]
        with pytest.raises(errors.CorruptArchiveError):
            FrameReader(io.BytesIO(damaged)).read_header()


def test_chunk_methods_in_format_md_are_those_of_the_code() -> None:
    text = _text(FORMAT_MD)
    row = re.search(r"^\| Method \| 1 \| always \|([^|]*)\|", text, re.M)
    assert row, "the chunk entry table has no method row"
    assert {int(n): name for n, name in re.findall(r"`(\d+)` ([\w-]+)", row[1])} == _METHOD_NAMES
    for method, name in _METHOD_NAMES.items():
        assert re.search(rf"^### Method {method}: {name}$", text, re.M)
        assert ChunkEntry(method, 1, 0, 0, 0).method_name == name
    assert NEURAL_METHODS == set(_NEURAL)


def _ensemble_parameter_rows() -> list[tuple[int, str, int, int, int]]:
    """(number, name, low, high, default) of FORMAT.md's ensemble parameter table."""
    text = _text(FORMAT_MD)
    section = text[text.index("### Ensemble parameters") : text.index("## Blocks")]
    row = re.compile(r"^\| (\d+) \| `(\w+)` \| (\d+)\.\.(\d+) \| (\d+) \|", re.M)
    return [(int(n), name, int(low), int(high), int(d)) for n, name, low, high, d in row.findall(section)]


def _valid_as_format_md_says(values: list[int]) -> bool:
    """FORMAT.md's rule: every parameter within its bounds, a model on, at most 1 GiB of tables."""
    rows = _ensemble_parameter_rows()
    orders, ngram_bits, _, min_length, match_bits, history_bits, bias_rate, *_ = values
    tables = orders * 72 * 2**ngram_bits + (8 * 2**history_bits + 8 * 2**match_bits if min_length > 0 else 0)
    within = all(low <= x <= high for x, (_, _, low, high, _) in zip(values, rows))
    return within and (orders, min_length, bias_rate) != (0, 0, 0) and tables <= 2**30


def _code_accepts(values: list[int]) -> bool:
    params = CodingParams(24, 8, 2048, 1536, 65536, 0, EnsembleParams(*values))
    try:
        params.validate()
    except errors.CorruptArchiveError:
        return False
    return True


def test_ensemble_parameters_in_format_md_are_those_of_the_code() -> None:
    """Names, order, defaults and bounds of the table, and the 1 GiB rule as FORMAT.md writes it."""
    rows = _ensemble_parameter_rows()
    names = [f.name for f in dataclasses.fields(EnsembleParams)]
    assert [r[0] for r in rows] == list(range(1, len(names) + 1))
    assert [r[1] for r in rows] == names
    assert [r[4] for r in rows] == list(EnsembleParams().values())
    rule = (
        "at most 1 GiB (2^30 bytes) of tables, counted as `ngram_orders × 72 × 2^ngram_table_bits`, "
        "plus `8 × 2^history_bits + 8 × 2^match_table_bits` when `match_min_length > 0`"
    )
    assert MAX_MEMORY == 2**30 and rule in " ".join(_text(FORMAT_MD).split())  # as _valid_as_format_md_says reads it
    small = EnsembleParams(ngram_orders=1, ngram_table_bits=4, match_table_bits=4, history_bits=10)
    cases = [list(EnsembleParams().values())]
    for _, name, low, high, _ in rows:  # each bound alone: the tables stay small
        for value in (low - 1, low, high, high + 1):
            cases.append(list(dataclasses.replace(small, **{name: value}).values()))
    cases += [
        [0, 18, 255, 0, 20, 22, 0, 524288, 1311, 52429],  # every model off
        [0, 18, 255, 0, 20, 22, 1, 524288, 1311, 52429],  # the bias head alone
        [6, 22, 255, 6, 20, 22, 8192, 524288, 1311, 52429],  # 1768 MiB
        [6, 21, 255, 6, 20, 22, 8192, 524288, 1311, 52429],  # 904 MiB
        [14, 20, 255, 0, 24, 26, 8192, 524288, 1311, 52429],  # 1008 MiB, the match model off
        [14, 20, 255, 1, 24, 26, 8192, 524288, 1311, 52429],  # 1648 MiB
        [0, 22, 255, 32, 24, 26, 0, 524288, 1311, 52429],  # 640 MiB, the n-gram model off
    ]
    for values in cases:
        expected = not EnsembleParams(*values).problems() and EnsembleParams(*values).enabled
        assert _valid_as_format_md_says(values) == expected == _code_accepts(values), values


# --- archive vectors ---------------------------------------------------------------------------------


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any attempt to resolve, fingerprint or load a model fail the test."""

    def forbidden(*args, **kwargs):
        raise AssertionError("decoding an archive without neural chunks tried to use a model")

    for module, name in ENGINE_PATCHES:
        monkeypatch.setattr(module, name, forbidden)


@pytest.mark.parametrize("name", ["A2", "A3"])
def test_annotated_table_is_what_the_spec_parser_reads(name: str) -> None:
    table = annotated_tables()[name]
    archive = _archive(BY_NAME[name])
    shown = [f"| {o} | `{b}` | {f} | {v} |" for o, b, f, v in table]
    assert shown == annotate(archive).splitlines()[2:]
    assert "".join(b.replace(" ", "") for _, b, _, _ in table) == archive.hex()
    assert set(annotated_tables()) == {"A2", "A3"}


@pytest.mark.parametrize("vector", ARCHIVES, ids=_ids(ARCHIVES))
def test_code_writes_exactly_the_archive(vector: dict) -> None:
    archive = _archive(vector)
    header, groups, end = SpecParser(archive).parse()
    written = write_header(header) + b"".join(write_group(g) for g in groups) + write_end(end)
    assert written.hex() == archive.hex()


@pytest.mark.parametrize("vector", ARCHIVES, ids=_ids(ARCHIVES))
def test_code_reads_exactly_the_fields(vector: dict) -> None:
    archive = _archive(vector)
    header, groups, end = SpecParser(archive).parse()
    reader = FrameReader(io.BytesIO(archive))
    assert reader.read_header() == header
    blocks = list(reader.blocks())
    assert blocks[:-1] == groups and blocks[-1] == end
    assert reader.offset == len(archive)


@pytest.mark.parametrize("vector", ARCHIVES, ids=_ids(ARCHIVES))
def test_chunks_and_checksums_match_the_content(vector: dict) -> None:
    archive, content = _archive(vector), _content(vector)
    header, groups, end = SpecParser(archive).parse()
    assert end.content_size == len(content) and end.crc == zlib.crc32(content)
    assert header.content_size in (None, len(content))
    for chunks in _chunks_with_content(groups, content):
        for entry, payload, original in chunks:
            assert entry.crc == zlib.crc32(original)
            if entry.method in _NEURAL:
                assert 1 <= entry.tokens <= entry.length and len(payload) == entry.payload_length
                continue
            # The encoder's choice and its bytes (zstd level 19, no content size, no checksum)...
            assert fallback.pack(original) == (entry.method, payload)
            # ...and what every decoder must make of them.
            assert fallback.unpack(entry.method, payload, entry.length) == original


@pytest.mark.parametrize("vector", ARCHIVES, ids=_ids(ARCHIVES))
def test_whole_archive_decodes_without_a_model(vector: dict, no_model: None) -> None:
    archive, content = _archive(vector), _content(vector)
    if _has_neural_chunks(vector):
        pytest.skip("neural chunks need a model; checked as a container here")
    assert nacrith.decompress(archive) == content
    d = nacrith.NacrithDecompressor()
    assert b"".join(d.decompress(archive[i : i + 7]) for i in range(0, len(archive), 7)) == content and d.eof


def test_concatenated_vectors_decode_to_their_concatenated_contents(no_model: None) -> None:
    """FORMAT.md, Overview: frames one after another are one archive."""
    plain = [v for v in ARCHIVES if not _has_neural_chunks(v)]
    assert len(plain) >= 3
    for first, second in zip(plain, plain[1:] + plain[:1]):
        joined = _archive(first) + _archive(second)
        assert nacrith.decompress(joined) == _content(first) + _content(second)
    a1, a2 = BY_NAME["A1"], BY_NAME["A2"]
    for joined in (_archive(a1) + _archive(a2), _archive(a2) + _archive(a1)):
        assert nacrith.decompress(joined) == _content(a2)


# --- archive vectors with a formula for a model ----------------------------------------------------------


@pytest.mark.parametrize("vector", FORMULA_ARCHIVES, ids=_ids(FORMULA_ARCHIVES))
def test_formula_archive_is_what_nacrith_writes_and_reads(vector: dict) -> None:
    model = vector["model"]
    assert model["fingerprint"] == hashlib.sha256(model["logit"].encode()).hexdigest()[:16]
    archive = _archive(vector)
    assert formula_encode(vector).hex() == archive.hex()
    assert formula_decode(vector, archive) == _content(vector)


def test_formula_archives_show_what_they_say() -> None:
    """A7: the ensemble, two groups, a stored chunk between lanes, slides; A8: a neural-crlf and a neural chunk."""
    a7, a8 = (SpecParser(_archive(BY_NAME[n])).parse() for n in ("A7", "A8"))
    header, groups, _ = a7
    assert header.params.ensemble and len(groups) == 2 and [e.method for e in groups[0].entries] == [2, 2, 0]
    assert max(e.tokens for g in groups for e in g.entries) > header.params.window
    header, groups, _ = a8
    assert header.params.ensemble is None and [e.method for g in groups for e in g.entries] == [3, 2]


def _reference_payloads(ref: dict, header: FrameHeader, groups: list[Group], content: bytes, tokenize, vocab: int, evaluator_for) -> int:
    """FORMAT.md's schedule, slides, quantization (or ensemble) and coder, fed the logits of
    ``evaluator_for(n)`` (a fresh evaluator for a group of ``n`` lanes), give the archive's payloads
    and decode them back to the tokens; returns the number of lanes checked."""
    p = header.params
    ensemble = ref["Ensemble"](p.ensemble.values(), vocab, p.precision_bits) if p.ensemble else None
    lanes_checked = 0
    for chunks in _chunks_with_content(groups, content):
        lanes = [(entry, payload, original) for entry, payload, original in chunks if entry.method in _NEURAL]
        if not lanes:
            continue
        # A neural-crlf chunk codes its text with the CR of every CR LF removed.
        texts = [original.replace(b"\r\n", b"\n") if entry.method == 3 else original for entry, _, original in lanes]
        tokens = [tokenize(text) for text in texts]
        assert [len(t) for t in tokens] == [entry.tokens for entry, _, _ in lanes]
        evaluator = evaluator_for(len(lanes))
        if ensemble:
            ensemble.begin_group([len(t) for t in tokens])
        tables: list[list[list[int]]] = [[] for _ in lanes]
        for event in ref["schedule"]([len(t) for t in tokens], p.window, p.slide_keep):
            if event[0] == "slide":
                _, lane, drop = event
                evaluator.slide(lane, drop, p.window)
                continue
            _, s, step_lanes, positions = event
            fed = [tokens[i][s - 1] if s else p.start_token for i in step_lanes]
            logits = np.array(evaluator.step(step_lanes, fed, positions), dtype=np.float32)
            if ensemble:
                rows = ensemble.frequencies(step_lanes, logits)
                ensemble.update(step_lanes, [tokens[i][s] for i in step_lanes])
            else:
                rows = [ref["quantize"](logits[row], p.precision_bits).tolist() for row in range(len(step_lanes))]
            for row, i in zip(rows, step_lanes):
                tables[i].append(list(row))
        total = 1 << p.precision_bits
        for (_, payload, _), lane_tokens, lane_tables in zip(lanes, tokens, tables):
            triples = [(sum(f[:t]), f[t], total) for t, f in zip(lane_tokens, lane_tables)]
            assert ref["encode"](triples).hex() == payload.hex()
            assert ref["decode"](payload, lane_tables) == lane_tokens
            lanes_checked += 1
    return lanes_checked


@pytest.mark.parametrize("vector", FORMULA_ARCHIVES, ids=_ids(FORMULA_ARCHIVES))
def test_reference_code_gives_the_formula_payloads(vector: dict) -> None:
    """What an implementer without llama.cpp can check: FORMAT.md's code and the formula give the payloads."""
    header, groups, _ = SpecParser(_archive(vector)).parse()
    model = FormulaModel(vector["model"])
    lanes = _reference_payloads(reference_code(), header, groups, _content(vector), model.tokenize, model.vocab_size, lambda n: FormulaEvaluator(model))
    assert lanes == sum(e.method in _NEURAL for g in groups for e in g.entries)


# --- rejection vectors -------------------------------------------------------------------------------------


def _rejection_case(vector: dict) -> tuple[bytes, type[errors.NacrithError], bytes]:
    """The rejected archive, the error the vector names, and the archive its repairs give."""
    archive = _archive(vector)
    error = getattr(errors, vector["error"])
    assert isinstance(error, type) and issubclass(error, errors.NacrithError)
    assert vector["repairs"], f"{vector['name']}: no repair"
    repaired = bytearray(archive)
    for repair in sorted(vector["repairs"], key=lambda r: r["offset"], reverse=True):  # offsets of the rejected archive
        at, old, new = repair["offset"], bytes.fromhex(repair["old"]), bytes.fromhex(repair["new"])
        assert archive[at : at + len(old)] == old, f"{vector['name']}: no {old.hex()} at {at}"
        repaired[at : at + len(old)] = new
    return archive, error, bytes(repaired)


@pytest.mark.parametrize("vector", REJECTED, ids=_ids(REJECTED))
def test_rejected_archive_is_rejected(vector: dict, no_model: None) -> None:
    archive, error, _ = _rejection_case(vector)
    with pytest.raises(error) as caught:
        nacrith.decompress(archive)
    assert type(caught.value) is error, f"{type(caught.value).__name__}: {caught.value}"
    d = nacrith.NacrithDecompressor()
    if error is errors.TruncatedArchiveError:  # a streaming decoder waits for the rest
        assert b"".join(d.decompress(archive[i : i + 7]) for i in range(0, len(archive), 7)) == b"" and not d.eof
        return
    with pytest.raises(error):
        for i in range(0, len(archive), 7):
            d.decompress(archive[i : i + 7])


_ZSTD_REASONS = {
    "R3": "Frame_Content_Size",
    "R4": "skippable frame",
    "R5": "window of 268435456 bytes",
    "R11": "cut short: its frame ends inside its Content_Checksum",
    "R12": "cut short: its frame ends before its last block",
    "R13": "dictionary 7",
}


@pytest.mark.parametrize("name", sorted(_ZSTD_REASONS))
def test_a_rejected_zstd_chunk_is_rejected_for_its_reason(name: str, no_model: None) -> None:
    archive, _, _ = _rejection_case(BY_NAME[name])
    (group,) = SpecParser(archive).parse()[1]
    ((entry, payload),) = zip(group.entries, group.payloads)
    with pytest.raises(errors.CorruptArchiveError, match=_ZSTD_REASONS[name]):
        fallback.unpack(entry.method, payload, entry.length)
    with pytest.raises(errors.CorruptArchiveError, match=_ZSTD_REASONS[name]):
        nacrith.decompress(archive)


@pytest.mark.parametrize("vector", REJECTED, ids=_ids(REJECTED))
def test_repaired_archive_is_valid(vector: dict, no_model: None) -> None:
    _, _, repaired = _rejection_case(vector)
    header, groups, end = SpecParser(repaired).parse()
    reader = FrameReader(io.BytesIO(repaired))
    assert reader.read_header() == header
    assert list(reader.blocks()) == [*groups, end]
    if not any(e.method in _NEURAL for g in groups for e in g.entries):
        content = nacrith.decompress(repaired)
        assert len(content) == end.content_size and zlib.crc32(content) == end.crc


# --- coder vectors ---------------------------------------------------------------------------------------


def _coder_case(vector: dict) -> tuple[int, list[int], list[int]]:
    precision, freqs, symbols = vector["precision"], vector["frequencies"], vector["symbols"]
    assert sum(freqs) == 1 << precision, f"{vector['name']}: frequencies must sum to 2**precision"
    return precision, freqs, symbols


@pytest.mark.parametrize("vector", CODERS, ids=_ids(CODERS))
def test_coder_writes_and_reads_the_vector(vector: dict) -> None:
    precision, freqs, symbols = _coder_case(vector)
    total, cumulative = 1 << precision, [0, *np.cumsum(freqs).tolist()]
    encoder = ArithmeticEncoder()
    for s in symbols:
        encoder.encode(cumulative[s], freqs[s], total)
    assert encoder.finish().hex() == vector["payload"]
    decoder = ArithmeticDecoder(bytes.fromhex(vector["payload"]))
    assert [decoder.decode(cumulative) for _ in symbols] == symbols


@pytest.mark.parametrize("vector", CODERS, ids=_ids(CODERS))
def test_reference_coder_in_format_md_gives_the_same_bytes(vector: dict) -> None:
    ref = reference_code()
    precision, freqs, symbols = _coder_case(vector)
    total, cumulative = 1 << precision, [0, *np.cumsum(freqs).tolist()]
    payload = ref["encode"]([(cumulative[s], freqs[s], total) for s in symbols])
    assert payload.hex() == vector["payload"]
    assert ref["decode"](payload, [freqs] * len(symbols)) == symbols


def test_reference_coder_agrees_with_the_code_on_random_streams() -> None:
    ref = reference_code()
    rng = np.random.default_rng(11)
    for _ in range(30):
        precision = int(rng.integers(1, 31))
        vocab = int(rng.integers(1, min(1 << precision, 50) + 1))
        tables = [quantize(rng.normal(0, rng.uniform(0.1, 9), vocab).astype(np.float32), precision) for _ in range(60)]
        symbols = [int(rng.choice(vocab, p=t / t.sum())) for t in tables]
        triples = [(int(t[:s].sum()), int(t[s]), 1 << precision) for s, t in zip(symbols, tables)]
        encoder = ArithmeticEncoder()
        for c, f, total in triples:
            encoder.encode(c, f, total)
        payload = encoder.finish()
        assert ref["encode"](triples) == payload
        assert ref["decode"](payload, [t.tolist() for t in tables]) == symbols


# --- quantization vectors ------------------------------------------------------------------------------


def _float(text: str) -> float:
    """A decimal, or a C99 hexadecimal float such as -0x1p-100."""
    return float.fromhex(text) if "x" in text.lower() else float(text)


@pytest.mark.parametrize("vector", QUANTIZERS, ids=_ids(QUANTIZERS))
def test_quantization_vector(vector: dict) -> None:
    precision = vector["precision"]
    values = [_float(x) for x in vector["logits"]]
    logits = np.array(values, dtype=np.float32)
    assert values == logits.tolist(), "logits must be exact float32 values"
    expected = vector["frequencies"]
    assert len(expected) == len(values) and sum(expected) == 1 << precision
    assert quantize(logits, precision).tolist() == expected
    assert quantize(np.stack([logits, logits]), precision).tolist() == [expected, expected]
    assert reference_code()["quantize"](logits, precision).tolist() == expected


def test_reference_quantization_agrees_with_the_code() -> None:
    ref = reference_code()
    rng = np.random.default_rng(5)
    for vocab in (1, 2, 7, 300, 5000):
        for precision in (13, 24, 30):
            for scale in (0.01, 1.0, 4.0, 30.0):
                z = (rng.normal(0, scale, vocab) + rng.normal(0, 20)).astype(np.float32)
                if vocab > 2:  # a tie for the largest, and a logit at the very end of the table
                    z[rng.integers(vocab)] = z[int(np.argmax(z))]
                    z[rng.integers(vocab)] = z.max() - np.float32(5855.25 / 256)
                assert np.array_equal(ref["quantize"](z, precision), quantize(z, precision)), (vocab, precision, scale)


# --- ensemble vectors ---------------------------------------------------------------------------------------


@functools.cache
def _ensemble_inputs(name: str) -> list[tuple[list[int], list[list[int]], list[tuple[list[int], np.ndarray]]]]:
    """Per group of the vector: its token counts, each lane's tokens, and each step's (lanes, float32 logits)."""
    case = BY_NAME[name]
    token, logit = compile(case["token"], "token", "eval"), compile(case["logit"], "logit", "eval")
    out = []
    for g, counts in enumerate(case["groups"]):
        tokens = [[eval(token, {}, {"g": g, "i": i, "j": j}) for j in range(n)] for i, n in enumerate(counts)]
        assert all(0 <= t < case["vocab"] for lane in tokens for t in lane)
        steps = []
        for s in range(max(counts)):
            lanes = [i for i, n in enumerate(counts) if s < n]
            rows = []
            for i in lanes:
                scope = {"g": g, "i": i, "s": s, "t": tokens[i][s - 1] if s else case["start"], "x": tokens[i][s]}
                rows.append([eval(logit, {}, {**scope, "v": v}) for v in range(case["vocab"])])
            z = np.array(rows, dtype=np.float64)
            assert np.array_equal(z.astype(np.float32).astype(np.float64), z), "logits must be exact float32 values"
            steps.append((lanes, z.astype(np.float32)))
        out.append((counts, tokens, steps))
    return out


def _play_ensemble(vector: dict, ensemble) -> list[tuple[int, int, int, int, list[int]]]:
    """Every table the ensemble makes for the vector, as (group, step, lane, coded token, table)."""
    tables = []
    for g, (counts, tokens, steps) in enumerate(_ensemble_inputs(vector["name"])):
        ensemble.begin_group(list(counts))
        for s, (lanes, logits) in enumerate(steps):
            freq = ensemble.frequencies(lanes, logits)
            coded = [tokens[i][s] for i in lanes]
            for i, x, row in zip(lanes, coded, freq):
                tables.append((g, s, i, x, [int(f) for f in row]))
            ensemble.update(lanes, coded)
    return tables


def _digest(tables: list[tuple[int, int, int, int, list[int]]]) -> str:
    return hashlib.sha256(b"".join(np.array(f, dtype="<i8").tobytes() for *_, f in tables)).hexdigest()


def _check_ensemble_tables(vector: dict, tables: list[tuple[int, int, int, int, list[int]]]) -> None:
    assert vector["coded"] or vector["rows"]
    assert len(tables) == vector["tables"]
    assert all(sum(f) == 1 << vector["precision"] and min(f) >= 1 and len(f) == vector["vocab"] for *_, f in tables)
    by_step = {(g, s, i): (x, f) for g, s, i, x, f in tables}
    for g, s, i, x, frequency in vector["coded"]:
        assert by_step[g, s, i][0] == x, (g, s, i)
        assert by_step[g, s, i][1][x] == frequency, (g, s, i)
    for g, s, i, row in vector["rows"]:
        assert by_step[g, s, i][1] == row, (g, s, i)
    assert _digest(tables) == vector["sha256"]


@pytest.mark.parametrize("vector", ENSEMBLES, ids=_ids(ENSEMBLES))
def test_ensemble_vector(vector: dict) -> None:
    ensemble = Ensemble(EnsembleParams(*vector["params"]), vector["vocab"], vector["precision"])
    assert not ensemble.params.problems() and ensemble.params.enabled
    assert ensemble.spare >= 0
    _check_ensemble_tables(vector, _play_ensemble(vector, ensemble))


@pytest.mark.parametrize("vector", ENSEMBLES, ids=_ids(ENSEMBLES))
def test_reference_ensemble_vector(vector: dict) -> None:
    ref = reference_code()
    assert _valid_as_format_md_says(vector["params"])
    tables = _play_ensemble(vector, ref["Ensemble"](vector["params"], vector["vocab"], vector["precision"]))
    _check_ensemble_tables(vector, tables)
    orders, _, _, min_length, *_ = vector["params"]
    if not orders and not min_length:  # the bias head alone: the first table is quantize's
        (_, _, steps), *_ = _ensemble_inputs(vector["name"])
        assert tables[0][4] == ref["quantize"](steps[0][1][0], vector["precision"]).tolist()


_SHARES_SUM = "        for w in chosen:\n            total += w"
SLIPS = {
    "N4: u[0] * (K / S)": ("N4", ("scale = shares[0] * self.spare / s", "scale = shares[0] * (self.spare / s)")),
    "N5: w * rate / S": (
        "N5",
        ("self.b = [b - wv * step for b, wv in zip(self.b, w)]", "self.b = [b - wv * self.rate / s for b, wv in zip(self.b, w)]"),
    ),
    "N6: shares summed last first": ("N6", (_SHARES_SUM, "        for w in reversed(chosen):\n            total += w")),
    "N6: shares summed exactly": ("N6", (_SHARES_SUM, "        total = math.fsum(chosen)")),
}
"""Slips an implementation of the ensemble made and Vectors N1 to N3 let pass: each vector here
must catch its own (the reference code with the slip gives other tables)."""


@pytest.mark.parametrize("slip", SLIPS)
def test_ensemble_vector_catches_its_slip(slip: str) -> None:
    name, replacement = SLIPS[slip]
    vector = BY_NAME[name]
    wrong = reference_code((replacement,))
    tables = _play_ensemble(vector, wrong["Ensemble"](vector["params"], vector["vocab"], vector["precision"]))
    assert len(tables) == vector["tables"]
    differ = [(g, s, i) for (g, s, i, _, f), (_, _, _, row) in zip(tables, vector["rows"]) if f != row]
    assert differ and _digest(tables) != vector["sha256"], f"{name} does not catch {slip}"


def test_reference_ensemble_agrees_with_the_code() -> None:
    """Random parameters (every model on and off), tokens with repeats and logits of every spread."""
    ref = reference_code()
    rng = np.random.default_rng(17)
    vocab = 40
    for _ in range(5):
        values = list(EnsembleParams().values())
        values[:6] = [int(rng.integers(0, 5)), 4, int(rng.integers(2, 9)), int(rng.integers(0, 4)), 4, 10]
        values[6:] = [int(rng.choice([0, 8192, 40000])), int(rng.integers(1, 3 << 16)), int(rng.integers(1, 1 << 16)), int(rng.integers(1, 1 << 16))]
        if not EnsembleParams(*values).enabled:
            values[6] = 8192
        precision = int(rng.choice([8, 20, 30]))
        ours, theirs = Ensemble(EnsembleParams(*values), vocab, precision), ref["Ensemble"](values, vocab, precision)
        phrases = [rng.integers(0, vocab, size=rng.integers(2, 7)).tolist() for _ in range(6)]
        for counts in ([120, 90, 30], [260, 250]):  # 750 tokens: the ring of 1024 wraps in the next frame only
            tokens = []
            for n in counts:
                lane: list[int] = []
                while len(lane) < n:
                    lane += phrases[int(rng.integers(len(phrases)))] if rng.random() < 0.85 else [int(rng.integers(vocab))]
                tokens.append(lane[:n])
            ours.begin_group(counts)
            theirs.begin_group(counts)
            for s in range(max(counts)):
                lanes = [i for i, n in enumerate(counts) if s < n]
                logits = rng.normal(0, rng.uniform(0.1, 6), (len(lanes), vocab)).astype(np.float32)
                if rng.random() < 0.3:
                    logits[0, rng.integers(vocab)] += 25
                assert ours.frequencies(lanes, logits).tolist() == theirs.frequencies(lanes, logits), (values, s)
                coded = [tokens[i][s] for i in lanes]
                ours.update(lanes, coded)
                theirs.update(lanes, coded)


# --- the weight table ------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", TABLES, ids=_ids(TABLES))
def test_weight_table_vector(vector: dict) -> None:
    assert vector["samples"]
    for name, table in (("nacrith", exp_table().tolist()), ("FORMAT.md", reference_code()["EXP_TABLE"])):
        assert len(table) == vector["entries"], name
        digest = hashlib.sha256(b"".join(int(w).to_bytes(8, "little") for w in table)).hexdigest()
        assert digest == vector["sha256"], name
        assert all(table[k] == w for k, w in vector["samples"]), name


def test_weight_table_is_what_its_definition_says() -> None:
    """Every entry is 2**32 * exp(-k/256) rounded to nearest, to 80 digits, up to the first 0; none
    lies nearer a rounding boundary than DESIGN.md says."""
    from decimal import Decimal, localcontext

    table = reference_code()["EXP_TABLE"]
    with localcontext() as ctx:
        ctx.prec = 80
        exact = [2**32 * (Decimal(-k) / 256).exp() for k in range(len(table) + 1)]
        assert [int(x.to_integral_value()) for x in exact] == [*table, 0]
        nearest = min(abs(x - int(x) - Decimal("0.5")) for x in exact[1:])
    margin = re.search(r"No entry lies within ([\d.]+) × 10\^−(\d+) of a rounding boundary", " ".join(_text(DESIGN_MD).split()))
    assert margin and Decimal(margin[1]) * Decimal(10) ** -int(margin[2]) <= nearest


# --- the llama.cpp build string ----------------------------------------------------------------------------


@pytest.mark.parametrize("vector", BUILDS, ids=_ids(BUILDS))
def test_build_vector(vector: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    version, info, expected = vector["version"], vector["system_info"], vector["build"]
    assert reference_code()["llama_build"](version, info) == expected
    archive_builds = {SpecParser(_archive(v)).parse()[0].model.llama_version for v in ARCHIVES}
    assert expected in archive_builds
    llm = pytest.importorskip(LLM_MODULE, reason="llama-cpp-python is not installed")
    monkeypatch.setattr(llm, "_init_backend", lambda: None)
    monkeypatch.setattr(llm.llama_cpp, "llama_print_system_info", lambda: info.encode())
    monkeypatch.setattr(llm.llama_cpp, "__version__", version)
    assert llm.build_id() == expected


# --- schedule vectors -----------------------------------------------------------------------------------


class RecordingPredictor:
    """A flat distribution; records the calls the lockstep driver makes, as the vector's events."""

    def __init__(self, vocab: int = 5) -> None:
        self.vocab = vocab
        self.events: list[dict] = []

    def reset(self) -> None:
        pass

    def slide(self, lane: int, drop: int, length: int) -> None:
        self.events.append({"event": "slide", "lane": lane, "drop": drop, "length": length})

    def step(self, lanes: list[int], tokens: list[int], positions: list[int]) -> np.ndarray:
        fed = ["S" if t == self.vocab - 1 else t for t in tokens]
        self.events.append({"event": "step", "lanes": list(lanes), "positions": list(positions), "fed": fed})
        return np.zeros((len(lanes), self.vocab), dtype=np.float32)


def _code_schedule(vector: dict, predictor: type) -> tuple:
    """Encode and decode the vector's lanes with two fresh predictors; return them (encoder's, decoder's).

    Token j of lane i is (i + j) % (vocab - 1); the start token is vocab - 1, shown as S.
    """
    counts, vocab = vector["counts"], 5
    tokens = [[(i + j) % (vocab - 1) for j in range(n)] for i, n in enumerate(counts)]
    settings = LaneSettings(precision_bits=8, window=vector["window"], slide_keep=vector["slide_keep"], start_token=vocab - 1)
    encoder_side, decoder_side = predictor(vocab), predictor(vocab)
    payloads = encode_lanes(encoder_side, tokens, settings)
    assert decode_lanes(decoder_side, payloads, counts, settings) == tokens
    return encoder_side, decoder_side


@pytest.mark.parametrize("vector", SCHEDULES, ids=_ids(SCHEDULES))
def test_lockstep_driver_follows_the_schedule(vector: dict) -> None:
    encoder_side, decoder_side = _code_schedule(vector, RecordingPredictor)
    assert encoder_side.events == vector["events"]
    assert decoder_side.events == vector["events"]


@pytest.mark.parametrize("vector", SCHEDULES, ids=_ids(SCHEDULES))
def test_reference_schedule_in_format_md(vector: dict) -> None:
    window, events = vector["window"], []
    for event in reference_code()["schedule"](vector["counts"], window, vector["slide_keep"]):
        if event[0] == "slide":
            events.append({"event": "slide", "lane": event[1], "drop": event[2], "length": window})
        else:
            _, step, lanes, positions = event
            fed = ["S" if step == 0 else (i + step - 1) % 4 for i in lanes]
            events.append({"event": "step", "lanes": lanes, "positions": positions, "fed": fed})
    assert events == vector["events"]


# --- slides ---------------------------------------------------------------------------------------------


class SimulatedMemory:
    """Each lane's KV cache as its tokens by position, changed as llama.h documents
    llama_memory_seq_rm and llama_memory_seq_add (ranges [p0, p1); p0 < 0 is 0, p1 < 0 is no end)."""

    def __init__(self) -> None:
        self.lanes: dict[int, dict[int, int]] = {}

    @staticmethod
    def _range(p0: int, p1: int) -> range:
        return range(max(p0, 0), p1 if p1 >= 0 else 1 << 31)

    def seq_rm(self, lane: int, p0: int, p1: int) -> bool:
        cache, span = self.lanes.setdefault(lane, {}), self._range(p0, p1)
        self.lanes[lane] = {p: t for p, t in cache.items() if p not in span}
        return True

    def seq_add(self, lane: int, p0: int, p1: int, delta: int) -> None:
        cache, span = self.lanes.setdefault(lane, {}), self._range(p0, p1)
        stay = {p: t for p, t in cache.items() if p not in span}
        moved = {p + delta: t for p, t in cache.items() if p in span}
        assert not stay.keys() & moved.keys() and min(moved, default=0) >= 0, "two tokens at one position"
        self.lanes[lane] = {**stay, **moved}

    def call(self, name: str, *args: int):
        return getattr(self, name.removeprefix("llama_memory_"))(*args)

    def put(self, lane: int, position: int, token: int) -> None:
        cache = self.lanes.setdefault(lane, {})
        assert position == len(cache), f"lane {lane}: a token at position {position} after {len(cache)} cached"
        cache[position] = token

    def tokens(self, lane: int) -> list[int]:
        cache = self.lanes.get(lane, {})
        assert sorted(cache) == list(range(len(cache))), f"lane {lane}: positions {sorted(cache)}"
        return [cache[p] for p in range(len(cache))]


def _cache_entry(lane: int, before: list[int], after: list[int], start: int) -> dict:
    def show(tokens: list[int]) -> list:
        return ["S" if t == start else t for t in tokens]

    return {"lane": lane, "before": show(before), "after": show(after)}


def test_reference_slide_is_what_the_evaluator_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """nacrith's evaluator slides a lane with exactly the llama.cpp calls of FORMAT.md's slide()."""
    llm = pytest.importorskip(LLM_MODULE, reason="llama-cpp-python is not installed")
    calls: list[tuple] = []
    memory = object()

    def recorder(name: str):
        def record(mem, *args):
            assert mem is memory
            calls.append((name, *args))
            return True

        return record

    for name in ("llama_memory_seq_rm", "llama_memory_seq_add"):
        monkeypatch.setattr(llm.llama_cpp, name, recorder(name))
    for lane, drop, window in ((0, 1, 2), (3, 4, 16), (1, 512, 2048), (255, 65535, 65536)):
        calls.clear()
        llm.LaneEvaluator.slide(types.SimpleNamespace(_memory=memory), lane, drop, window)
        assert calls == [tuple(c) for c in reference_code()["slide"](lane, drop, window)]


@pytest.mark.parametrize("vector", SCHEDULES, ids=_ids(SCHEDULES))
def test_reference_slide_leaves_the_caches_of_the_vector(vector: dict) -> None:
    """FORMAT.md's schedule and slide, played on a simulated cache, leave the caches the vector lists."""
    ref = reference_code()
    window, keep = vector["window"], vector["slide_keep"]
    start = 4  # shown as S; token j of lane i is (i + j) % 4
    memory, caches = SimulatedMemory(), []
    for event in ref["schedule"](vector["counts"], window, keep):
        if event[0] == "slide":
            _, lane, drop = event
            before = memory.tokens(lane)
            assert len(before) == window
            for name, *args in ref["slide"](lane, drop, window):
                memory.call(name, *args)
            after = memory.tokens(lane)
            assert after == ref["slide_cache"](before, drop) and len(after) == keep and after[0] == start
            caches.append(_cache_entry(lane, before, after, start))
        else:
            _, s, lanes, positions = event
            for lane, position in zip(lanes, positions):
                memory.put(lane, position, (lane + s - 1) % 4 if s else start)
    assert caches == vector["caches"]


@pytest.mark.parametrize("vector", SCHEDULES, ids=_ids(SCHEDULES))
def test_evaluator_slide_leaves_the_caches_of_the_vector(vector: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lockstep driver with nacrith's evaluator's slide, its llama.cpp calls played on a
    simulated cache, leaves the caches the vector lists, in encoder and decoder alike."""
    llm = pytest.importorskip(LLM_MODULE, reason="llama-cpp-python is not installed")
    monkeypatch.setattr(llm.llama_cpp, "llama_memory_seq_rm", lambda mem, *args: mem.seq_rm(*args))
    monkeypatch.setattr(llm.llama_cpp, "llama_memory_seq_add", lambda mem, *args: mem.seq_add(*args))

    class SlidingPredictor(RecordingPredictor):
        def __init__(self, vocab: int) -> None:
            super().__init__(vocab)
            self._memory = SimulatedMemory()  # what the evaluator's slide hands llama.cpp
            self.caches: list[dict] = []

        def reset(self) -> None:
            self._memory = SimulatedMemory()

        def slide(self, lane: int, drop: int, length: int) -> None:
            before = self._memory.tokens(lane)
            assert len(before) == length
            llm.LaneEvaluator.slide(self, lane, drop, length)
            self.caches.append(_cache_entry(lane, before, self._memory.tokens(lane), self.vocab - 1))

        def step(self, lanes: list[int], tokens: list[int], positions: list[int]) -> np.ndarray:
            for lane, token, position in zip(lanes, tokens, positions):
                self._memory.put(lane, position, token)
            return super().step(lanes, tokens, positions)

    encoder_side, decoder_side = _code_schedule(vector, SlidingPredictor)
    assert encoder_side.caches == vector["caches"]
    assert decoder_side.caches == vector["caches"]


# --- the neural vector: needs the model and its llama.cpp build -----------------------------------------

NEURAL_ARCHIVES = [v for v in ARCHIVES if "needs" in v]


def _model_for(vector: dict) -> tuple[FrameHeader, object]:
    """The vector's header and an engine for its model (one thread), or skip: it needs the model and build."""
    header, _, _ = SpecParser(_archive(vector)).parse()
    registry = pytest.importorskip(REGISTRY_MODULE)
    llm = pytest.importorskip(LLM_MODULE, reason="llama-cpp-python is not installed")
    if registry.known_name(header.model.fingerprint) == "" or llm.build_id() != header.model.llama_version:
        pytest.skip(f"needs the model {header.model.fingerprint.hex()} under llama.cpp build {header.model.llama_version}")
    try:
        engine = nacrith.api.engine(threads=1)  # llama.cpp threads spin: one is enough for a few dozen tokens
    except errors.ModelNotFoundError:
        pytest.skip("the default model is not installed")
    if engine.fingerprint != header.model.fingerprint:
        pytest.skip(f"the default model is not {header.model.fingerprint.hex()}")
    return header, engine


@pytest.mark.slow
@pytest.mark.parametrize("vector", NEURAL_ARCHIVES, ids=_ids(NEURAL_ARCHIVES))
def test_neural_vector_decodes_with_the_model_on_its_build(vector: dict) -> None:
    _model_for(vector)
    assert nacrith.decompress(_archive(vector), threads=1) == _content(vector)


@pytest.mark.slow
@pytest.mark.parametrize("vector", NEURAL_ARCHIVES, ids=_ids(NEURAL_ARCHIVES))
def test_neural_vector_is_what_nacrith_writes(vector: dict) -> None:
    header, _ = _model_for(vector)
    p = header.params
    if p.slide_keep != p.window * 3 // 4 or header.content_size is None:
        pytest.skip("nacrith.compress writes a slide keep of 3/4 of the window, and the content size")
    archive = nacrith.compress(
        _content(vector),
        lanes=p.lanes,
        window=p.window,
        chunk_bytes=p.chunk_bytes,
        ensemble=p.ensemble or False,
        threads=1,
    )
    assert archive.hex() == _archive(vector).hex()


@pytest.mark.slow
@pytest.mark.parametrize("vector", NEURAL_ARCHIVES, ids=_ids(NEURAL_ARCHIVES))
def test_reference_code_gives_the_neural_payloads(vector: dict) -> None:
    """FORMAT.md's schedule, slides, quantization (or ensemble) and coder, fed llama.cpp's logits, give
    the archive's payloads. Only the evaluation (llama.cpp in the context FORMAT.md describes) and the
    tokenizer come from nacrith; the slides are FORMAT.md's llama.cpp calls, made directly on the
    evaluator's KV memory."""
    import llama_cpp

    header, engine = _model_for(vector)
    ref, p = reference_code(), header.params
    _, groups, _ = SpecParser(_archive(vector)).parse()

    def evaluator_for(lanes: int):
        evaluator = engine.evaluator(lanes, p.window)  # n_ctx = n x window, n_batch = n
        evaluator.reset()

        def slide(lane: int, drop: int, window: int) -> None:  # FORMAT.md's calls, not the evaluator's
            for name, *args in ref["slide"](lane, drop, window):
                getattr(llama_cpp, name)(evaluator._memory, *args)

        return types.SimpleNamespace(step=evaluator.step, slide=slide)

    assert _reference_payloads(ref, header, groups, _content(vector), engine.model.tokenize, engine.model.vocab_size, evaluator_for)
