"""FORMAT.md and its test vectors (format-vectors/*.json) are checked against the code.

* Every ``python`` block of FORMAT.md (the build identity and tag, the xz property, slides,
  schedule, quantization, ensemble and coder) is executed; its functions must produce the
  vectors and agree with nacrith's code.
* Every vector file is read, and the code must write, read, decode and reject exactly those
  bytes and values: version 2 archives are written by nacrith's encoder and its container
  writer, version 1 archives are still decoded, each rejected archive fails with its error and
  its repairs make it valid. Vectors N4 to N6 must also fail the slips of the reference code
  they are there to catch.
* FORMAT.md's tables (descriptor, model presets, parameters and their defaults, block types,
  methods) are those of the code, and the annotated tables it keeps (Vectors A6 and A10) are
  what the small parsers below, written from FORMAT.md and not from the container code, make
  of the vectors' bytes.

Only the tests marked slow need the language model (Vectors A5 and VA5). The other neural
vectors replace the model by a formula: nacrith's encoder and decoder run on it through
:class:`FormulaEngine`, the one place this module plugs a model into them. How a slide moves a
cache is checked without the model, by playing the llama.cpp calls on a cache simulated as
llama.h documents them.
"""

from __future__ import annotations

import binascii
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
from nacrith import errors, fallback
from nacrith.coder import ArithmeticDecoder, ArithmeticEncoder, quantize
from nacrith.coder.cdf import exp_table
from nacrith.constants import FORMAT_VERSION, MAGIC, READ_VERSIONS
from nacrith.container import (
    BACKENDS,
    Base64Run,
    METHOD_NAMES,
    MODEL_PRESETS,
    NEURAL_METHODS,
    ChunkEntry,
    CodingParams,
    EndBlock,
    FrameHeader,
    FrameReader,
    Group,
    Index,
    IndexEntry,
    ModelInfo,
    OneChunk,
    OtherBytes,
    build_tag,
    frames,
    write_chunk,
    write_end,
    write_group,
    write_header,
    write_index,
    write_other,
)
from nacrith.container.fields import LAST_KEY
from nacrith.dictionary import Dictionary
from nacrith.container.writer import (
    BLOCK_END,
    BLOCK_GROUP,
    BLOCK_INDEX,
    BLOCK_OTHER,
    DESCRIPTOR_CONTENT_SIZE,
    OTHER_BASE64,
    DESCRIPTOR_LAYOUT,
    DESCRIPTOR_METHOD_SHIFT,
    DESCRIPTOR_MODEL_SHIFT,
    DESCRIPTOR_PARAMETERS,
    FOOTER_MAGIC,
)
from nacrith.engine import Engine, shared_engine
from nacrith.frames import FrameDecoder, FrameEncoder
from nacrith.neural.ensemble import Ensemble
from nacrith.neural.lanes import LaneLengths, decode_group, encode_group
from nacrith.neural.adapt import AdamState, AdaptParams, adam_update, lora_init
from nacrith.neural.params import MAX_MEMORY, EnsembleParams
from nacrith.neural.schedule import counted, default_slide_keep, lockstep_steps
from nacrith.options import Options
from nacrith.transforms import BASE64_CRLF, BASE64_LAST_LINE_END, BASE64_PADDED, base64_length, base64_text

LLM_MODULE = "nacrith.models.llm"  # imports llama_cpp: imported only by the tests that need it
DECODER_ENGINE = (nacrith.api.NacrithDecompressor, "_engine")
"""Where nacrith resolves a model for decoding: patched to fail in the tests that must not load one."""

ROOT = Path(__file__).resolve().parent.parent
FORMAT_MD = ROOT / "FORMAT.md"
DESIGN_MD = ROOT / "DESIGN.md"
VECTOR_DIR = ROOT / "format-vectors"
KINDS = (
    "archives", "rejected", "v1-archives", "v1-rejected", "coder", "quantize", "exptable", "build", "schedule", "ensemble", "dictionaries", "windows",
    "adapt",
)


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
ARCHIVES, REJECTED, V1_ARCHIVES, V1_REJECTED, CODERS, QUANTIZERS, TABLES, BUILDS, SCHEDULES, ENSEMBLES, DICTIONARIES = (VECTORS[k] for k in KINDS[:11])
"""(windows.json: tests/test_equal_info_vectors.py.)"""
ADAPTS = VECTORS["adapt"]
BY_NAME = {v["name"]: v for vectors in VECTORS.values() for v in vectors}
MADE_HERE = [v for v in ARCHIVES if "model" in v]
"""Version 2 archives whose model is a formula or is not needed: nacrith's encoder writes them here."""
NEEDS_MODEL = [v for v in ARCHIVES + V1_ARCHIVES if "needs" in v]
V1_FORMULA = [v for v in V1_ARCHIVES if "model" in v]


def _ids(vectors: list[dict]) -> list[str]:
    return [v["name"] for v in vectors]


def _archive(vector: dict) -> bytes:
    return bytes.fromhex(vector["archive"])


def _content(vector: dict) -> bytes:
    return bytes.fromhex(vector["content"])


def vector_dictionary(vector: dict) -> Dictionary | None:
    """The dictionary an archive vector was coded with (its encoder's ``dictionary`` names a vector of
    dictionaries.json), or None."""
    name = vector.get("encoder", {}).get("dictionary")
    return Dictionary(bytes.fromhex(BY_NAME[name]["dictionary"])) if name else None


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


def _section(title: str) -> str:
    """The text of FORMAT.md's section with this heading, up to the next heading of any level."""
    text = _text(FORMAT_MD)
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#)", text, re.S | re.M)
    assert match, f"FORMAT.md has no section {title!r}"
    return match[1]


def annotated_tables() -> dict[str, list[tuple[int, str, str, str]]]:
    """The field-by-field tables of FORMAT.md's "### Vector X" sections, by vector name."""
    sections = re.split(r"^### Vector ([A-Z]+\d+)[^\n]*\n", _text(FORMAT_MD), flags=re.M)
    tables = {}
    for name, body in zip(sections[1::2], sections[2::2]):
        body = re.split(r"^#{1,3} ", body, maxsplit=1, flags=re.M)[0]
        tables[name] = [(int(o), b.strip(), f.strip(), v.strip()) for o, b, f, v in _ROW.findall(body)]
    return tables


def _number(text: str, window: int | None = None) -> int:
    """A bound or default as FORMAT.md writes it: 65536, 2^56 − 1, window − 1, `window × 3 // 4`."""
    expression = text.strip("` ").replace("−", "-").replace("×", "*").replace("^", "**")
    assert re.fullmatch(r"[\d\s*+/\-]*(window[\d\s*+/\-]*)?", expression), text
    return eval(expression, {}, {"window": window})


@functools.cache
def format_parameters() -> dict[int, tuple[str, str, str, str]]:
    """FORMAT.md's parameter tables by key: (name, default, low, high) as written."""
    rows = {}
    for line in _section("Parameters").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and cells[0].isdigit():
            key = int(cells[0])
            if key <= 8 or key >= 19:  # key, parameter, default, bounds, meaning
                low, _, high = cells[3].partition("..")
                rows[key] = (cells[1], cells[2], low, high)
            else:  # the ensemble's: key, parameter, bounds, default, meaning
                low, _, high = cells[2].partition("..")
                rows[key] = (cells[1].strip("`"), cells[3], low, high)
    return rows


@functools.cache
def format_presets() -> dict[int, tuple[bytes, str, int]]:
    """FORMAT.md's model presets: number -> (fingerprint, file name, start token)."""
    row = re.compile(r"^\| (\d) \| `([0-9a-f]{16})` \| `([^`]+)`[^|]* \| (\d+) \|$", re.M)
    return {int(n): (bytes.fromhex(f), name, int(start)) for n, f, name, start in row.findall(_section("Model identity"))}


def spec_params(pairs: dict[int, int], model: int) -> CodingParams:
    """The coding parameters a header's pairs stand for, with FORMAT.md's defaults."""
    table = format_parameters()
    window = pairs.get(3, _number(table[3][1]))

    def value(key: int) -> int:
        if key in pairs:
            return pairs[key]
        if key == 6:
            return format_presets()[model][2]
        return _number(table[key][1], window)

    ensemble = EnsembleParams(*(value(k) for k in range(9, 19))) if value(8) else None
    adapt = AdaptParams(*(value(k) for k in range(22, 27))) if value(21) else None
    return CodingParams(value(1), value(2), window, value(4), value(5), value(6), ensemble, value(7), value(19), value(20), adapt, value(27))


# --- independent readings of the archive layout, written from FORMAT.md ----------------------------

_METHODS = {0: "stored", 1: "zstd", 2: "neural", 3: "neural-crlf", 4: "xz"}
_NEURAL = (2, 3)
_PARAMETER_NAMES = {
    1: "precision bits", 2: "lanes", 3: "window", 4: "slide keep", 5: "chunk size", 6: "start token",
    7: "segment size", 8: "ensemble", 9: "ngram orders", 10: "ngram table bits", 11: "ngram count limit",
    12: "match min length", 13: "match table bits", 14: "history bits", 15: "bias rate", 16: "bias limit",
    17: "mixer rate", 18: "mixer first weight", 19: "backend", 20: "dictionary", 21: "adaptation", 22: "adapt interval",
    23: "adapt rate", 24: "adapt layers", 25: "adapt rank", 26: "adapt targets", 27: "threads",
}
_BLOCKS = {0: "end", 1: "group", 2: "other bytes", 3: "index"}


class _Bytes:
    """An archive read field by field into rows of (offset, bytes, field, value), as FORMAT.md's tables show them."""

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

    def varint(self, name: str, show=str) -> int:
        start, value, shift = self.pos, 0, 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        assert self.pos - start <= 9 and (self.pos - start == 1 or byte != 0), f"{name}: not a minimal varint"
        self.rows.append((start, self.data[start : self.pos].hex(" "), name, show(value)))
        return value

    def short_string(self, name: str) -> str:
        n = self.data[self.pos]
        text = self.data[self.pos + 1 : self.pos + 1 + n].decode("utf-8")
        self.take(1 + n, name, f'"{text}"')
        return text

    def u32(self, name: str, show=lambda v: f"0x{v:08x}") -> int:
        value = int.from_bytes(self.data[self.pos : self.pos + 4], "little")
        self.take(4, name, show(value))
        return value


def _describe(d: int) -> str:
    parts = [f"layout {d & 3}"] + ["content size"] * (d >> 2 & 1) + ["parameters"] * (d >> 3 & 1) + [f"model {d >> 4 & 3}"]
    return f"0x{d:02x}: " + ", ".join(parts + ([f"method {d >> 6}"] if d & 3 == 0 else []))


def _base64_flags(flags: int) -> str:
    words = ["CR LF" if flags & 1 else "LF", "the last line ended" if flags & 2 else "the last line not ended"]
    return f"0x{flags:02x}: " + ", ".join(words + (["padded"] if flags & 4 else []))


class SpecParser(_Bytes):
    """Parses a whole version 2 frame into rows and plain data. Deliberately separate from the
    container code: if the two disagree with each other, one of them disagrees with FORMAT.md."""

    def parse(self) -> dict:
        self.take(4, "magic")
        assert self.data[:4] == bytes.fromhex("8e4e4352")
        assert self.byte("version") == 2
        d = self.byte("descriptor", _describe)
        layout, has_size, has_pairs, model, method = d & 3, d >> 2 & 1, d >> 3 & 1, d >> 4 & 3, d >> 6
        assert layout < 3 and model < 3 and (layout == 0 or method == 0) and (layout or has_size), f"descriptor {d:02x}"
        frame: dict = {"layout": layout, "model": model, "method": method, "pairs": {}, "blocks": [], "name": ""}
        frame["build_tag"] = self.take(2, "build tag")
        self.rows[-1] = self.rows[-1][:3] + (frame["build_tag"].hex(),)
        frame["content_size"] = self.varint("content size") if has_size else None
        frame["fingerprint"] = format_presets()[model][0] if model else None
        if model == 0:
            frame["fingerprint"] = self.take(8, "model fingerprint")
            self.rows[-1] = self.rows[-1][:3] + (frame["fingerprint"].hex(),)
            frame["name"] = self.short_string("model name")
        while has_pairs:
            key = self.varint("parameter key", lambda k: f"{k} {_PARAMETER_NAMES[k]}" if k else "0 end")
            if not key:
                assert frame["pairs"], "a parameter list without a pair"
                break
            assert key > max(frame["pairs"], default=0) and key in _PARAMETER_NAMES, f"parameter key {key}"
            frame["pairs"][key] = self.varint(_PARAMETER_NAMES[key])
        frame["params"] = spec_params(frame["pairs"], model)
        if layout == 0:
            payload_length = self.varint("payload length")
            crc = self.u32("CRC-32")
            payload = self.take(payload_length, "payload", f"{payload_length} bytes")
            frame["blocks"].append({"type": "chunk", "method": method, "length": frame["content_size"], "crc": crc, "payload": payload})
            assert self.pos == len(self.data), "bytes after the frame"
            return frame
        while True:
            at = self.pos
            kind = self.byte("block type", lambda k: f"{k} {_BLOCKS[k]}")
            if kind == 0:
                block = {"type": "end", "size": self.varint("segment size"), "crc": self.u32("segment CRC-32")}
            elif kind == 1:
                entries = []
                for i in range(self.varint("chunk count")):
                    method = self.byte(f"chunk {i} method", lambda m: f"{m} {_METHODS[m]}")
                    length, payload_length = self.varint(f"chunk {i} length"), self.varint(f"chunk {i} payload length")
                    entries.append({"method": method, "length": length, "payload_length": payload_length, "crc": self.u32(f"chunk {i} CRC-32")})
                for i, e in enumerate(entries):
                    e["payload"] = self.take(e["payload_length"], f"chunk {i} payload", f"{e['payload_length']} bytes")
                block = {"type": "group", "entries": entries}
            elif kind == 2:
                count = self.varint("run count")
                runs = [self.varint(f"run {i}", lambda r, i=i: f"{r} ({'other' if i % 2 else 'text'})") for i in range(count)]
                method = self.byte("method", lambda m: f"{m} {_METHODS[m]}" if m < 0x80 else f"0x{m:02x}: {_METHODS[m & 0x7F]}, a base64 table follows")
                table = []
                for i in range(self.varint("base64 run count") if method & 0x80 else 0):
                    run = self.varint(f"base64 run {i}", lambda r: f"run {r}")
                    table.append((run, self.varint(f"run {run} line length"), self.byte(f"run {run} flags", _base64_flags)))
                payload_length = self.varint("payload length")
                crc = self.u32("CRC-32")
                payload = self.take(payload_length, "payload", f"{payload_length} bytes")
                block = {"type": "other", "runs": runs, "method": method & 0x7F, "base64": table, "crc": crc, "payload": payload}
            else:
                assert kind == 3 and layout == 2, f"block type {kind}"
                count = self.varint("segment count")
                entries = [(self.varint(f"segment {i} size"), self.varint(f"segment {i} archive size"), self.u32(f"segment {i} CRC-32")) for i in range(count)]
                size = self.u32("index size", str)
                assert size == self.pos - 4 - at, "index size"
                assert self.take(4, "footer magic") == bytes.fromhex("8e4e4358")
                block = {"type": "index", "entries": entries}
            block["at"], block["end"] = at, self.pos
            frame["blocks"].append(block)
            if kind == 3 or (kind == 0 and layout == 1):
                assert self.pos == len(self.data), "bytes after the frame"
                return frame


def segments(frame: dict) -> list[list[dict]]:
    """The frame's segments, each a list of its blocks (a layout 0 frame: its chunk alone)."""
    out, current = [], []
    for block in frame["blocks"]:
        if block["type"] == "index":
            continue
        current.append(block)
        if block["type"] in ("end", "chunk"):
            out.append(current)
            current = []
    assert not current
    return out


def annotate(archive: bytes) -> str:
    """The markdown table FORMAT.md shows for an archive vector (used to write and check it)."""
    parser = SpecParser(archive)
    parser.parse()
    lines = ["| Offset | Bytes | Field | Value |", "|---:|---|---|---|"]
    lines += [f"| {offset} | `{raw}` | {name} | {value} |" for offset, raw, name, value in parser.rows]
    return "\n".join(lines)


def spec_header(frame: dict) -> FrameHeader:
    model = ModelInfo(frame["fingerprint"], frame["build_tag"], frame["name"], preset=frame["model"])
    return FrameHeader(model, frame["params"], frame["content_size"], 2, frame["layout"], frame["method"])


def spec_blocks(frame: dict) -> list:
    """The blocks as nacrith's container structures."""
    out: list = []
    for b in frame["blocks"]:
        if b["type"] == "chunk":
            out.append(OneChunk(ChunkEntry(b["method"], b["length"], 0, len(b["payload"]), b["crc"]), b["payload"]))
        elif b["type"] == "other":
            out.append(OtherBytes(b["runs"], b["method"], len(b["payload"]), b["crc"], b["payload"], [Base64Run(*e) for e in b["base64"]]))
        elif b["type"] == "group":
            entries = [ChunkEntry(e["method"], e["length"], 0, e["payload_length"], e["crc"]) for e in b["entries"]]
            out.append(Group(entries, [e["payload"] for e in b["entries"]]))
        elif b["type"] == "end":
            out.append(EndBlock(b["size"], b["crc"]))
        else:
            out.append(Index([IndexEntry(*e) for e in b["entries"]]))
    return out


def _has_neural_chunks(archive: bytes) -> bool:
    if archive[4] == 1:
        return any(e.method in _NEURAL for g in SpecParserV1(archive).parse()[1] for e in g.entries)
    blocks = SpecParser(archive).parse()["blocks"]
    return any(b["type"] == "chunk" and b["method"] in _NEURAL or b["type"] == "group" for b in blocks)


def lanes_with_content(frame: dict, content: bytes) -> list[list[list[tuple[int, int, bytes, bytes]]]]:
    """Per segment, per group, each lane's (method, length, payload, original bytes); checks every
    CRC-32, size, run and index entry of the frame against the content, and that the other bytes
    are what nacrith's fallback writes and reads."""
    out, pos = [], 0
    sizes = []
    for blocks in segments(frame):
        if blocks[0]["type"] == "chunk":
            chunk = blocks[0]
            assert (chunk["length"], chunk["crc"]) == (len(content), zlib.crc32(content))
            if chunk["method"] in _NEURAL:
                out.append([[(chunk["method"], chunk["length"], chunk["payload"], content)]])
            else:
                assert fallback.pack(content) == (chunk["method"], chunk["payload"])
                assert fallback.unpack(chunk["method"], chunk["payload"], len(content)) == content
            return out
        end = blocks[-1]
        data = content[pos : pos + end["size"]]
        assert (len(data), zlib.crc32(data)) == (end["size"], end["crc"])
        sizes.append((end["size"], end["end"] - blocks[0]["at"], end["crc"]))
        pos += end["size"]
        text, other, at = bytearray(), bytearray(), 0
        runs = blocks[0]["runs"] if blocks[0]["type"] == "other" else [len(data)]
        table = {run: (length, flags) for run, length, flags in blocks[0].get("base64", [])}
        ref = reference_code()
        placed = [ref["base64_length"](run, *table[i]) if i in table else run for i, run in enumerate(runs)]
        assert all(runs[1:]) and sum(placed) == len(data)
        for i, (run, size) in enumerate(zip(runs, placed)):
            piece = data[at : at + size]
            if i in table:  # FORMAT.md's base64_text of the run's other bytes gives back the segment's bytes
                chars = piece.replace(b"\r\n", b"").replace(b"\n", b"")
                decoded = binascii.a2b_base64(chars + b"=" * (-len(chars) % 4))
                assert len(decoded) == run and ref["base64_text"](decoded, *table[i]) == piece
                other += decoded
            else:
                (other if i % 2 else text).extend(piece)
            at += size
        if blocks[0]["type"] == "other":
            b = blocks[0]
            assert b["crc"] == zlib.crc32(other)
            assert fallback.pack(bytes(other)) == (b["method"], b["payload"])  # the encoder's choice and bytes...
            assert fallback.unpack(b["method"], b["payload"], len(other)) == other  # ...and what a decoder makes of them
        groups, at = [], 0
        for b in blocks:
            if b["type"] == "group":
                lanes = []
                for e in b["entries"]:
                    original = bytes(text[at : at + e["length"]])
                    assert e["crc"] == zlib.crc32(original)
                    lanes.append((e["method"], e["length"], e["payload"], original))
                    at += e["length"]
                groups.append(lanes)
        assert at == len(text), "the groups' chunks are not the segment's text"
        out.append(groups)
    assert pos == len(content), "the segments do not add up to the content"
    assert frame["content_size"] in (None, len(content))
    index = [b for b in frame["blocks"] if b["type"] == "index"]
    assert (index[0]["entries"] if index else sizes) == sizes
    return out


class SpecParserV1(_Bytes):
    """Parses a whole version 1 archive, as FORMAT.md's "Version 1" describes it."""

    def parse(self) -> tuple[FrameHeader, list[Group], EndBlock]:
        self.take(4, "magic")
        assert self.byte("version") == 1
        flags = self.byte("flags")
        assert flags & ~7 == 0
        content_size = self.varint("content size") if flags & 1 else None
        fingerprint = self.take(8, "model fingerprint")
        build = self.short_string("llama.cpp build")
        name = self.short_string("model name") if flags & 2 else ""
        params = CodingParams(
            self.byte("precision bits"),
            self.varint("lanes"),
            self.varint("window"),
            self.varint("slide keep"),
            self.varint("chunk size"),
            self.varint("start token"),
            EnsembleParams(*(self.varint(_PARAMETER_NAMES[k]) for k in range(9, 19))) if flags & 4 else None,
        )
        header = FrameHeader(ModelInfo(fingerprint, build_tag(build), name, build), params, content_size, version=1)
        groups = []
        while True:
            if self.byte("block type") == 0:
                end = EndBlock(self.varint("content size"), self.u32("content CRC-32"))
                assert self.pos == len(self.data), "bytes after the end block"
                return header, groups, end
            entries = []
            for i in range(self.varint("chunk count")):
                method = self.byte(f"chunk {i} method")
                length = self.varint(f"chunk {i} length")
                tokens = self.varint(f"chunk {i} tokens") if method in _NEURAL else 0
                payload_length = self.varint(f"chunk {i} payload length")
                entries.append(ChunkEntry(method, length, tokens, payload_length, self.u32(f"chunk {i} CRC-32")))
            groups.append(Group(entries, [self.take(e.payload_length, f"chunk {i} payload") for i, e in enumerate(entries)]))


# --- a model given by a formula: what nacrith's encoder and decoder need of an engine ------------------


class FormulaModel:
    """A vector's formula model: one token per byte (the last token, the start token, is no bytes), and
    logits given by a Python expression of the step ``s``, the fed token ``t``, its position ``p``,
    the lane ``i`` and the token ``v`` (evaluated once per row, with ``v`` every token at once)."""

    def __init__(self, spec: dict) -> None:
        self.vocab_size = spec["vocab"]
        self.start_token = spec["start_token"]
        assert self.start_token == self.vocab_size - 1 == 256, "one token per byte, then the start token"
        self.logit = compile(spec["logit"], "logit", "eval")
        self.pieces = [bytes([b]) for b in range(256)] + [b""]
        self.piece_lengths = np.array([len(p) for p in self.pieces], dtype=np.int64)
        self.piece_newlines = np.array([p.count(b"\n") for p in self.pieces], dtype=np.int64)

    def tokenize(self, data: bytes) -> list[int]:
        return list(data)

    def detokenize(self, tokens: list[int]) -> bytes:
        return b"".join(self.pieces[t] for t in tokens)

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
    """Stands in for nacrith's :class:`Engine` (a model file and its evaluator) in the encoder and decoder:
    a vector's ``model``, its identity (fingerprint, build identity, preset or name and start token,
    backend) and, for neural chunks, its formula. Without a formula, using the model fails the test."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.fingerprint = bytes.fromhex(spec["fingerprint"])
        self.backend = spec.get("backend", 0)
        self.gpu = None if self.backend == 0 else 0
        self.preset = spec.get("preset", 0)
        self._model = FormulaModel(spec) if "logit" in spec else None

    @property
    def model(self) -> FormulaModel:
        assert self._model is not None, "an archive without neural chunks used the model"
        return self._model

    def evaluator(self, lanes: int, window: int, prefix: object = None, *, adapt: object = None) -> FormulaEvaluator:
        assert adapt is None, "no vector adapts its model"
        return FormulaEvaluator(self.model)  # a primer changes what the formula is given: the fed token, its position

    def start_token(self) -> int:
        return MODEL_PRESETS[self.preset].start_token if self.preset else self.spec["start_token"]

    def model_info(self) -> ModelInfo:
        build = self.spec["build"]
        return ModelInfo(self.fingerprint, build_tag(build), self.spec.get("name", ""), build, self.preset)

    def describe(self) -> str:
        return f"a formula [{self.fingerprint.hex()}]"


def vector_encode(vector: dict, fallback_bound: bool = False) -> bytes:
    """The archive nacrith's encoder writes of the vector's content with its model and settings."""
    settings = vector["encoder"]
    options = Options(
        fallback_bound=fallback_bound,  # off: the formula models' vectors show neural coding even where the fallback would be smaller
        lanes=settings["lanes"],
        window=settings["window"],
        slide_keep=settings["slide_keep"],
        chunk_bytes=settings["chunk_bytes"],
        min_chunk_bytes=settings["min_chunk_bytes"],
        segment_bytes=settings.get("segment_bytes", Options().segment_bytes),
        ensemble=EnsembleParams(*settings["ensemble"]) if settings["ensemble"] else None,
        dictionary=vector_dictionary(vector),
    )
    content = _content(vector)
    encoder = FrameEncoder(FormulaEngine(vector["model"]), options, len(content) if settings.get("content_size", True) else None)
    return encoder.write(content[:100]) + encoder.write(content[100:]) + encoder.finish()


def decode_with(engine: FormulaEngine | None, archive: bytes, dictionary: Dictionary | None = None) -> bytes:
    """The archive decoded frame by frame by nacrith's frame decoder, ``engine`` its only model."""

    def model() -> FormulaEngine:
        assert engine is not None, "an archive without neural chunks asked for a model"
        return engine

    out = bytearray()
    for reader in frames(io.BytesIO(archive)):
        decoder = FrameDecoder(reader.read_header(), model, dictionary=dictionary)
        for block in reader.blocks():
            out += decoder.decode(block)
        assert decoder.finished
    return bytes(out)


def stream_with(engine: FormulaEngine | None, archive: bytes, piece: int = 7, dictionary: Dictionary | None = None) -> tuple[bytes, bool]:
    """The archive fed 7 bytes at a time to nacrith's streaming decompressor, ``engine`` its only model:
    the bytes it gives and whether it has reached the end."""
    d = nacrith.NacrithDecompressor(read_across_frames=True, dictionary=dictionary)
    if engine is not None:
        d._engine = lambda archived: engine  # the decompressor's one way to a model
    out = b"".join(d.decompress(archive[i : i + piece]) for i in range(0, len(archive), piece))
    return out, d.eof


def test_formula_engine_has_what_the_coders_use_of_an_engine() -> None:
    """FormulaEngine stands in for nacrith's Engine: every name the encoder and decoder use of one is an Engine's."""
    used = {"model", "evaluator", "model_info", "start_token", "describe", "fingerprint", "backend", "gpu"}
    assert used <= set(dir(Engine)) | set(Engine.__init__.__code__.co_names)
    assert all(hasattr(FormulaEngine(v["model"]), name) for v in MADE_HERE for name in used - {"model"})


# --- the vectors exist, and FORMAT.md's tables are the code's --------------------------------------------


def test_every_kind_of_vector_is_there_and_listed_in_format_md() -> None:
    assert len(ARCHIVES) >= 11 and len(REJECTED) >= 44 and len(V1_ARCHIVES) == 8 and len(V1_REJECTED) == 16
    assert len(CODERS) >= 8 and len(QUANTIZERS) >= 7 and TABLES and BUILDS and SCHEDULES and len(ENSEMBLES) >= 6 and len(ADAPTS) == 3
    assert len(NEEDS_MODEL) == 2 and len([v for v in MADE_HERE if "logit" in v["model"]]) >= 4 and len(V1_FORMULA) == 2
    assert any(not v["content"] for v in ARCHIVES), "a vector for empty input"
    names = [v["name"] for vectors in VECTORS.values() for v in vectors]
    assert len(names) == len(set(names)) == len(BY_NAME)
    listed = _text(FORMAT_MD).split("### All vectors", 1)[1]
    for kind, vectors in VECTORS.items():
        line = re.search(rf"^- `{kind}\.json`: (.*?)(?=^- |\Z)", listed, re.M | re.S)
        assert line, f"FORMAT.md does not list {kind}.json"
        assert re.findall(r"(?:^|; )([A-Z]+\d+): ", " ".join(line[1].split())) == [v["name"] for v in vectors]
    files = re.findall(r"^\| `([\w-]+)\.json` \|", _section("Test vectors"), re.M)
    assert files == list(KINDS)
    assert {"python"} <= {tag.strip() for tag, _ in _FENCE.findall(_text(FORMAT_MD))}


def test_format_md_names_the_version_the_code_writes_and_those_it_reads() -> None:
    text = _text(FORMAT_MD)
    assert re.search(rf"^Format version: {FORMAT_VERSION}\b", text, re.M) and READ_VERSIONS == (1, 2)
    assert "| Magic | 4 | always | `8E 4E 43 52`" in text and MAGIC == bytes.fromhex("8E4E4352")
    assert "| Footer magic | 4 | `8E 4E 43 58`" in text and FOOTER_MAGIC == bytes.fromhex("8E4E4358")
    assert re.search(r"a version other than 1 or 2 \| `UnsupportedFormatError`", text)


def test_descriptor_in_format_md_is_the_code_s() -> None:
    rows = dict(re.findall(r"^\| [\d–]+ \| `0x([0-9A-F]{2})` \| (\w+)", _section("Descriptor"), re.M))
    assert {int(m, 16): word for m, word in rows.items()} == {
        DESCRIPTOR_LAYOUT: "Layout",
        DESCRIPTOR_CONTENT_SIZE: "Content",
        DESCRIPTOR_PARAMETERS: "Parameters",
        3 << DESCRIPTOR_MODEL_SHIFT: "Model",
        3 << DESCRIPTOR_METHOD_SHIFT: "With",
    }


def test_model_presets_in_format_md_are_the_code_s() -> None:
    presets = format_presets()
    assert presets == {n: (p.fingerprint, p.file_name, p.start_token) for n, p in MODEL_PRESETS.items()}


def test_block_types_and_methods_in_format_md_are_the_code_s() -> None:
    rows = dict(re.findall(r"^\| `(\d)` \| ([\w-]+ ?\w*) \|", _section("Segments and blocks"), re.M))
    assert rows == {str(BLOCK_END): "End block", str(BLOCK_GROUP): "Group block", str(BLOCK_OTHER): "Other-bytes block", str(BLOCK_INDEX): "Index"}
    text = _text(FORMAT_MD)
    assert {int(n): name for n, name in re.findall(r"^### Method (\d): ([\w-]+)$", text, re.M)} == METHOD_NAMES == _METHODS
    assert NEURAL_METHODS == set(_NEURAL)
    assert re.search(r"^\| Method \| 1 \| `2` neural, `3` neural-crlf \|$", _section("Group block"), re.M)
    row = r"^\| Method \| 1 \| `0` stored, `1` zstd, `4` xz; plus `0x80` \(`80`, `81`, `84`\) when a base64 table follows \|$"
    assert re.search(row, _section("Other-bytes block"), re.M) and OTHER_BASE64 == 0x80
    flags = re.search(r"^\| Flags \| 1 \| bit 0 \(`0x01`\): line ends are CR LF.*bit 1 \(`0x02`\).*bit 2 \(`0x04`\)", _section("Base64 runs"), re.M)
    assert flags and (BASE64_CRLF, BASE64_LAST_LINE_END, BASE64_PADDED) == (1, 2, 4)


def test_format_md_base64_text_is_nacrith_s() -> None:
    """FORMAT.md's base64_text and base64_length against nacrith's, on every kind of layout."""
    ref = reference_code()
    rng = np.random.default_rng(64)
    for size in [*range(1, 40), 57, 300, 1000]:
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        for line_length in (1, 3, 4, 64, 76, 10_000):
            for flags in range(8):
                text = ref["base64_text"](data, line_length, flags)
                assert text == base64_text(data, line_length, flags), (size, line_length, flags)
                assert len(text) == ref["base64_length"](size, line_length, flags) == base64_length(size, line_length, flags)


def test_parameter_keys_and_defaults_in_format_md_are_the_code_s() -> None:
    """Every key of FORMAT.md's tables, and no other, with the default the code leaves out of a header."""
    table = format_parameters()
    assert sorted(table) == list(range(1, LAST_KEY + 1)) == list(range(1, 28))
    assert [table[k][0].strip("`") for k in range(22, 27)] == [f.name for f in dataclasses.fields(AdaptParams)]
    assert AdaptParams(*(_number(table[k][1]) for k in range(22, 27))) == AdaptParams()
    assert [table[k][0] for k in range(9, 19)] == [f.name for f in dataclasses.fields(EnsembleParams)]
    defaults = spec_params({}, 1)
    assert defaults == CodingParams(24, 8, 1024, 768, 65536, 1, EnsembleParams(), 1 << 20, 0, 0)
    assert defaults.slide_keep == default_slide_keep(defaults.window)
    model = ModelInfo(MODEL_PRESETS[1].fingerprint, b"\0\0", preset=1)
    assert len(write_header(FrameHeader(model, defaults, None, 2, 1, 0))) == 8, "the defaults are not written"
    for key in (2, 3, 5, 7, 19):
        value = 3 if key == 2 else 1 if key == 19 else 4096
        params = spec_params({key: value}, 1)
        header = write_header(FrameHeader(model, params, None, 2, 1, 0))
        assert header[8:] == bytes([key]) + _varint(value) + b"\0", key
        assert FrameReader(io.BytesIO(header)).read_header().params == params
    assert spec_params({3: 64}, 1).slide_keep == 48, "the slide keep's default follows the window"


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes(out + bytes([value]))


def test_parameter_bounds_in_format_md_are_those_the_code_checks() -> None:
    table = format_parameters()
    base = spec_params({}, 1)
    fields = {1: "precision_bits", 2: "lanes", 3: "window", 4: "slide_keep", 5: "chunk_bytes", 7: "segment_bytes", 19: "backend", 20: "dictionary"}
    for key, field in fields.items():
        low, high = (_number(table[key][i], base.window) for i in (2, 3))
        for value, ok in ((low - 1, False), (low, True), (high, True), (high + 1, False)):
            changes = {field: value, "slide_keep": 1} if key == 3 else {field: value}
            params = dataclasses.replace(base, **changes)
            if ok:
                params.validate()
            else:
                with pytest.raises(errors.CorruptArchiveError):
                    params.validate()
    assert set(BACKENDS) == set(range(_number(table[19][2]), _number(table[19][3]) + 1))


def test_segment_size_0_is_rejected() -> None:
    """FORMAT.md bounds the segment size to 4096..2^30; a version 2 header cannot set it to 0 (version 1's "one sequence")."""
    a1 = _archive(BY_NAME["A1"])  # descriptor 15, build tag, content size 0, then the end block
    damaged = a1[:5] + bytes([a1[5] | 0x08]) + a1[6:9] + b"\x07\x00\x00" + a1[9:]
    with pytest.raises(errors.CorruptArchiveError):
        decode_with(None, damaged)


def _valid_as_format_md_says(values: list[int]) -> bool:
    """FORMAT.md's rule: every parameter within its bounds, a model on, at most 1 GiB of tables."""
    table = format_parameters()
    orders, ngram_bits, _, min_length, match_bits, history_bits, bias_rate, *_ = values
    tables = orders * 72 * 2**ngram_bits + (8 * 2**history_bits + 8 * 2**match_bits if min_length > 0 else 0)
    within = all(_number(table[k][2]) <= x <= _number(table[k][3]) for k, x in zip(range(9, 19), values))
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
    table = format_parameters()
    assert [_number(table[k][1]) for k in range(9, 19)] == list(EnsembleParams().values())
    rule = (
        "at most 1 GiB (2^30 bytes) of tables, counted as `ngram_orders × 72 × 2^ngram_table_bits`, "
        "plus `8 × 2^history_bits + 8 × 2^match_table_bits` when `match_min_length > 0`"
    )
    assert MAX_MEMORY == 2**30 and rule in " ".join(_text(FORMAT_MD).split())  # as _valid_as_format_md_says reads it
    small = EnsembleParams(ngram_orders=1, ngram_table_bits=4, match_table_bits=4, history_bits=10)
    cases = [list(EnsembleParams().values())]
    for key in range(9, 19):  # each bound alone: the tables stay small
        name, _, low, high = table[key]
        for value in (_number(low) - 1, _number(low), _number(high), _number(high) + 1):
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


def test_xz_property_in_format_md_is_the_code_s() -> None:
    ref = reference_code()
    for length in (0, 1, 4095, 4096, 4097, 6144, 6145, 1 << 20, (1 << 20) + 1, 1 << 26, (1 << 26) + 1, 1 << 30):
        prop, size = fallback.xz_dictionary_size(length)
        assert (ref["xz_property"](length), ref["dictionary_size"](ref["xz_property"](length))) == (prop, size), length


# --- archive vectors ---------------------------------------------------------------------------------


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any attempt to resolve, fingerprint or load a model for decoding fail the test."""

    def forbidden(*args, **kwargs):
        raise AssertionError("decoding an archive without neural chunks tried to use a model")

    monkeypatch.setattr(*DECODER_ENGINE, forbidden)


def test_annotated_tables_are_what_the_spec_parser_reads() -> None:
    tables = annotated_tables()
    assert set(tables) == {"A6", "A10", "A20"}
    for name, table in tables.items():
        archive = _archive(BY_NAME[name])
        shown = [f"| {o} | `{b}` | {f} | {v} |" for o, b, f, v in table]
        assert shown == annotate(archive).splitlines()[2:], name
        assert "".join(b.replace(" ", "") for _, b, _, _ in table) == archive.hex()


def _written(frame: dict) -> bytes:
    """The frame as nacrith's container writer writes the structures the spec parser read."""
    out = bytearray(write_header(spec_header(frame)))
    for block, structure in zip(frame["blocks"], spec_blocks(frame)):
        if isinstance(structure, OneChunk):
            out += write_chunk(structure.entry, structure.payload)
        elif isinstance(structure, OtherBytes):
            out += write_other(structure)
        elif isinstance(structure, Group):
            out += write_group(structure)
        elif isinstance(structure, EndBlock):
            out += write_end(structure)
        else:
            out += write_index(structure.entries)
    return bytes(out)


@pytest.mark.parametrize("vector", ARCHIVES, ids=_ids(ARCHIVES))
def test_container_writes_exactly_the_archive(vector: dict) -> None:
    archive = _archive(vector)
    assert _written(SpecParser(archive).parse()).hex() == archive.hex()


@pytest.mark.parametrize("vector", MADE_HERE, ids=_ids(MADE_HERE))
def test_encoder_writes_exactly_the_archive(vector: dict) -> None:
    assert vector_encode(vector).hex() == vector["archive"]


@pytest.mark.parametrize("vector", ARCHIVES, ids=_ids(ARCHIVES))
def test_code_reads_exactly_the_fields(vector: dict) -> None:
    archive = _archive(vector)
    frame = SpecParser(archive).parse()
    reader = FrameReader(io.BytesIO(archive))
    assert reader.read_header() == spec_header(frame)
    assert list(reader.blocks()) == spec_blocks(frame)
    assert reader.offset == len(archive)


@pytest.mark.parametrize("vector", ARCHIVES, ids=_ids(ARCHIVES))
def test_chunks_runs_and_checksums_match_the_content(vector: dict) -> None:
    frame = SpecParser(_archive(vector)).parse()
    lanes_with_content(frame, _content(vector))
    if vector.get("needs"):
        assert frame["build_tag"] == build_tag(vector["needs"]["build"])
    else:
        assert frame["build_tag"] == build_tag(vector["model"]["build"])


@pytest.mark.parametrize("vector", MADE_HERE, ids=_ids(MADE_HERE))
def test_archive_decodes_to_its_content(vector: dict) -> None:
    archive, content, dictionary = _archive(vector), _content(vector), vector_dictionary(vector)
    engine = FormulaEngine(vector["model"])
    assert decode_with(engine, archive, dictionary) == content
    assert stream_with(engine, archive, dictionary=dictionary) == (content, True)


@pytest.mark.parametrize("vector", ARCHIVES + V1_ARCHIVES, ids=_ids(ARCHIVES + V1_ARCHIVES))
def test_archive_without_neural_chunks_decodes_without_a_model(vector: dict, no_model: None) -> None:
    archive, content = _archive(vector), _content(vector)
    if _has_neural_chunks(archive):
        pytest.skip("neural chunks need a model")
    assert nacrith.decompress(archive) == content
    d = nacrith.NacrithDecompressor()
    assert b"".join(d.decompress(archive[i : i + 7]) for i in range(0, len(archive), 7)) == content and d.eof


def test_concatenated_vectors_decode_to_their_concatenated_contents(no_model: None) -> None:
    """FORMAT.md, Overview: frames one after another are one archive, whatever their versions."""
    plain = [v for v in ARCHIVES + V1_ARCHIVES if not _has_neural_chunks(_archive(v))]
    assert len(plain) >= 8
    for first, second in zip(plain, plain[1:] + plain[:1]):
        joined = _archive(first) + _archive(second)
        assert nacrith.decompress(joined) == _content(first) + _content(second)
    a1, a2 = BY_NAME["A1"], BY_NAME["A2"]
    for joined in (_archive(a1) + _archive(a2), _archive(a2) + _archive(a1)):
        assert nacrith.decompress(joined) == _content(a2)


def test_archives_show_what_they_say() -> None:
    """Each version 2 archive vector has the layout, model, methods and parameters its title names."""

    def frame(name: str) -> dict:
        return SpecParser(_archive(BY_NAME[name])).parse()

    def methods(f: dict) -> list:
        return [b.get("method") if b["type"] != "group" else [e["method"] for e in b["entries"]] for b in f["blocks"] if b["type"] != "end"]

    assert frame("A1")["layout"] == 1 and [b["type"] for b in frame("A1")["blocks"]] == ["end"]
    assert (frame("A2")["layout"], frame("A2")["method"], frame("A3")["method"]) == (0, 0, 1)
    assert frame("A4")["layout"] == 1 and methods(frame("A4")) == [4]
    a5 = frame("A5")
    assert a5["model"] == 1 and a5["blocks"][0]["runs"] == [171, 2, 132] and methods(a5) == [0, [2, 2]]
    a6 = frame("A6")
    assert a6["model"] == 0 and a6["content_size"] is None and a6["name"] and a6["params"].backend == 1
    assert a6["pairs"][4] != default_slide_keep(a6["pairs"][3])
    a7 = frame("A7")
    assert a7["params"].ensemble and methods(a7) == [0, [2], [2]] and a7["params"].window < 80
    assert frame("A8")["params"].ensemble is None and methods(frame("A8")) == [[3, 2]]
    assert frame("A9")["layout"] == 0 and frame("A9")["method"] == 2
    a10 = frame("A10")
    assert a10["layout"] == 2 and methods(a10) == [1, 4, 0, None]
    a11 = frame("A11")
    assert a11["params"].ensemble and methods(a11) == [[3, 2]]


# --- FORMAT.md's reference code decodes the neural payloads ------------------------------------------------


def reference_group(
    ref: dict, lanes: list[tuple], params: CodingParams, pieces, evaluator, ensemble, *, version: int, slip: bool = False, primer: tuple[int, ...] = ()
) -> None:
    """FORMAT.md's schedule, slides, quantization (or ensemble) and decoder, fed the logits of
    ``evaluator``, decode one group's lanes, each a (method, end, payload, original bytes), ``end``
    its length (version 2) or token count (version 1); the tokens must be the original bytes', and
    FORMAT.md's encoder must give back each payload from them. ``slip``: a version 2 group reserves
    its lanes' token counts, as version 1's did, instead of their lengths. ``primer``: a dictionary's, which
    every lane's cache holds after the start token (FORMAT.md, "Primed lanes")."""
    n, total = len(lanes), 1 << params.precision_bits
    texts = [original.replace(b"\r\n", b"\n") if method == 3 else original for method, _, _, original in lanes]
    decoders = [ref["Decoder"](payload, strict=version == 2) for _, _, payload, _ in lanes]
    ends = [end for _, end, _, _ in lanes]
    tokens: list[list[int]] = [[] for _ in lanes]
    tables: list[list[list[int]]] = [[] for _ in lanes]
    done = [0] * n

    def more(i: int, s: int) -> bool:
        return done[i] < ends[i] if version == 2 else s < ends[i]

    if ensemble:
        ensemble.begin_group([len(text) for text in texts] if slip else ends)
    prefix = (params.start_token, *primer)
    for event in ref["schedule"](n, more, params.window, params.slide_keep, len(primer)):
        if event[0] == "slide":
            _, lane, drop = event
            evaluator.slide(lane, drop, params.window)
            continue
        _, s, step_lanes, positions = event
        fed = [tokens[i][s - 1] if s else prefix[-1] for i in step_lanes]
        logits = np.array(evaluator.step(step_lanes, fed, positions), dtype=np.float32)
        if ensemble:
            rows = ensemble.frequencies(step_lanes, logits)
        else:
            rows = [ref["quantize"](logits[row], params.precision_bits).tolist() for row in range(len(step_lanes))]
        coded = []
        for row, i in zip(rows, step_lanes):
            x = decoders[i].decode(list(row))
            piece = pieces[x]
            done[i] += len(piece) + (piece.count(b"\n") if lanes[i][0] == 3 else 0)
            assert piece and (version == 1 or done[i] <= ends[i]), "a token of no bytes, or past the length"
            tokens[i].append(x)
            tables[i].append(list(row))
            coded.append(x)
        if ensemble:
            ensemble.update(step_lanes, coded)
    for i, decoder in enumerate(decoders):
        decoder.end()
        assert b"".join(pieces[t] for t in tokens[i]) == texts[i]
        payload = ref["encode"]([(sum(f[:t]), f[t], total) for t, f in zip(tokens[i], tables[i])])
        if version == 2:
            assert payload.hex() == lanes[i][2].hex()
        else:  # version 1 encoders dropped the trailing zero bytes
            assert payload.rstrip(b"\0").hex() == lanes[i][2].hex()


def reference_frame(
    ref: dict, archive: bytes, content: bytes, pieces, vocab: int, evaluator_for, *, slip: bool = False, dictionary: Dictionary | None = None
) -> int:
    """Every neural chunk of the archive decoded by FORMAT.md's reference code; the number of lanes.
    ``dictionary``: the one the archive names, whose primer and state FORMAT.md's code starts from."""
    checked = 0
    if archive[4] == 1:  # version 1: one ensemble for the frame, lanes among the stored and zstd chunks
        header, groups, _ = SpecParserV1(archive).parse()
        p = header.params
        ensemble = ref["Ensemble"](p.ensemble.values(), vocab, p.precision_bits) if p.ensemble else None
        pos = 0
        for group in groups:
            lanes = []
            for entry, payload in zip(group.entries, group.payloads):
                if entry.method in _NEURAL:
                    lanes.append((entry.method, entry.tokens, payload, content[pos : pos + entry.length]))
                pos += entry.length
            if lanes:
                reference_group(ref, lanes, p, pieces, evaluator_for(len(lanes)), ensemble, version=1)
                checked += len(lanes)
        return checked
    frame = SpecParser(archive).parse()
    p = frame["params"]
    assert (dictionary.identity if dictionary else 0) == p.dictionary
    d = dictionary.content if dictionary else None
    for groups in lanes_with_content(frame, content):  # each segment with a fresh ensemble
        ensemble = ref["Ensemble"](p.ensemble.values(), vocab, p.precision_bits) if p.ensemble else None
        if ensemble and d and d.ensemble == p.ensemble:  # the dictionary's state
            ref["start"](ensemble, d.bias, d.mixer, d.sequences)
        for lanes in groups:
            reference_group(ref, lanes, p, pieces, evaluator_for(len(lanes)), ensemble, version=2, slip=slip, primer=d.primer if d else ())
            checked += len(lanes)
    return checked


FORMULA_ARCHIVES = [v for v in MADE_HERE + V1_FORMULA if "logit" in v["model"]]


@pytest.mark.parametrize("vector", FORMULA_ARCHIVES, ids=_ids(FORMULA_ARCHIVES))
def test_reference_code_decodes_the_formula_payloads(vector: dict) -> None:
    """What an implementer without llama.cpp can check: FORMAT.md's code and the formula decode the payloads."""
    archive, model = _archive(vector), FormulaModel(vector["model"])
    evaluator = lambda n: FormulaEvaluator(model)  # noqa: E731
    lanes = reference_frame(reference_code(), archive, _content(vector), model.pieces, model.vocab_size, evaluator, dictionary=vector_dictionary(vector))
    assert lanes >= 1


def test_regions_of_token_counts_fail_vector_a11() -> None:
    """Vector A11 is there to catch a group that reserves its lanes' token counts (version 1's regions)
    instead of their lengths: FORMAT.md's code with that slip does not decode it."""
    vector = BY_NAME["A11"]
    ref, model = reference_code(), FormulaModel(vector["model"])
    with pytest.raises((AssertionError, ref["PayloadError"])):
        reference_frame(ref, _archive(vector), _content(vector), model.pieces, model.vocab_size, lambda n: FormulaEvaluator(model), slip=True)


def test_an_encoder_keeps_a_segment_in_the_fallback_when_that_is_smaller() -> None:
    """Vector A7's formula model codes its repeated lines worse than zstd or LZMA2 does: with the bound on (the
    default) the encoder writes the fallback's segment instead, which is smaller and decodes to the same bytes."""
    vector = BY_NAME["A7"]
    neural, bounded = vector_encode(vector), vector_encode(vector, fallback_bound=True)
    assert len(bounded) < len(neural)
    assert decode_with(FormulaEngine(vector["model"]), bounded) == _content(vector)


@pytest.mark.parametrize("vector", V1_FORMULA, ids=_ids(V1_FORMULA))
def test_version_1_formula_archive_decodes_to_its_content(vector: dict) -> None:
    assert decode_with(FormulaEngine(vector["model"]), _archive(vector)) == _content(vector)


@pytest.mark.parametrize("vector", V1_ARCHIVES, ids=_ids(V1_ARCHIVES))
def test_code_reads_exactly_the_fields_of_version_1(vector: dict) -> None:
    archive = _archive(vector)
    header, groups, end = SpecParserV1(archive).parse()
    reader = FrameReader(io.BytesIO(archive))
    assert reader.read_header() == header
    assert list(reader.blocks()) == [*groups, end]
    assert reader.offset == len(archive)


# --- rejection vectors -------------------------------------------------------------------------------------

ALL_REJECTED = REJECTED + V1_REJECTED

REASONS = {
    "R1": "empty input",
    "R2": "format version 3",
    "R3": "layout 3 and their window bits",
    "R4": "reserved model number 3",
    "R5": "reserved descriptor bits",
    "R6": "one-chunk frame without its content size",
    "R7": "parameter 50, unknown",
    "R8": "parameter 6 out of order",
    "R9": "no parameter follows",
    "R10": "window 65537",
    "R11": "truncated archive",
    "R12": "gives no start token",
    "R13": "ensemble switch 2",
    "R14": "ensemble parameters given with the ensemble off",
    "R15": "backend 4",
    "R16": "dictionary 72057594037927936",
    "R17": "segment size 4095",
    "R18": "length 0 outside",
    "R19": "stored payload of 15 bytes for 16",
    "R20": "1 runs",
    "R21": "run 1 is empty",
    "R22": "more than a segment's 8192 bytes",
    "R23": "other bytes coded with method neural",
    "R24": "xz payload not smaller than its 256 bytes",
    "R25": "dictionary property 01",
    "R26": "not at the start of segment 0",
    "R27": "group of 3 chunks",
    "R28": "method stored in a group",
    "R29": "length 257 outside 1..256",
    "R30": "payload of 195 bytes exceeds 194",
    "R31": "end block says 257 bytes, its blocks hold 256",
    "R32": "groups hold 0 bytes of text, its layout 1",
    "R33": "segment 1 of 0 bytes",
    "R34": "more than the 8191 bytes the header declares",
    "R35": "lists 2 segments; the frame has 3",
    "R36": "disagrees with segment 1",
    "R37": "bad index footer",
    "R38": "bad index footer",
    "R39": "unexpected block type 3",
    "R40": "truncated archive",
    "R41": "payload of 16 bytes ends before its tokens",
    "R42": "payload of 18 bytes is longer than its code",
    "R43": "stands for no bytes",
    "R44": "token of 2 bytes past its 21 bytes",
    "VR3": "Frame_Content_Size",
    "VR4": "skippable frame",
    "VR5": "window of 268435456 bytes",
    "VR11": "cut short: its frame ends inside its Content_Checksum",
    "VR12": "cut short: its frame ends before its last block",
    "VR13": "dictionary 7",
}
"""What nacrith says of each version 2 rejection, and of the version 1 zstd ones: each fails for the
reason its description gives, not another."""


def _rejection_case(vector: dict) -> tuple[bytes, type[errors.NacrithError], bytes, FormulaEngine | None]:
    """The rejected archive, the error the vector names, the archive its repairs give, and the model."""
    archive = _archive(vector)
    error = getattr(errors, vector["error"])
    assert isinstance(error, type) and issubclass(error, errors.NacrithError)
    assert vector["repairs"], f"{vector['name']}: no repair"
    repaired = bytearray(archive)
    for repair in sorted(vector["repairs"], key=lambda r: r["offset"], reverse=True):  # offsets of the rejected archive
        at, old, new = repair["offset"], bytes.fromhex(repair["old"]), bytes.fromhex(repair["new"])
        assert archive[at : at + len(old)] == old, f"{vector['name']}: no {old.hex()} at {at}"
        repaired[at : at + len(old)] = new
    return archive, error, bytes(repaired), FormulaEngine(vector["model"]) if "model" in vector else None


@pytest.mark.parametrize("vector", ALL_REJECTED, ids=_ids(ALL_REJECTED))
def test_rejected_archive_is_rejected(vector: dict, no_model: None) -> None:
    archive, error, repaired, engine = _rejection_case(vector)
    with pytest.raises(error) as caught:
        decode_with(engine, archive) if engine else nacrith.decompress(archive)
    assert type(caught.value) is error, f"{type(caught.value).__name__}: {caught.value}"
    if vector["name"] in REASONS:
        assert REASONS[vector["name"]] in str(caught.value)
    if error is errors.TruncatedArchiveError:  # a streaming decoder hands out whole segments and waits for the rest
        out, eof = stream_with(engine, archive)
        assert not eof and decode_with(engine, repaired).startswith(out)
        return
    with pytest.raises(error):
        stream_with(engine, archive)


@pytest.mark.parametrize("vector", ALL_REJECTED, ids=_ids(ALL_REJECTED))
def test_repaired_archive_is_valid(vector: dict, no_model: None) -> None:
    _, _, repaired, engine = _rejection_case(vector)
    reader = FrameReader(io.BytesIO(repaired))
    header = reader.read_header()
    blocks = list(reader.blocks())
    assert reader.offset == len(repaired)
    if header.version == 1:
        spec_header_v1, groups, end = SpecParserV1(repaired).parse()
        assert (header, blocks) == (spec_header_v1, [*groups, end])
        if not _has_neural_chunks(repaired):
            content = nacrith.decompress(repaired)
            assert len(content) == end.content_size and zlib.crc32(content) == end.crc
        return
    frame = SpecParser(repaired).parse()
    assert (header, blocks) == (spec_header(frame), spec_blocks(frame))
    if engine or not _has_neural_chunks(repaired):
        content = decode_with(engine, repaired)
        lanes_with_content(frame, content)


# --- coder vectors ---------------------------------------------------------------------------------------


def _coder_case(vector: dict) -> tuple[int, list[int], list[int]]:
    precision, freqs, symbols = vector["precision"], vector["frequencies"], vector["symbols"]
    assert sum(freqs) == 1 << precision, f"{vector['name']}: frequencies must sum to 2**precision"
    return precision, freqs, symbols


def _code_decode(payload: bytes, freqs: list[int], count: int, *, strict: bool) -> tuple[list[int], str]:
    """Up to ``count`` symbols of one static table, decoded by nacrith's decoder as a lane decodes them,
    and what the strict rules say: "" (the exact end), "overrun" or "exact end" (not it)."""
    total, cumulative = sum(freqs), np.cumsum(freqs)
    decoder, symbols = ArithmeticDecoder(payload, strict=strict), []
    for _ in range(count):
        symbol = int(np.searchsorted(cumulative, decoder.target(total), side="right"))
        low = int(cumulative[symbol - 1]) if symbol else 0
        decoder.consume(low, freqs[symbol], total)
        symbols.append(symbol)
        if decoder.overrun:
            return symbols, "overrun"
    return symbols, "" if decoder.exact_end else "exact end"


@pytest.mark.parametrize("vector", CODERS, ids=_ids(CODERS))
def test_coder_writes_and_reads_the_vector(vector: dict) -> None:
    precision, freqs, symbols = _coder_case(vector)
    payload = bytes.fromhex(vector["payload"])
    if "rejected" in vector:  # a payload no encoder writes, which a strict decoder rejects after the last symbol
        assert _code_decode(payload, freqs, len(symbols), strict=True) == (symbols, vector["rejected"])
        assert _code_decode(payload, freqs, len(symbols), strict=False) == (symbols, "")
        return
    total, cumulative = 1 << precision, [0, *np.cumsum(freqs).tolist()]
    encoder = ArithmeticEncoder()
    for s in symbols:
        encoder.encode(cumulative[s], freqs[s], total)
    assert encoder.finish().hex() == vector["payload"]
    assert _code_decode(payload, freqs, len(symbols), strict=True) == (symbols, "")


@pytest.mark.parametrize("vector", CODERS, ids=_ids(CODERS))
def test_reference_coder_in_format_md_gives_the_same_bytes(vector: dict) -> None:
    ref = reference_code()
    precision, freqs, symbols = _coder_case(vector)
    payload = bytes.fromhex(vector["payload"])
    if "rejected" in vector:
        decoder = ref["Decoder"](payload)
        assert [decoder.decode(freqs) for _ in symbols[:-1]] == symbols[:-1]
        if vector["rejected"] == "overrun":
            with pytest.raises(ref["PayloadError"], match="overrun"):
                decoder.decode(freqs)
        else:
            assert decoder.decode(freqs) == symbols[-1]
            with pytest.raises(ref["PayloadError"], match="exact end"):
                decoder.end()
        assert ref["decode"](payload, [freqs] * len(symbols), strict=False) == symbols
        return
    total, cumulative = 1 << precision, [0, *np.cumsum(freqs).tolist()]
    assert ref["encode"]([(cumulative[s], freqs[s], total) for s in symbols]) == payload
    assert ref["decode"](payload, [freqs] * len(symbols)) == symbols


def _reference_decode(ref: dict, payload: bytes, freqs: list[int], count: int) -> tuple[list[int], str]:
    """As :func:`_code_decode`, by FORMAT.md's ``Decoder``: the symbols it returned, and the rule it applied."""
    decoder, symbols = ref["Decoder"](payload), []
    try:
        for _ in range(count):
            symbols.append(decoder.decode(freqs))
    except ref["PayloadError"]:
        return symbols, "overrun"
    try:
        decoder.end()
    except ref["PayloadError"]:
        return symbols, "exact end"
    return symbols, ""


def test_reference_coder_agrees_with_the_code_on_random_streams() -> None:
    """Random tables and symbols; each payload, then cut by a byte and lengthened by one, decoded by both."""
    ref = reference_code()
    rng = np.random.default_rng(11)
    for _ in range(30):
        precision = int(rng.integers(1, 31))
        vocab = int(rng.integers(1, min(1 << precision, 50) + 1))
        table = quantize(rng.normal(0, rng.uniform(0.1, 9), vocab).astype(np.float32), precision)
        symbols = [int(rng.choice(vocab, p=table / table.sum())) for _ in range(60)]
        triples = [(int(table[:s].sum()), int(table[s]), 1 << precision) for s in symbols]
        encoder = ArithmeticEncoder()
        for triple in triples:
            encoder.encode(*triple)
        payload = encoder.finish()
        assert ref["encode"](triples) == payload
        for damaged in (payload, payload[:-1], payload + bytes([int(rng.integers(256))])):
            ours, rule = _code_decode(damaged, table.tolist(), len(symbols), strict=True)
            if rule == "overrun":  # nacrith's decoder returns the symbol after which it rejects; FORMAT.md's raises
                ours = ours[:-1]
            assert _reference_decode(ref, damaged, table.tolist(), len(symbols)) == (ours, rule), (precision, damaged.hex())
        assert _code_decode(payload, table.tolist(), len(symbols), strict=True) == (symbols, "")


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


# --- the llama.cpp build identity and its tag ---------------------------------------------------------------


@pytest.mark.parametrize("vector", BUILDS, ids=_ids(BUILDS))
def test_build_vector(vector: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    version, info, expected = vector["version"], vector["system_info"], vector["build"]
    ref = reference_code()
    assert ref["llama_build"](version, info) == expected
    assert ref["build_tag"](expected).hex() == build_tag(expected).hex() == vector["tag"]
    assert bytes.fromhex(vector["tag"]) in {SpecParser(_archive(v)).parse()["build_tag"] for v in ARCHIVES}
    assert expected in {SpecParserV1(_archive(v)).parse()[0].model.build for v in V1_ARCHIVES}
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


def _code_schedule(vector: dict, predictor: type) -> list:
    """Encode the vector's lanes, then decode them as version 1 does (token counts) and as version 2
    does (lengths: every token is one byte here); return the three predictors.

    Token j of lane i is (i + j) % (vocab - 1); the start token is vocab - 1, shown as S.
    """
    counts, vocab = vector["counts"], 5
    tokens = [[(i + j) % (vocab - 1) for j in range(n)] for i, n in enumerate(counts)]
    params = CodingParams(8, len(counts), vector["window"], vector["slide_keep"], 1 << 10, vocab - 1)
    sides = [predictor(vocab) for _ in range(3)]
    payloads = encode_group(sides[0], tokens, params)
    assert decode_group(sides[1], payloads, counts, params) == tokens
    lengths = LaneLengths(counts, [False] * len(counts), np.ones(vocab, dtype=np.int64), np.zeros(vocab, dtype=np.int64))
    assert decode_group(sides[2], payloads, lengths, params) == tokens
    return sides


@pytest.mark.parametrize("vector", SCHEDULES, ids=_ids(SCHEDULES))
def test_lockstep_driver_follows_the_schedule(vector: dict) -> None:
    for side in _code_schedule(vector, RecordingPredictor):
        assert side.events == vector["events"]
    played = RecordingPredictor()
    steps = [(step.index, step.lanes, step.positions) for step in lockstep_steps(played, len(vector["counts"]), counted(vector["counts"]), vector["window"], vector["slide_keep"])]
    assert steps == [(s, e["lanes"], e["positions"]) for s, e in enumerate(e for e in vector["events"] if e["event"] == "step")]


def _reference_events(vector: dict) -> list:
    window, counts, events = vector["window"], vector["counts"], []
    for event in reference_code()["schedule"](len(counts), lambda i, s: s < counts[i], window, vector["slide_keep"]):
        if event[0] == "slide":
            events.append({"event": "slide", "lane": event[1], "drop": event[2], "length": window})
        else:
            _, step, lanes, positions = event
            fed = ["S" if step == 0 else (i + step - 1) % 4 for i in lanes]
            events.append({"event": "step", "lanes": list(lanes), "positions": positions, "fed": fed})
    return events


@pytest.mark.parametrize("vector", SCHEDULES, ids=_ids(SCHEDULES))
def test_reference_schedule_in_format_md(vector: dict) -> None:
    assert _reference_events(vector) == vector["events"]


def test_reference_schedule_asks_more_as_format_md_says() -> None:
    """Once per lane and step, only while the lane is in the batch, after the step before was taken."""
    asked, taken = [], []

    def more(i: int, s: int) -> bool:
        asked.append((i, s, len(taken)))
        return s < (3, 1, 2)[i]

    for event in reference_code()["schedule"](3, more, 8, 6):
        taken.append(event)
    assert asked == [(0, 0, 0), (1, 0, 0), (2, 0, 0), (0, 1, 1), (1, 1, 1), (2, 1, 1), (0, 2, 2), (2, 2, 2), (0, 3, 3)]


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
    counts = vector["counts"]
    for event in ref["schedule"](len(counts), lambda i, s: s < counts[i], window, keep):
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
    simulated cache, leaves the caches the vector lists, in encoder and decoders alike."""
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

    for side in _code_schedule(vector, SlidingPredictor):
        assert side.caches == vector["caches"]


# --- the neural vectors: need the model and its llama.cpp build -----------------------------------------


def _model_for(vector: dict) -> object:
    """An engine for the vector's model (one thread), or skip: it needs the model and build."""
    llm = pytest.importorskip(LLM_MODULE, reason="llama-cpp-python is not installed")
    needs = vector["needs"]
    if llm.build_id() != needs["build"]:
        pytest.skip(f"needs llama-cpp-python built as {needs['build']}")
    try:
        engine = shared_engine(threads=1)  # llama.cpp threads spin: one is enough for a few dozen tokens
    except errors.ModelNotFoundError:
        pytest.skip("the default model is not installed")
    if engine.fingerprint.hex() != needs["fingerprint"]:
        pytest.skip(f"the default model is not {needs['fingerprint']}")
    return engine


@pytest.mark.slow
@pytest.mark.parametrize("vector", NEEDS_MODEL, ids=_ids(NEEDS_MODEL))
def test_neural_vector_decodes_with_the_model_on_its_build(vector: dict) -> None:
    _model_for(vector)
    assert nacrith.decompress(_archive(vector), threads=1) == _content(vector)


@pytest.mark.slow
def test_neural_vector_is_what_nacrith_writes() -> None:
    vector = BY_NAME["A5"]
    _model_for(vector)
    s = vector["encoder"]
    archive = nacrith.compress(_content(vector), lanes=s["lanes"], window=s["window"], chunk_bytes=s["chunk_bytes"], ensemble=False, threads=1)
    assert archive.hex() == vector["archive"]


@pytest.mark.slow
@pytest.mark.parametrize("vector", NEEDS_MODEL, ids=_ids(NEEDS_MODEL))
def test_reference_code_decodes_the_neural_payloads(vector: dict) -> None:
    """FORMAT.md's schedule, slides, quantization (or ensemble) and decoder, fed llama.cpp's logits,
    decode the archive's payloads. Only the evaluation (llama.cpp in the context FORMAT.md describes)
    and the pieces come from nacrith; the slides are FORMAT.md's llama.cpp calls, made directly on the
    evaluator's KV memory."""
    import llama_cpp

    engine = _model_for(vector)
    ref = reference_code()
    archive = _archive(vector)
    window = SpecParser(archive).parse()["params"].window if archive[4] == 2 else SpecParserV1(archive).parse()[0].params.window

    def evaluator_for(lanes: int):
        evaluator = engine.evaluator(lanes, window)  # n_ctx = n x window, n_batch = n
        evaluator.reset()

        def slide(lane: int, drop: int, length: int) -> None:  # FORMAT.md's calls, not the evaluator's
            for name, *args in ref["slide"](lane, drop, length):
                getattr(llama_cpp, name)(evaluator._memory, *args)

        return types.SimpleNamespace(step=evaluator.step, slide=slide)

    model = engine.model
    assert reference_frame(ref, archive, _content(vector), model.pieces, model.vocab_size, evaluator_for) == 2


# --- dynamic evaluation's exact parts: the adapters' initial values and Adam's update -----------------------


def _floats(text: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(text), dtype="<f4").copy()


def _hex(values) -> str:
    return np.asarray(values, dtype="<f4").tobytes().hex()


def test_adapter_init_vector() -> None:
    ref = reference_code()
    for case in BY_NAME["DE1"]["cases"]:
        rows, columns, stream = case["rows"], case["columns"], case["stream"]
        assert _hex(lora_init(rows, columns, stream)) == _hex(ref["lora_init"](rows, columns, stream)) == case["values"]


def _adam_cases() -> list[tuple[list[str], int, dict]]:
    d3 = BY_NAME["DE3"]
    alternating = [_hex([0.01 * (-1) ** k]) for k in range(d3["updates"])]
    return [(c["grads"], c["rate"], c) for c in BY_NAME["DE2"]["cases"]] + [(alternating, d3["rate"], d3)]


def test_adam_vector_with_the_reference_code() -> None:
    ref = reference_code()
    for grads, rate, case in _adam_cases():
        p = list(map(float, _floats(case["params"])))
        m, v, state = [0.0] * len(p), [0.0] * len(p), (0, 1.0, 1.0)
        for g in grads:
            state = ref["adam_advance"](state)
            p, m, v = ref["adam_update"](p, list(map(float, _floats(g))), m, v, state, rate)
        assert (_hex(p), _hex(m), _hex(v)) == (case["result_params"], case["result_m"], case["result_v"])


@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_adam_vector_with_nacrith_s_update(library: str) -> None:
    """nacrith's update gives the vectors' bits on numpy arrays and on torch tensors (the backend's)."""
    convert, back = (lambda a: a, lambda a: a) if library == "numpy" else (pytest.importorskip("torch").from_numpy, lambda t: t.numpy())
    for grads, rate, case in _adam_cases():
        p = convert(_floats(case["params"]))
        m, v, state = convert(np.zeros(len(p), np.float32)), convert(np.zeros(len(p), np.float32)), AdamState()
        for g in grads:
            state.advance()
            adam_update(p, convert(_floats(g)), m, v, state, rate / (1 << 20))
        assert (_hex(back(p)), _hex(back(m)), _hex(back(v))) == (case["result_params"], case["result_m"], case["result_v"])


def test_adaptation_parameters_in_format_md_are_those_of_the_code() -> None:
    table = format_parameters()
    limits = {"interval": (1, 4096), "rate": (1, 1 << 20), "layers": (0, 256), "rank": (1, 256), "targets": (1, 15)}
    for key, name in zip(range(22, 27), limits):
        assert (_number(table[key][2]), _number(table[key][3])) == limits[name], name
        low, high = limits[name]
        base = AdaptParams(layers=0, targets=1) if name == "layers" else AdaptParams()
        for value, ok in ((low - 1, False), (low, True), (high, True), (high + 1, False)):
            changed = dataclasses.replace(base, **{name: value})
            if name == "layers" and value:
                changed = dataclasses.replace(changed, targets=15)
            if name == "targets" and not value & 12:
                changed = dataclasses.replace(changed, layers=0)
            assert (not changed.problems()) == ok, (name, value, changed.problems())
