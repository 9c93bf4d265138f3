"""FORMAT.md is checked against the code: its test vectors, annotated layouts and reference code.

Three things are read out of FORMAT.md and must agree with nacrith:

* every ``python`` block (the reference build string, quantization, schedule, coder and
  ensemble) is executed, and its functions must produce the vectors and agree with
  :mod:`nacrith.coder`, :mod:`nacrith.lockstep`, :mod:`nacrith.ensemble` and
  :func:`nacrith.models.llm.build_id`;
* every vector section ("### Vector ...") holds fenced blocks tagged ``hex archive``,
  ``hex content``, ``hex rejected``, ``text rejected``, ``hex payload``, ``text coder``,
  ``text quantize``, ``text exptable``, ``text build``, ``text schedule``, ``text cache`` or
  ``text ensemble``, and the code must write, read and reject exactly those bytes and values;
* every archive vector has a field-by-field table, which must equal what the small
  parser below (written from FORMAT.md, not from container.py) makes of the bytes.

Only the tests marked slow need the language model: they decode the neural vector, write it
again, and recompute its payloads with FORMAT.md's reference code (its slides' llama.cpp calls
made on the model's cache) from the model's logits. Without them, neural payloads are checked
as containers only. How a slide moves a cache is checked without the model, by playing the
llama.cpp calls on a cache simulated as llama.h documents them.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import re
import types
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import nacrith
import nacrith.api
import nacrith.codec
from nacrith import errors, fallback
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

FORMAT_MD = Path(__file__).resolve().parent.parent / "FORMAT.md"


# --- reading FORMAT.md -------------------------------------------------------------


@dataclass
class Vector:
    title: str
    blocks: dict[str, str] = field(default_factory=dict)
    """Fenced blocks by info string ("hex archive", "text coder", ...)."""
    table: list[tuple[int, str, str, str]] = field(default_factory=list)
    """Rows of the field-by-field table: (offset, hex bytes, field, value)."""
    body: str = ""
    """The section's text, up to the next heading."""

    def hex(self, tag: str) -> bytes:
        return bytes.fromhex(self.blocks[tag])


_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.S | re.M)
_ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*`([0-9a-f ]*)`\s*\|\s*([^|]*?)\s*\|\s*([^|]*?)\s*\|\s*$", re.M)


def _format_text() -> str:
    if not FORMAT_MD.exists():
        pytest.fail(f"{FORMAT_MD} is missing")
    return FORMAT_MD.read_text(encoding="utf-8")


def load_vectors() -> list[Vector]:
    """The "### Vector" sections of FORMAT.md with their tagged blocks and tables."""
    text = _format_text()
    sections = re.split(r"^### (Vector [^\n]*)\n", text, flags=re.M)
    vectors = []
    for title, body in zip(sections[1::2], sections[2::2]):
        body = re.split(r"^#{1,3} ", body, maxsplit=1, flags=re.M)[0]  # up to the next heading
        vector = Vector(title.strip(), body=body)
        for tag, content in _FENCE.findall(body):
            tag = tag.strip()
            if tag.startswith(("hex ", "text ")):
                assert tag not in vector.blocks, f"{title}: two blocks tagged {tag!r}"
                vector.blocks[tag] = content
        vector.table = [(int(o), b.strip(), f.strip(), v.strip()) for o, b, f, v in _ROW.findall(body)]
        vectors.append(vector)
    return vectors


@functools.cache
def reference_code() -> dict:
    """FORMAT.md's python blocks, executed in order in one namespace (once: building the table takes a moment)."""
    namespace: dict = {"__name__": "format_md"}
    for tag, content in _FENCE.findall(_format_text()):
        if tag.strip() == "python":
            exec(compile(content, str(FORMAT_MD), "exec"), namespace)
    return namespace


def _key_values(block: str) -> dict[str, list[str]]:
    out = {}
    for line in block.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, *values = line.split()
            out[key] = values
    return out


VECTORS = load_vectors() if FORMAT_MD.exists() else []
ARCHIVES = [v for v in VECTORS if "hex archive" in v.blocks]
REJECTED = [v for v in VECTORS if "hex rejected" in v.blocks]
CODERS = [v for v in VECTORS if "text coder" in v.blocks]
QUANTIZERS = [v for v in VECTORS if "text quantize" in v.blocks]
TABLES = [v for v in VECTORS if "text exptable" in v.blocks]
BUILDS = [v for v in VECTORS if "text build" in v.blocks]
SCHEDULES = [v for v in VECTORS if "text schedule" in v.blocks]
CACHES = [v for v in VECTORS if "text cache" in v.blocks]
ENSEMBLES = [v for v in VECTORS if "text ensemble" in v.blocks]


def _ids(vectors: list[Vector]) -> list[str]:
    return [v.title.split(":")[0].removeprefix("Vector ") for v in vectors]


# --- an independent reading of the archive layout, written from FORMAT.md ---------


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

    Deliberately separate from nacrith.container: if the two disagree with each other,
    one of them disagrees with FORMAT.md.
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
    """The markdown table FORMAT.md shows under an archive vector (used to write and check it)."""
    parser = SpecParser(archive)
    parser.parse()
    lines = ["| Offset | Bytes | Field | Value |", "|---:|---|---|---|"]
    lines += [f"| {offset} | `{raw}` | {name} | {value} |" for offset, raw, name, value in parser.rows]
    return "\n".join(lines)


def _has_neural_chunks(vector: Vector) -> bool:
    _, groups, _ = SpecParser(vector.hex("hex archive")).parse()
    return any(e.method in _NEURAL for g in groups for e in g.entries)


# --- the vectors exist ----------------------------------------------------------------


def test_format_md_has_vectors_of_every_kind() -> None:
    assert len(ARCHIVES) >= 4 and len(CODERS) >= 3 and len(QUANTIZERS) >= 3 and SCHEDULES
    assert REJECTED and TABLES and BUILDS and NEURAL_ARCHIVES and CACHES and ENSEMBLES
    assert any(not v.hex("hex content") for v in ARCHIVES), "a vector for empty input"
    assert {"python"} <= {tag.strip() for tag, _ in _FENCE.findall(_format_text())}


def test_format_md_names_the_version_the_code_writes() -> None:
    text = _format_text()
    assert re.search(rf"^Format version: {FORMAT_VERSION}\b", text, re.M)
    assert "8E 4E 43 52" in text and MAGIC == bytes.fromhex("8E4E4352")


def _header_bounds() -> dict[str, tuple[int, int]]:
    """The "1 to 30"-style bounds of the frame header table, by field name."""
    text = _format_text()
    table = text[text.index("## Frame header") : text.index("### Flags")]
    bounds = {}
    row = re.compile(r"^\| (Precision bits|Lanes|Window|Chunk size) \|[^|]*\|[^|]*\|\D*(\d+) to (\d+)", re.M)
    for name, low, high in row.findall(table):
        bounds[name] = (int(low), int(high))
    return bounds


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
    text = _format_text()
    table = text[text.index("### Flags") : text.index("### Model identity")]
    reserved = re.search(r"^\| 3–7 \| `0x([0-9A-F]{2})` \| Reserved", table, re.M)
    assert reserved and int(reserved[1], 16) == 0xF8
    assert re.search(r"^\| 2 \| `0x04` \| Ensemble parameters present", table, re.M)
    empty = ARCHIVES[0].hex("hex archive")  # Vector A1: flags 0x01 at offset 5
    assert any(SpecParser(v.hex("hex archive")).parse()[0].params.ensemble for v in ARCHIVES), "a header with bit 2"
    for bit in range(3, 8):
        damaged = empty[:5] + bytes([empty[5] | 1 << bit]) + empty[6:]
        with pytest.raises(errors.CorruptArchiveError):
            FrameReader(io.BytesIO(damaged)).read_header()


def test_chunk_methods_in_format_md_are_those_of_the_code() -> None:
    text = _format_text()
    row = re.search(r"^\| Method \| 1 \| always \|([^|]*)\|", text, re.M)
    assert row, "the chunk entry table has no method row"
    assert {int(n): name for n, name in re.findall(r"`(\d+)` ([\w-]+)", row[1])} == _METHOD_NAMES
    for method, name in _METHOD_NAMES.items():
        assert re.search(rf"^### Method {method}: {name}$", text, re.M)
        assert ChunkEntry(method, 1, 0, 0, 0).method_name == name
    assert NEURAL_METHODS == set(_NEURAL)


def _ensemble_parameter_rows() -> list[tuple[int, str, int, int, int]]:
    """(number, name, low, high, default) of FORMAT.md's ensemble parameter table."""
    text = _format_text()
    section = text[text.index("### Ensemble parameters") : text.index("## Blocks")]
    row = re.compile(r"^\| (\d+) \| `(\w+)` \| (\d+)\.\.(\d+) \| (\d+) \|", re.M)
    return [(int(n), name, int(low), int(high), int(d)) for n, name, low, high, d in row.findall(section)]


def _code_accepts(values: list[int]) -> bool:
    params = CodingParams(24, 8, 2048, 1536, 65536, 0, EnsembleParams(*values))
    try:
        params.validate()
    except errors.CorruptArchiveError:
        return False
    return True


def test_ensemble_parameters_in_format_md_are_those_of_the_code() -> None:
    """Names, order, defaults and bounds of the table; the 1 GiB rule; the reference ensemble_accepted."""
    rows = _ensemble_parameter_rows()
    names = [f.name for f in dataclasses.fields(EnsembleParams)]
    assert [r[0] for r in rows] == list(range(1, len(names) + 1))
    assert [r[1] for r in rows] == names
    assert [r[4] for r in rows] == list(EnsembleParams().values())
    ref = reference_code()
    assert [tuple(b) for b in ref["ENSEMBLE_BOUNDS"]] == [(low, high) for _, _, low, high, _ in rows]
    assert MAX_MEMORY == 2**30 and "1 GiB (2^30 bytes)" in _format_text()
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
        assert ref["ensemble_accepted"](values) == expected == _code_accepts(values), values


# --- archive vectors -------------------------------------------------------------------


@pytest.mark.parametrize("vector", ARCHIVES + REJECTED, ids=_ids(ARCHIVES + REJECTED))
def test_stated_sizes_are_those_of_the_blocks(vector: Vector) -> None:
    """The "Content (N bytes)" and "Archive (N bytes)" lines above the blocks."""
    for label, tag in (("Content", "hex content"), ("Archive", "hex archive"), ("Archive", "hex rejected")):
        if tag in vector.blocks:
            stated = re.findall(rf"^{label} \((\d+) bytes[,)]", vector.body, re.M)
            assert stated == [str(len(vector.hex(tag)))], f"{vector.title}: {label} ({stated})"


def _chunk_slices(groups: list[Group], content: bytes) -> list[tuple[ChunkEntry, bytes, bytes]]:
    out, pos = [], 0
    for group in groups:
        for entry, payload in zip(group.entries, group.payloads):
            out.append((entry, payload, content[pos : pos + entry.length]))
            pos += entry.length
    assert pos == len(content), "the chunks' lengths do not add up to the content"
    return out


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any attempt to resolve, fingerprint or load a model fail the test."""

    def forbidden(*args, **kwargs):
        raise AssertionError("decoding an archive without neural chunks tried to use a model")

    monkeypatch.setattr(nacrith.api, "engine", forbidden)
    monkeypatch.setattr(nacrith.codec, "Engine", forbidden)


@pytest.mark.parametrize("vector", ARCHIVES, ids=_ids(ARCHIVES))
def test_table_is_what_the_spec_parser_reads(vector: Vector) -> None:
    archive = vector.hex("hex archive")
    expected = annotate(archive).splitlines()[2:]
    shown = [f"| {o} | `{b}` | {f} | {v} |" for o, b, f, v in vector.table]
    assert shown == expected
    assert "".join(b.replace(" ", "") for _, b, _, _ in vector.table) == archive.hex()


@pytest.mark.parametrize("vector", ARCHIVES, ids=_ids(ARCHIVES))
def test_code_writes_exactly_the_archive(vector: Vector) -> None:
    archive = vector.hex("hex archive")
    header, groups, end = SpecParser(archive).parse()
    written = write_header(header) + b"".join(write_group(g) for g in groups) + write_end(end)
    assert written.hex() == archive.hex()


@pytest.mark.parametrize("vector", ARCHIVES, ids=_ids(ARCHIVES))
def test_code_reads_exactly_the_fields(vector: Vector) -> None:
    archive = vector.hex("hex archive")
    header, groups, end = SpecParser(archive).parse()
    reader = FrameReader(io.BytesIO(archive))
    assert reader.read_header() == header
    blocks = list(reader.blocks())
    assert blocks[:-1] == groups and blocks[-1] == end
    assert reader.offset == len(archive)


@pytest.mark.parametrize("vector", ARCHIVES, ids=_ids(ARCHIVES))
def test_chunks_and_checksums_match_the_content(vector: Vector) -> None:
    archive, content = vector.hex("hex archive"), vector.hex("hex content")
    header, groups, end = SpecParser(archive).parse()
    assert end.content_size == len(content) and end.crc == zlib.crc32(content)
    assert header.content_size in (None, len(content))
    for entry, payload, original in _chunk_slices(groups, content):
        assert entry.crc == zlib.crc32(original)
        if entry.method in _NEURAL:
            assert 1 <= entry.tokens <= entry.length and len(payload) == entry.payload_length
            continue
        # The encoder's choice and its bytes (zstd level 19, no content size, no checksum)...
        assert fallback.pack(original) == (entry.method, payload)
        # ...and what every decoder must make of them.
        assert fallback.unpack(entry.method, payload, entry.length) == original


@pytest.mark.parametrize("vector", ARCHIVES, ids=_ids(ARCHIVES))
def test_whole_archive_decodes_without_a_model(vector: Vector, no_model: None) -> None:
    archive, content = vector.hex("hex archive"), vector.hex("hex content")
    if _has_neural_chunks(vector):
        pytest.skip("neural chunks need the model; checked as a container only")
    assert nacrith.decompress(archive) == content
    d = nacrith.NacrithDecompressor()
    assert b"".join(d.decompress(archive[i : i + 7]) for i in range(0, len(archive), 7)) == content and d.eof


def test_concatenated_vectors_decode_to_their_concatenated_contents(no_model: None) -> None:
    """FORMAT.md, Overview and Test vectors: frames one after another are one archive."""
    plain = [v for v in ARCHIVES if not _has_neural_chunks(v)]
    assert len(plain) >= 3
    for first, second in zip(plain, plain[1:] + plain[:1]):
        joined = first.hex("hex archive") + second.hex("hex archive")
        assert nacrith.decompress(joined) == first.hex("hex content") + second.hex("hex content")
    a1, a2 = (next(v for v in ARCHIVES if v.title.startswith(f"Vector {n}:")) for n in ("A1", "A2"))
    assert (len(a1.hex("hex archive")), len(a2.hex("hex archive")), len(a2.hex("hex content"))) == (47, 89, 16)  # as the text says
    for joined in (a1.hex("hex archive") + a2.hex("hex archive"), a2.hex("hex archive") + a1.hex("hex archive")):
        assert nacrith.decompress(joined) == a2.hex("hex content")


# --- rejection vectors ---------------------------------------------------------------------


def _rejection_case(vector: Vector) -> tuple[bytes, type[errors.NacrithError], bytes]:
    """The rejected archive, the error FORMAT.md names, and the archive its repair lines give."""
    archive = vector.hex("hex rejected")
    lines = [line.split() for line in vector.blocks["text rejected"].splitlines() if line.strip()]
    (error_name,) = [line[1] for line in lines if line[0] == "error"]
    error = getattr(errors, error_name)
    assert isinstance(error, type) and issubclass(error, errors.NacrithError)
    repairs = sorted(((int(at), old, new) for key, at, old, new in (l for l in lines if l[0] == "repair")), reverse=True)
    assert repairs, f"{vector.title}: no repair"
    repaired = bytearray(archive)
    for at, old, new in repairs:  # from the end, so every offset is one of the rejected archive
        old_bytes, new_bytes = bytes.fromhex(old), b"" if new == "-" else bytes.fromhex(new)
        assert archive[at : at + len(old_bytes)] == old_bytes, f"{vector.title}: no {old} at {at}"
        repaired[at : at + len(old_bytes)] = new_bytes
    return archive, error, bytes(repaired)


@pytest.mark.parametrize("vector", REJECTED, ids=_ids(REJECTED))
def test_rejected_archive_is_rejected(vector: Vector, no_model: None) -> None:
    archive, error, _ = _rejection_case(vector)
    with pytest.raises(error) as caught:
        nacrith.decompress(archive)
    assert type(caught.value) is error, f"{type(caught.value).__name__}: {caught.value}"
    d = nacrith.NacrithDecompressor()
    with pytest.raises(error):
        for i in range(0, len(archive), 7):
            d.decompress(archive[i : i + 7])


@pytest.mark.parametrize("vector", REJECTED, ids=_ids(REJECTED))
def test_repaired_archive_is_valid(vector: Vector, no_model: None) -> None:
    _, _, repaired = _rejection_case(vector)
    header, groups, end = SpecParser(repaired).parse()
    reader = FrameReader(io.BytesIO(repaired))
    assert reader.read_header() == header
    assert list(reader.blocks()) == [*groups, end]
    if not any(e.method in _NEURAL for g in groups for e in g.entries):
        content = nacrith.decompress(repaired)
        assert len(content) == end.content_size and zlib.crc32(content) == end.crc


# --- coder vectors -------------------------------------------------------------------------


def _coder_case(vector: Vector) -> tuple[int, list[int], list[int]]:
    kv = _key_values(vector.blocks["text coder"])
    precision = int(kv["precision"][0])
    freqs = [int(x) for x in kv["frequencies"]]
    symbols = [int(x) for x in kv.get("symbols", [])]
    assert sum(freqs) == 1 << precision, f"{vector.title}: frequencies must sum to 2**precision"
    return precision, freqs, symbols


@pytest.mark.parametrize("vector", CODERS, ids=_ids(CODERS))
def test_coder_writes_and_reads_the_vector(vector: Vector) -> None:
    precision, freqs, symbols = _coder_case(vector)
    total, cumulative = 1 << precision, [0, *np.cumsum(freqs).tolist()]
    encoder = ArithmeticEncoder()
    for s in symbols:
        encoder.encode(cumulative[s], freqs[s], total)
    assert encoder.finish().hex() == vector.hex("hex payload").hex()
    decoder = ArithmeticDecoder(vector.hex("hex payload"))
    assert [decoder.decode(cumulative) for _ in symbols] == symbols


@pytest.mark.parametrize("vector", CODERS, ids=_ids(CODERS))
def test_reference_coder_in_format_md_gives_the_same_bytes(vector: Vector) -> None:
    ref = reference_code()
    precision, freqs, symbols = _coder_case(vector)
    total, cumulative = 1 << precision, [0, *np.cumsum(freqs).tolist()]
    payload = ref["encode"]([(cumulative[s], freqs[s], total) for s in symbols])
    assert payload.hex() == vector.hex("hex payload").hex()
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


# --- quantization vectors --------------------------------------------------------------------


def _float(text: str) -> float:
    """A decimal, or a C99 hexadecimal float such as -0x1p-100."""
    return float.fromhex(text) if "x" in text.lower() else float(text)


@pytest.mark.parametrize("vector", QUANTIZERS, ids=_ids(QUANTIZERS))
def test_quantization_vector(vector: Vector) -> None:
    kv = _key_values(vector.blocks["text quantize"])
    precision = int(kv["precision"][0])
    values = [_float(x) for x in kv["logits"]]
    logits = np.array(values, dtype=np.float32)
    assert values == logits.tolist(), "logits must be exact float32 values"
    expected = [int(x) for x in kv["frequencies"]]
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


# --- ensemble vectors ------------------------------------------------------------------------------


@dataclass
class EnsembleCase:
    vocab: int
    precision: int
    start: int
    params: list[int]
    groups: list[list[int]]
    token: str
    logit: str
    coded: list[tuple[int, int, int, int, int]]
    """(group, step, lane, token, frequency of the token)."""
    rows: list[tuple[int, int, int, list[int]]]
    """(group, step, lane, the whole table)."""
    count: int
    sha256: str


def _ensemble_case(vector: Vector) -> EnsembleCase:
    lines = [line.strip() for line in vector.blocks["text ensemble"].splitlines() if line.strip()]
    kv = dict(line.split(" ", 1) for line in lines if not line.startswith(("coded ", "row ")))
    numbers = [[int(x) for x in line.split()[1:]] if line.startswith(("coded ", "row ")) else [] for line in lines]
    return EnsembleCase(
        vocab=int(kv["vocab"]),
        precision=int(kv["precision"]),
        start=int(kv["start"]),
        params=[int(x) for x in kv["params"].split()],
        groups=[[int(x) for x in group.split(",")] for group in kv["groups"].split()],
        token=kv["token"],
        logit=kv["logit"],
        coded=[tuple(n) for line, n in zip(lines, numbers) if line.startswith("coded ")],
        rows=[(*n[:3], n[3:]) for line, n in zip(lines, numbers) if line.startswith("row ")],
        count=int(kv["rows"]),
        sha256=kv["sha256"].strip(),
    )


@functools.cache
def _ensemble_inputs(title: str) -> list[tuple[list[int], list[list[int]], list[tuple[list[int], np.ndarray]]]]:
    """Per group of the vector: its token counts, each lane's tokens, and each step's (lanes, float32 logits)."""
    (vector,) = [v for v in ENSEMBLES if v.title == title]
    case = _ensemble_case(vector)
    token, logit = compile(case.token, "token", "eval"), compile(case.logit, "logit", "eval")
    out = []
    for g, counts in enumerate(case.groups):
        tokens = [[eval(token, {}, {"g": g, "i": i, "j": j}) for j in range(n)] for i, n in enumerate(counts)]
        assert all(0 <= t < case.vocab for lane in tokens for t in lane)
        steps = []
        for s in range(max(counts)):
            lanes = [i for i, n in enumerate(counts) if s < n]
            rows = []
            for i in lanes:
                scope = {"g": g, "i": i, "s": s, "t": tokens[i][s - 1] if s else case.start, "x": tokens[i][s]}
                rows.append([eval(logit, {}, {**scope, "v": v}) for v in range(case.vocab)])
            z = np.array(rows, dtype=np.float64)
            assert np.array_equal(z.astype(np.float32).astype(np.float64), z), "logits must be exact float32 values"
            steps.append((lanes, z.astype(np.float32)))
        out.append((counts, tokens, steps))
    return out


def _play_ensemble(vector: Vector, ensemble) -> list[tuple[int, int, int, int, list[int]]]:
    """Every table the ensemble makes for the vector, as (group, step, lane, coded token, table)."""
    tables = []
    for g, (counts, tokens, steps) in enumerate(_ensemble_inputs(vector.title)):
        ensemble.begin_group(list(counts))
        for s, (lanes, logits) in enumerate(steps):
            freq = ensemble.frequencies(lanes, logits)
            coded = [tokens[i][s] for i in lanes]
            for i, x, row in zip(lanes, coded, freq):
                tables.append((g, s, i, x, [int(f) for f in row]))
            ensemble.update(lanes, coded)
    return tables


def _check_ensemble_tables(vector: Vector, tables: list[tuple[int, int, int, int, list[int]]]) -> None:
    case = _ensemble_case(vector)
    assert case.coded or case.rows
    assert len(tables) == case.count
    assert all(sum(f) == 1 << case.precision and min(f) >= 1 and len(f) == case.vocab for *_, f in tables)
    by_step = {(g, s, i): (x, f) for g, s, i, x, f in tables}
    for g, s, i, x, frequency in case.coded:
        assert by_step[g, s, i][0] == x, (g, s, i)
        assert by_step[g, s, i][1][x] == frequency, (g, s, i)
    for g, s, i, row in case.rows:
        assert by_step[g, s, i][1] == row, (g, s, i)
    digest = hashlib.sha256(b"".join(np.array(f, dtype="<i8").tobytes() for *_, f in tables)).hexdigest()
    assert digest == case.sha256


@pytest.mark.parametrize("vector", ENSEMBLES, ids=_ids(ENSEMBLES))
def test_ensemble_vector(vector: Vector) -> None:
    case = _ensemble_case(vector)
    ensemble = Ensemble(EnsembleParams(*case.params), case.vocab, case.precision)
    assert not ensemble.params.problems() and ensemble.params.enabled
    assert ensemble.spare >= 0
    _check_ensemble_tables(vector, _play_ensemble(vector, ensemble))


@pytest.mark.parametrize("vector", ENSEMBLES, ids=_ids(ENSEMBLES))
def test_reference_ensemble_vector(vector: Vector) -> None:
    case = _ensemble_case(vector)
    ref = reference_code()
    assert ref["ensemble_accepted"](case.params)
    tables = _play_ensemble(vector, ref["Ensemble"](case.params, case.vocab, case.precision))
    _check_ensemble_tables(vector, tables)
    orders, _, _, min_length, *_ = case.params
    if not orders and not min_length:  # the bias head alone: the first table is Quantization's
        (_, _, steps), *_ = _ensemble_inputs(vector.title)
        assert tables[0][4] == ref["quantize"](steps[0][1][0], case.precision).tolist()


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


# --- the weight table ------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", TABLES, ids=_ids(TABLES))
def test_weight_table_vector(vector: Vector) -> None:
    kv = _key_values(vector.blocks["text exptable"])
    entries = [line.split()[1:] for line in vector.blocks["text exptable"].splitlines() if line.startswith("entry ")]
    assert entries
    for name, table in (("nacrith", exp_table().tolist()), ("FORMAT.md", reference_code()["EXP_TABLE"])):
        assert len(table) == int(kv["entries"][0]), name
        digest = hashlib.sha256(b"".join(int(w).to_bytes(8, "little") for w in table)).hexdigest()
        assert digest == kv["sha256"][0], name
        assert all(table[int(k)] == int(w) for k, w in entries), name


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
    design = Path(__file__).resolve().parent.parent / "DESIGN.md"
    margin = re.search(r"No entry lies within ([\d.]+) × 10\^−(\d+) of a rounding boundary", " ".join(design.read_text(encoding="utf-8").split()))
    assert margin and Decimal(margin[1]) * Decimal(10) ** -int(margin[2]) <= nearest


# --- the llama.cpp build string ----------------------------------------------------------------


@pytest.mark.parametrize("vector", BUILDS, ids=_ids(BUILDS))
def test_build_vector(vector: Vector, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = dict(line.split(" ", 1) for line in vector.blocks["text build"].splitlines() if line.strip())
    version, info, expected = lines["version"].strip(), lines["system_info"], lines["build"].strip()
    assert reference_code()["llama_build"](version, info) == expected
    llm = pytest.importorskip("nacrith.models.llm", reason="llama-cpp-python is not installed")
    monkeypatch.setattr(llm, "_init_backend", lambda: None)
    monkeypatch.setattr(llm.llama_cpp, "llama_print_system_info", lambda: info.encode())
    monkeypatch.setattr(llm.llama_cpp, "__version__", version)
    assert llm.build_id() == expected
    archive_builds = {SpecParser(v.hex("hex archive")).parse()[0].model.llama_version for v in ARCHIVES}
    assert expected in archive_builds


# --- schedule vectors ------------------------------------------------------------------------


class RecordingPredictor:
    """A flat distribution; records the calls the lockstep driver makes, in FORMAT.md's notation."""

    def __init__(self, vocab: int = 5) -> None:
        self.vocab = vocab
        self.events: list[str] = []

    def reset(self) -> None:
        pass

    def slide(self, lane: int, drop: int, length: int) -> None:
        self.events.append(f"slide lane={lane} drop={drop} length={length}")

    def step(self, lanes: list[int], tokens: list[int], positions: list[int]) -> np.ndarray:
        fed = ",".join("S" if t == self.vocab - 1 else str(t) for t in tokens)
        self.events.append(f"step lanes={','.join(map(str, lanes))} positions={','.join(map(str, positions))} fed={fed}")
        return np.zeros((len(lanes), self.vocab), dtype=np.float32)


def _schedule_case(vector: Vector) -> tuple[list[int], int, int, list[str]]:
    lines = [line.strip() for line in vector.blocks["text schedule"].splitlines() if line.strip()]
    is_event = [line.startswith(("step ", "slide ")) for line in lines]
    settings = dict(line.split() for line, event in zip(lines, is_event) if not event)
    counts = [int(x) for x in settings["counts"].split(",")]
    events = [line for line, event in zip(lines, is_event) if event]
    return counts, int(settings["window"]), int(settings["slide_keep"]), events


def _code_schedule(vector: Vector, predictor: type) -> tuple:
    """Encode and decode the vector's lanes with two fresh predictors; return them (encoder's, decoder's).

    Token j of lane i is (i + j) % (vocab - 1); the start token is vocab - 1, shown as S.
    """
    counts, window, keep, _ = _schedule_case(vector)
    vocab = 5
    tokens = [[(i + j) % (vocab - 1) for j in range(n)] for i, n in enumerate(counts)]
    settings = LaneSettings(precision_bits=8, window=window, slide_keep=keep, start_token=vocab - 1)
    encoder_side, decoder_side = predictor(vocab), predictor(vocab)
    payloads = encode_lanes(encoder_side, tokens, settings)
    assert decode_lanes(decoder_side, payloads, counts, settings) == tokens
    return encoder_side, decoder_side


@pytest.mark.parametrize("vector", SCHEDULES, ids=_ids(SCHEDULES))
def test_lockstep_driver_follows_the_schedule(vector: Vector) -> None:
    expected = _schedule_case(vector)[3]
    encoder_side, decoder_side = _code_schedule(vector, RecordingPredictor)
    assert encoder_side.events == expected
    assert decoder_side.events == expected


@pytest.mark.parametrize("vector", SCHEDULES, ids=_ids(SCHEDULES))
def test_reference_schedule_in_format_md(vector: Vector) -> None:
    counts, window, keep, expected = _schedule_case(vector)
    events = []
    for event in reference_code()["schedule"](counts, window, keep):
        if event[0] == "slide":
            events.append(f"slide lane={event[1]} drop={event[2]} length={window}")
        else:
            _, step, lanes, positions = event
            fed = ",".join("S" if step == 0 else str((i + step - 1) % 4) for i in lanes)
            events.append(f"step lanes={','.join(map(str, lanes))} positions={','.join(map(str, positions))} fed={fed}")
    assert events == expected


# --- slides -------------------------------------------------------------------------------------


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


def _cache_line(lane: int, before: list[int], after: list[int], start: int) -> str:
    def show(tokens: list[int]) -> str:
        return ",".join("S" if t == start else str(t) for t in tokens)

    return f"slide lane={lane} before={show(before)} after={show(after)}"


def _cache_lines(vector: Vector) -> list[str]:
    return [line.strip() for line in vector.blocks["text cache"].splitlines() if line.strip()]


def test_reference_slide_is_what_the_evaluator_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """nacrith's LaneEvaluator.slide makes exactly FORMAT.md's llama.cpp calls, which are the
    calls the evaluation context table writes."""
    llm = pytest.importorskip("nacrith.models.llm", reason="llama-cpp-python is not installed")
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
    text = _format_text()
    row = re.search(r"^\| Slide of lane `i` \|([^|]*)\|", text, re.M)
    assert row, "the evaluation context table has no slide row"
    written = re.findall(r"`(llama_memory_seq_\w+)\(mem, ([^)]*)\)`", row[1])
    assert [name for name, _ in written] == ["llama_memory_seq_rm", "llama_memory_seq_add"]
    for lane, drop, window in ((0, 1, 2), (3, 4, 16), (1, 512, 2048), (255, 65535, 65536)):
        calls.clear()
        llm.LaneEvaluator.slide(types.SimpleNamespace(_memory=memory), lane, drop, window)
        expected = [tuple(c) for c in reference_code()["slide"](lane, drop, window)]
        assert calls == expected
        scope = {"i": lane, "drop": drop, "window": window}
        table = [(name, *(eval(a.replace("−", "-"), {}, scope) for a in args.split(","))) for name, args in written]
        assert table == expected


@pytest.mark.parametrize("vector", CACHES, ids=_ids(CACHES))
def test_reference_slide_leaves_the_caches_of_the_vector(vector: Vector) -> None:
    """FORMAT.md's schedule and slide, played on a simulated cache, leave the caches the vector lists."""
    ref = reference_code()
    counts, window, keep, _ = _schedule_case(vector)
    start = 4  # shown as S; token j of lane i is (i + j) % 4
    memory, lines = SimulatedMemory(), []
    for event in ref["schedule"](counts, window, keep):
        if event[0] == "slide":
            _, lane, drop = event
            before = memory.tokens(lane)
            assert len(before) == window
            for name, *args in ref["slide"](lane, drop, window):
                memory.call(name, *args)
            after = memory.tokens(lane)
            assert after == ref["slide_cache"](before, drop) and len(after) == keep and after[0] == start
            lines.append(_cache_line(lane, before, after, start))
        else:
            _, s, lanes, positions = event
            for lane, position in zip(lanes, positions):
                memory.put(lane, position, (lane + s - 1) % 4 if s else start)
    assert lines == _cache_lines(vector)


@pytest.mark.parametrize("vector", CACHES, ids=_ids(CACHES))
def test_evaluator_slide_leaves_the_caches_of_the_vector(vector: Vector, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lockstep driver with nacrith's LaneEvaluator.slide, its llama.cpp calls played on a
    simulated cache, leaves the caches the vector lists, in encoder and decoder alike."""
    llm = pytest.importorskip("nacrith.models.llm", reason="llama-cpp-python is not installed")
    monkeypatch.setattr(llm.llama_cpp, "llama_memory_seq_rm", lambda mem, *args: mem.seq_rm(*args))
    monkeypatch.setattr(llm.llama_cpp, "llama_memory_seq_add", lambda mem, *args: mem.seq_add(*args))

    class SlidingPredictor(RecordingPredictor):
        def __init__(self, vocab: int) -> None:
            super().__init__(vocab)
            self._memory = SimulatedMemory()  # what LaneEvaluator.slide hands llama.cpp
            self.lines: list[str] = []

        def reset(self) -> None:
            self._memory = SimulatedMemory()

        def slide(self, lane: int, drop: int, length: int) -> None:
            before = self._memory.tokens(lane)
            assert len(before) == length
            llm.LaneEvaluator.slide(self, lane, drop, length)
            self.lines.append(_cache_line(lane, before, self._memory.tokens(lane), self.vocab - 1))

        def step(self, lanes: list[int], tokens: list[int], positions: list[int]) -> np.ndarray:
            for lane, token, position in zip(lanes, tokens, positions):
                self._memory.put(lane, position, token)
            return super().step(lanes, tokens, positions)

    encoder_side, decoder_side = _code_schedule(vector, SlidingPredictor)
    assert encoder_side.lines == _cache_lines(vector)
    assert decoder_side.lines == _cache_lines(vector)


NEURAL_ARCHIVES = [v for v in ARCHIVES if _has_neural_chunks(v)]


def _model_for(vector: Vector) -> tuple[FrameHeader, "nacrith.codec.Engine"]:
    """The vector's header and an engine for its model (one thread), or skip: it needs the model and build."""
    header, _, _ = SpecParser(vector.hex("hex archive")).parse()
    try:
        from nacrith.models import registry
        from nacrith.models.llm import build_id
    except ImportError:
        pytest.skip("llama-cpp-python is not installed")
    if registry.known_name(header.model.fingerprint) == "" or build_id() != header.model.llama_version:
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
def test_neural_vector_decodes_with_the_model_on_its_build(vector: Vector) -> None:
    _model_for(vector)
    assert nacrith.decompress(vector.hex("hex archive"), threads=1) == vector.hex("hex content")


@pytest.mark.slow
@pytest.mark.parametrize("vector", NEURAL_ARCHIVES, ids=_ids(NEURAL_ARCHIVES))
def test_neural_vector_is_what_nacrith_writes(vector: Vector) -> None:
    header, _ = _model_for(vector)
    p = header.params
    if p.slide_keep != p.window * 3 // 4 or header.content_size is None:
        pytest.skip("nacrith.compress writes a slide keep of 3/4 of the window, and the content size")
    archive = nacrith.compress(
        vector.hex("hex content"),
        lanes=p.lanes,
        window=p.window,
        chunk_bytes=p.chunk_bytes,
        ensemble=p.ensemble or False,
        threads=1,
    )
    assert archive.hex() == vector.hex("hex archive").hex()


@pytest.mark.slow
@pytest.mark.parametrize("vector", NEURAL_ARCHIVES, ids=_ids(NEURAL_ARCHIVES))
def test_reference_code_gives_the_neural_payloads(vector: Vector) -> None:
    """FORMAT.md's schedule, slides, quantization (or ensemble) and coder, fed llama.cpp's logits, give the archive's payloads.

    Only the evaluation (llama.cpp in the context FORMAT.md describes) and the tokenizer, which
    gives the tokens the encoder coded, come from nacrith; the slides are FORMAT.md's llama.cpp
    calls, made directly on the evaluator's KV memory.
    """
    import llama_cpp

    header, engine = _model_for(vector)
    ref, p, content = reference_code(), header.params, vector.hex("hex content")
    _, groups, _ = SpecParser(vector.hex("hex archive")).parse()
    ensemble = ref["Ensemble"](p.ensemble.values(), engine.model.vocab_size, p.precision_bits) if p.ensemble else None
    lanes_checked = 0
    for group, chunks in _groups_with_content(groups, content):
        lanes = [(entry, payload, original) for entry, payload, original in chunks if entry.method in _NEURAL]
        if not lanes:
            continue
        # A neural-crlf chunk codes its text with the CR of every CR LF removed.
        texts = [original.replace(b"\r\n", b"\n") if entry.method == 3 else original for entry, _, original in lanes]
        tokens = [engine.model.tokenize(text) for text in texts]
        assert [len(t) for t in tokens] == [entry.tokens for entry, _, _ in lanes]
        assert [engine.model.detokenize(t) for t in tokens] == texts
        assert [t.replace(b"\n", b"\r\n") if e.method == 3 else t for t, (e, _, _) in zip(texts, lanes)] == [o for _, _, o in lanes]
        evaluator = engine.evaluator(len(lanes), p.window)  # n_ctx = n x window, n_batch = n
        evaluator.reset()
        if ensemble:
            ensemble.begin_group([len(t) for t in tokens])
        tables: list[list[list[int]]] = [[] for _ in lanes]
        for event in ref["schedule"]([len(t) for t in tokens], p.window, p.slide_keep):
            if event[0] == "slide":
                _, lane, drop = event
                for name, *args in ref["slide"](lane, drop, p.window):
                    getattr(llama_cpp, name)(evaluator._memory, *args)
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
        for (entry, payload, _), lane_tokens, lane_tables in zip(lanes, tokens, tables):
            triples = [(sum(f[:t]), f[t], total) for t, f in zip(lane_tokens, lane_tables)]
            assert ref["encode"](triples).hex() == payload.hex()
            assert ref["decode"](payload, lane_tables) == lane_tokens
            lanes_checked += 1
    assert lanes_checked


def _groups_with_content(groups: list[Group], content: bytes) -> list[tuple[Group, list[tuple[ChunkEntry, bytes, bytes]]]]:
    out, pos = [], 0
    for group in groups:
        chunks = []
        for entry, payload in zip(group.entries, group.payloads):
            chunks.append((entry, payload, content[pos : pos + entry.length]))
            pos += entry.length
        out.append((group, chunks))
    assert pos == len(content)
    return out
