"""The dictionary vectors (format-vectors/dictionaries.json, and archives A12 and A13) against the code and FORMAT.md.

Model-free: the files are read and written field by field, the rejected ones fail with their
error, and Vector A13 (a formula model coded with Vector D1) decodes only with D1, by nacrith and
by FORMAT.md's reference code, which must also fail it when it leaves out the primer or the state.
The rest of A12's and A13's checks are those of every archive vector (tests/test_format_vectors.py).
"""

from __future__ import annotations

import hashlib
import re

import pytest

from nacrith import errors
from nacrith.dictionary import Dictionary, DictionaryContent, identity_of, read_dictionary, write_dictionary
from nacrith.dictionary.layout import DICTIONARY_MAGIC, DICTIONARY_VERSION
from nacrith.neural.params import EnsembleParams
from tests.test_format_vectors import (
    BY_NAME,
    DICTIONARIES,
    FormulaEngine,
    FormulaEvaluator,
    FormulaModel,
    SpecParser,
    _archive,
    _content,
    _ids,
    _section,
    decode_with,
    reference_code,
    reference_frame,
    vector_dictionary,
)

FILES = [v for v in DICTIONARIES if "fields" in v]
REJECTED = [v for v in DICTIONARIES if "error" in v]


def _fields(content: DictionaryContent) -> dict:
    out = {"fingerprint": content.fingerprint.hex(), "vocab": content.vocab_size, "primer": list(content.primer), "flags": int(content.ensemble is not None)}
    if content.ensemble:
        out["ensemble"] = list(content.ensemble.values())
        out["sequences"] = [list(s) for s in content.sequences]
        out["bias"] = list(content.bias) if content.bias is not None else None
        out["mixer"] = [[w.hex() for w in row] for row in content.mixer] if content.mixer is not None else None
    return out


def test_there_are_dictionary_files_and_rejections() -> None:
    assert [v["name"] for v in FILES] == ["D1", "D2"] and len(REJECTED) >= 8


@pytest.mark.parametrize("vector", FILES, ids=_ids(FILES))
def test_a_dictionary_file_has_its_fields_and_identity(vector: dict) -> None:
    data = bytes.fromhex(vector["dictionary"])
    content = read_dictionary(data)
    assert _fields(content) == vector["fields"]
    assert write_dictionary(content) == data
    assert f"{identity_of(data):014x}" == vector["identity"] == hashlib.sha256(data).hexdigest()[:14]
    assert Dictionary(data).identity == int(vector["identity"], 16)


@pytest.mark.parametrize("vector", REJECTED, ids=_ids(REJECTED))
def test_a_rejected_dictionary_file_fails_with_its_error(vector: dict) -> None:
    error = getattr(errors, vector["error"])
    with pytest.raises(error) as caught:
        Dictionary(bytes.fromhex(vector["dictionary"]))
    assert type(caught.value) is error


def test_format_md_gives_the_dictionary_file_s_magic_version_and_rules() -> None:
    table = _section("Dictionary file")
    assert "| Magic | 4 | always | `8E 4E 43 44`" in table and DICTIONARY_MAGIC == bytes.fromhex("8E4E4344")
    assert re.search(r"^\| Version \| 1 \| always \| `1` \|$", table, re.M) and DICTIONARY_VERSION == 1
    fields = re.findall(r"^\| ([A-Z][\w -]+?) \| ", table, re.M)
    assert fields == ["Field", "Magic", "Version", "Model fingerprint", "Vocabulary", "Primer length", "Primer", "Flags", "Ensemble parameters", "Sequence count", "Sequences", "Bias", "Mixer weights", "CRC-32"]
    content = read_dictionary(bytes.fromhex(BY_NAME["D1"]["dictionary"]))
    assert content.ensemble == EnsembleParams(*BY_NAME["A7"]["encoder"]["ensemble"])
    assert len(content.mixer) == 4 * (2 * 3 + 1) * 5 and len(content.mixer[0]) == 1 + 3 + 1  # type: ignore[arg-type]


def test_a12_names_its_dictionary_and_needs_no_model() -> None:
    a12 = SpecParser(_archive(BY_NAME["A12"])).parse()
    assert a12["params"].dictionary == int(BY_NAME["D2"]["identity"], 16) and a12["layout"] == 0 and a12["method"] == 0


def test_a13_decodes_only_with_its_dictionary() -> None:
    vector = BY_NAME["A13"]
    archive, engine = _archive(vector), FormulaEngine(vector["model"])
    assert SpecParser(archive).parse()["params"].dictionary == int(BY_NAME["D1"]["identity"], 16)
    assert decode_with(engine, archive, vector_dictionary(vector)) == _content(vector)
    with pytest.raises(errors.ModelMismatchError, match=f"{BY_NAME['D1']['identity']}, and none was given"):
        decode_with(engine, archive)
    other = Dictionary(bytes.fromhex(BY_NAME["D2"]["dictionary"]))
    with pytest.raises(errors.ModelMismatchError, match=f"not with the one given, {BY_NAME['D2']['identity']}"):
        decode_with(engine, archive, other)


@pytest.mark.parametrize("slip", ["no state", "no primer positions"])
def test_the_reference_code_fails_a13_without_the_primer_or_the_state(slip: str) -> None:
    """FORMAT.md's code decodes A13 (tests/test_format_vectors.py); without the dictionary's state, or with
    the lane's positions starting at 0 instead of after the primer, it must not."""
    vector = BY_NAME["A13"]
    model = FormulaModel(vector["model"])
    if slip == "no state":
        ref = {**reference_code(), "start": lambda *args: None}  # a copy: reference_code() is cached
    else:
        ref = reference_code((("    cached = [primed] * n", "    cached = [0] * n"),))
    with pytest.raises(Exception):  # a table that is not the encoder's: garbage tokens, then a failed assertion or payload
        reference_frame(
            ref, _archive(vector), _content(vector), model.pieces, model.vocab_size, lambda n: FormulaEvaluator(model), dictionary=vector_dictionary(vector)
        )
