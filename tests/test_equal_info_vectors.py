"""Equal-info windows against FORMAT.md: its reference code, and the vectors of format-vectors/windows.json.

The archive vectors replace the model by a formula of the fed token ``t``, its position ``p`` and
the token ``v`` (a window's logits depend on its own tokens alone), so they are made and checked
without llama.cpp. Run this file as a script to write the vectors again.
"""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest

from nacrith.coder.cdf import quantize
from nacrith.coder.window import WindowEncoder, first_token_floor, floor_table
from nacrith.container import ModelInfo, build_tag, frames
from nacrith.equal_info.archive import WindowFrameEncoder
from nacrith.equal_info.codec import equal_info_settings, window_params
from nacrith.equal_info.pieces import Pieces
from nacrith.errors import CorruptArchiveError
from nacrith.frames import FrameDecoder
from nacrith.equal_info.primers import PRIMERS, primer_digest
from tests.test_format_vectors import VECTOR_DIR, _section, reference_code

PATH = VECTOR_DIR / "windows.json"
LOGIT = "((v * (2 * t + 1) + 5 * p) % 61) / 8 + 3 * (v == 32) + 2 * (v >= 97) * (v <= 122) + 2 * (v == 10)"


class FormulaWindowModel:
    """Tokens 0 to 255 are the bytes, but those of ``missing`` are no bytes (so those bytes are byte symbols);
    token 256, the start token, is no bytes. The tokenizer gives one token per byte and drops the others."""

    def __init__(self, spec: dict) -> None:
        self.vocab_size = 257
        self.start_token = 256
        self.missing = set(spec["missing"])
        self.pieces = [b"" if b in self.missing else bytes([b]) for b in range(256)] + [b""]
        self.logit = compile(spec["logit"], "logit", "eval")

    def tokenize(self, data: bytes) -> list[int]:
        return [b for b in data if b not in self.missing]

    def _rows(self, tokens: list[int], positions: list[int]) -> np.ndarray:
        v = np.arange(self.vocab_size)
        z = np.array([eval(self.logit, {}, {"t": t, "p": p, "v": v}) for t, p in zip(tokens, positions)], dtype=np.float64)
        assert np.array_equal(z.astype(np.float32).astype(np.float64), z)
        return z.astype(np.float32)

    def prime(self, tokens: list[int]) -> np.ndarray:
        return self._rows([tokens[-1]], [len(tokens) - 1])[0]

    def restart(self, lane: int) -> None:
        pass

    def slide(self, lane: int, drop: int, length: int) -> None:
        pass

    def step(self, lanes: list[int], tokens: list[int], positions: list[int]) -> np.ndarray:
        return self._rows(tokens, positions)


class FormulaWindowEngine:
    backend = 0
    gpu = None

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.fingerprint = bytes.fromhex(spec["fingerprint"])
        self.model = FormulaWindowModel(spec)

    def evaluator(self, lanes: int, window: int, *, base: int = 0) -> FormulaWindowModel:
        return self.model

    def start_token(self) -> int:
        return 256

    def model_info(self) -> ModelInfo:
        return ModelInfo(self.fingerprint, build_tag("formula"), "", "formula", 0)

    def describe(self) -> str:
        return f"a formula [{self.fingerprint.hex()}]"


def _encode(vector: dict) -> bytes:
    engine = FormulaWindowEngine(vector["model"])
    s = vector["settings"]
    params = window_params(256, equal_info_settings(s["bits"], s["token_bits"], s["primer"]))
    content = bytes.fromhex(vector["content"])
    encoder = WindowFrameEncoder(engine, params, len(content))
    return encoder.write(content) + encoder.finish()


def _decode(vector: dict, archive: bytes) -> bytes:
    engine = FormulaWindowEngine(vector["model"])
    out = bytearray()
    for reader in frames(io.BytesIO(archive)):
        decoder = FrameDecoder(reader.read_header(), lambda: engine)
        for block in reader.blocks():
            out += decoder.decode(block)
        assert decoder.finished
    return bytes(out)


def make_vectors() -> list[dict]:
    import hashlib

    model = {"logit": LOGIT, "missing": [255], "fingerprint": hashlib.sha256(LOGIT.encode()).hexdigest()[:16], "build": "formula"}
    text = b"Hello, nacrith!\n\xff equal info\n"
    out = []
    for name, bits, token_bits, primer, title in [
        ("W1", 16, 16, 0, "16-bit windows, no primer: the progress floor, and a byte symbol"),
        ("W2", 64, 8, 1, "64-bit windows from the built-in primer, 8-bit tokens"),
    ]:
        vector = {
            "name": name,
            "title": title,
            "model": model,
            "settings": {"bits": bits, "token_bits": token_bits, "primer": primer},
            "content": text.hex(),
        }
        vector["archive"] = _encode(vector).hex()
        out.append(vector)
    coder = {"name": "W3", "title": "the window coder alone", "precision": 8, "bits": 16}
    rng = np.random.default_rng(7)
    tables, symbols = [], []
    enc = WindowEncoder(16)
    while True:
        f = quantize(rng.normal(0, 2, 6).astype(np.float32), 8)
        s = int(rng.integers(0, 6))
        if not enc.fits(int(f[:s].sum()), int(f[s]), 256):
            break
        enc.encode(int(f[:s].sum()), int(f[s]), 256)
        tables.append(f.tolist())
        symbols.append(s)
    coder.update(frequencies=tables, symbols=symbols, used=enc.used, window=enc.finish().hex())
    out.append(coder)
    return out


VECTORS = json.loads(PATH.read_text()) if PATH.exists() else []
ARCHIVES = [v for v in VECTORS if "archive" in v]


@pytest.mark.parametrize("vector", ARCHIVES, ids=[v["name"] for v in ARCHIVES])
def test_the_encoder_writes_exactly_the_vector_and_it_decodes_to_its_content(vector: dict) -> None:
    archive = bytes.fromhex(vector["archive"])
    assert _encode(vector) == archive
    assert _decode(vector, archive) == bytes.fromhex(vector["content"])


@pytest.mark.parametrize("vector", ARCHIVES, ids=[v["name"] for v in ARCHIVES])
def test_a_padding_bit_or_a_length_off_by_one_is_rejected(vector: dict) -> None:
    archive = bytearray.fromhex(vector["archive"])
    last = len(archive) - 1 - 6  # the end block: type, size (a varint of 1 byte here), CRC-32
    archive[last] |= 1  # the last bit of the last window: padding, unless it used every bit
    with pytest.raises(CorruptArchiveError):
        _decode(vector, bytes(archive))


def test_the_window_coder_vector() -> None:
    [v] = [v for v in VECTORS if v["name"] == "W3"]
    enc = WindowEncoder(v["bits"])
    for f, s in zip(v["frequencies"], v["symbols"]):
        enc.encode(sum(f[:s]), f[s], 1 << v["precision"])
    assert enc.used == v["used"] and enc.finish().hex() == v["window"]
    ref = reference_code()
    triples = [(sum(f[:s]), f[s], 1 << v["precision"]) for f, s in zip(v["frequencies"], v["symbols"])]
    assert ref["window_encode"](triples, v["bits"]).hex() == v["window"]


def test_the_reference_window_coder_is_nacrith_s() -> None:
    ref = reference_code()
    rng = np.random.default_rng(11)
    for trial in range(300):
        bits = int(rng.choice([16, 24, 32, 64, 128]))
        enc = WindowEncoder(bits)
        triples, tables = [], []
        state = (0, (1 << 32) - 1, 0, 0)
        while True:
            f = quantize(rng.normal(0, rng.uniform(0.5, 6), 40), 24)
            s = int(rng.integers(0, 40)) if rng.random() < 0.5 else int(np.argmax(f))
            t = (int(f[:s].sum()), int(f[s]), 1 << 24)
            after, size = ref["window_cost"](state, *t)
            assert size == enc.cost(*t) and (size <= bits) == enc.fits(*t)
            if size > bits:
                break
            enc.encode(*t)
            state = after
            triples.append(t)
            tables.append(f)
        window = enc.finish()
        assert ref["window_encode"](triples, bits) == window
        dec = ref["Decoder"](window, strict=False)
        assert [dec.decode(list(map(int, f))) for f in tables] == [int(np.searchsorted(np.cumsum(f), t[0], side="right")) for f, t in zip(tables, triples)]


def test_the_reference_floor_is_nacrith_s() -> None:
    ref = reference_code()
    rng = np.random.default_rng(3)
    for bits in (16, 20, 23):
        f = quantize(rng.normal(0, 4, 600), 24)
        symbols = rng.choice(600, 256, replace=False)
        m = first_token_floor(bits, 24)
        assert ref["floor_table"](f.tolist(), symbols.tolist(), m) == floor_table(f, symbols, m).tolist()


def test_byte_symbols_follow_the_vocabulary_in_byte_order() -> None:
    pieces = Pieces([b"" if b in (4, 200) else bytes([b]) for b in range(256)] + [b"ab", b""])
    assert pieces.extra_bytes == [4, 200] and pieces.size == 260
    assert pieces.byte_symbols[4] == 258 and pieces.byte_symbols[200] == 259 and pieces.byte_symbols[5] == 5
    f = quantize(np.arange(258, dtype=np.float32), 16)
    g = pieces.extend(f)
    assert g.sum() == 1 << 16 and list(g[-2:]) == [1, 1] and g[257] == f[257] - 2


def test_format_md_gives_the_primer_s_bytes_and_digest() -> None:
    """A primer's bytes are part of the format: FORMAT.md's text, its length and SHA-256 are the code's."""
    section = _section("Primer")
    [text] = re.findall(r"```text\n(.*?)\n```", section, re.S)
    assert text.encode() + b"\n\n" == PRIMERS[1]
    assert f"these {len(PRIMERS[1])} bytes" in section and primer_digest(1) in section
    assert sorted(PRIMERS) == [0, 1]


if __name__ == "__main__":
    PATH.write_text(json.dumps(make_vectors(), indent=1) + "\n")
    print(f"wrote {PATH}")
