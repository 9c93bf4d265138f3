"""``python -m pytest fuzz/``: the fuzz target under Hypothesis, for as many inputs as NACRITH_FUZZ_EXAMPLES says (2000)."""

from __future__ import annotations

import os

import pytest

import nacrith.api
from fuzz import fuzz_decompress


def test_decoding_any_input_keeps_the_invariant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nacrith.api.NacrithDecompressor, "_engine", fuzz_decompress.NeedsModel.refuse)
    fuzz_decompress.hypothesis_test(int(os.environ.get("NACRITH_FUZZ_EXAMPLES", "2000")))()
