"""The memory a decoder needs, known from the archive before it is allocated, and the limit it must fit.

Model-free tests refuse archives on what the header alone says (the ensemble's tables and the
model file), with llama.cpp's model class replaced by one that refuses to load. The others load
the real model once, to refuse a group before its context exists, to check that a context sized
to the chunks gives the archive a full-window context gives, and to measure a decoder's peak
memory in a fresh process.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from fuzz import corpus

import nacrith
from nacrith import MemoryLimitError, NacrithError, engine, memory
from nacrith.cli import cli
from nacrith.constants import PRECISION_BITS
from nacrith.container import CodingParams, ModelInfo, build_tag
from nacrith.models import llm
from nacrith.models.llm import build_id
from nacrith.neural.params import MAX_MEMORY, EnsembleParams

REPO = Path(__file__).resolve().parent.parent
SMOLLM2 = ModelInfo(bytes.fromhex("b179c9523d0e6a0f"), build_tag(build_id()), preset=1)
"""The embedded model, and this llama.cpp build: a chunk that fails its checksum is damage, not another build."""

LARGEST_TABLES = EnsembleParams(ngram_orders=16, ngram_table_bits=19, match_table_bits=24, history_bits=25)
"""Ensemble tables of 960 MiB: about the most the format allows (1 GiB)."""


class NeedsModel(NacrithError):
    """Raised instead of loading a model."""


@pytest.fixture
def no_model_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh engine cache whose model cannot load: the model file is found and fingerprinted, never opened."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise NeedsModel("this test decodes without loading the model")

    monkeypatch.setattr(engine, "_engines", {})
    monkeypatch.setattr(llm, "LanguageModel", refuse)


def neural_frame(params: CodingParams, lengths: list[int], payload: bytes = b"\x55") -> bytes:
    """A frame of one segment whose one group holds a neural chunk of each length, with ``payload`` each."""
    return corpus.neural_group_frame(SMOLLM2, params, lengths, payload)


def one_chunk_frame(params: CodingParams, length: int, payload: bytes = b"\x55") -> bytes:
    return corpus.neural_chunk_frame(SMOLLM2, params, length, payload)


def params(lanes: int = 8, window: int = 1024, ensemble: EnsembleParams | None = EnsembleParams(), chunk: int = 65536) -> CodingParams:
    return CodingParams(PRECISION_BITS, lanes, window, window * 3 // 4, chunk, 1, ensemble, 1 << 20)


# --- model-free -----------------------------------------------------------------------------------


def test_a_context_holds_what_its_lanes_can_use_in_llama_cpp_units() -> None:
    assert memory.context_tokens(65536, 70) == 256  # a 70-byte chunk: at most 70 tokens
    assert memory.context_tokens(1024, 65536) == 1024  # a long chunk: the window, as before
    assert memory.context_tokens(300, 5000) == 512  # what llama.cpp allocates for 300 anyway
    assert memory.context_tokens(64, 1) == 256


def test_the_default_limit_fits_an_ordinary_machine() -> None:
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit = memory.default_limit()
    assert limit <= 4 << 30 and limit <= physical // 2
    assert memory.resolve_limit(None) == limit and memory.resolve_limit(1 << 30) == 1 << 30
    for bad in (0, -1, True, 1.5, "1G"):
        with pytest.raises(ValueError, match="memory_limit"):
            memory.resolve_limit(bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="memory_limit"):
            nacrith.NacrithDecompressor(memory_limit=bad)  # type: ignore[arg-type]


def test_the_largest_ensemble_tables_are_refused_before_the_model_loads(no_model_load: None) -> None:
    assert 900 << 20 < LARGEST_TABLES.memory_bytes <= MAX_MEMORY and not LARGEST_TABLES.problems()
    archive = neural_frame(params(ensemble=LARGEST_TABLES), [70])
    began = time.perf_counter()
    with pytest.raises(MemoryLimitError) as refused:
        nacrith.decompress(archive, memory_limit=512 << 20)
    assert time.perf_counter() - began < 5  # before the model loads: milliseconds; a margin for a busy machine
    message = str(refused.value)
    assert re.match(r"segment 0, group 0 needs at least 1\.0 GiB of memory \(the model 9\d\.\d MiB, the ensemble's tables 960 MiB\), "
                    r"over the limit of 512 MiB; allow more with --memory \(memory_limit=\)", message), message
    assert refused.value.limit == 512 << 20 and refused.value.need > refused.value.limit
    with pytest.raises(NeedsModel):  # under a limit that fits, the decoder goes on to load the model
        nacrith.decompress(archive, memory_limit=2 << 30)


def test_the_one_chunk_frame_and_version_1_are_checked_too(no_model_load: None) -> None:
    with pytest.raises(MemoryLimitError, match="^the chunk needs at least"):
        nacrith.decompress(one_chunk_frame(params(ensemble=LARGEST_TABLES), 70), memory_limit=512 << 20)
    v1 = (REPO / "tests" / "data" / "v1" / "text-crlf.nacr").read_bytes()
    with pytest.raises(MemoryLimitError, match="^group 0 needs at least"):
        nacrith.decompress(v1, memory_limit=1 << 20)


def test_an_archive_without_neural_chunks_needs_no_model_and_fits_any_limit(tmp_path: Path, no_model_load: None) -> None:
    data = os.urandom(5000)
    path = tmp_path / "data.nacr"
    path.write_bytes(nacrith.compress(data))
    assert nacrith.decompress(path.read_bytes(), memory_limit=1) == data
    with nacrith.open(path, "rb", memory_limit=1) as f:  # read mode takes the option
        assert f.read() == data


def test_the_cli_refuses_with_one_line_naming_need_and_limit(tmp_path: Path, no_model_load: None) -> None:
    path = tmp_path / "tables.nacr"
    path.write_bytes(neural_frame(params(ensemble=LARGEST_TABLES), [70]))
    for command in (["test"], ["decompress", "-c"]):
        result = CliRunner().invoke(cli, [*command, "--memory", "512M", str(path)])
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(f"nacrith: {path}: segment 0, group 0 needs at least 1.0 GiB of memory")
        assert "over the limit of 512 MiB" in result.stderr and result.stderr.count("\n") == 1
    result = CliRunner().invoke(cli, ["test", "--memory", "0", str(path)])
    assert result.exit_code == 2 and "--memory" in result.stderr


def test_the_error_crosses_process_boundaries_intact() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(MemoryLimitError("segment 3 needs 5 GiB", 5 << 30, 4 << 30)))
    assert (str(error), error.need, error.limit) == ("segment 3 needs 5 GiB", 5 << 30, 4 << 30)


# --- with the model ----------------------------------------------------------------------------------


def test_a_group_too_big_for_the_limit_is_refused_before_its_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """8 chunks that say 65,536 bytes each, with a 1-byte payload each, at a 65,536-token window: 11.3 GiB of KV
    cache. Refused once the model is loaded, before the context is allocated."""
    model = engine.shared_engine(None, 1).model  # loaded before the clock starts
    allocated = []
    monkeypatch.setattr(llm.LanguageModel, "evaluator", lambda *args: allocated.append(args))
    archive = neural_frame(params(window=65536), [65536] * 8)
    began = time.perf_counter()
    with pytest.raises(MemoryLimitError) as refused:
        nacrith.decompress(archive, threads=1, memory_limit=4 << 30)
    assert time.perf_counter() - began < 5 and not allocated
    kv = 8 * 65536 * model.shape.kv_bytes_per_token
    assert model.shape.kv_bytes_per_token == 2 * 30 * 3 * (64 + 64)  # SmolLM2: 30 layers, 3 KV heads of 64
    assert refused.value.need > kv and "a context of 8 lanes x 65,536 tokens 11.3 GiB" in str(refused.value)


def test_tiny_chunks_under_a_wide_window_get_a_tiny_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's 103-byte archive: 4 chunks of a byte or two under a 65,536-token window took 6.0 GB (1.5 GB of
    context per chunk). Its lanes can hold 2 tokens each: the context is 4 x 256 tokens, and the payloads, made
    up, fail their checksums."""
    monkeypatch.setattr(engine, "_engines", {})  # no context left from another test
    engine.shared_engine(None, 1).model  # noqa: B018 - loaded before the clock starts
    contexts = []
    real = llm.LanguageModel.evaluator

    def recorded(self, lanes, context, threads=None, max_batch=None):  # type: ignore[no-untyped-def]
        contexts.append((lanes, context))
        return real(self, lanes, context, threads, max_batch)

    monkeypatch.setattr(llm.LanguageModel, "evaluator", recorded)
    archive = neural_frame(params(window=65536), [1, 2, 1, 2])
    assert len(archive) < 110
    began = time.perf_counter()
    with pytest.raises(nacrith.CorruptArchiveError):
        nacrith.decompress(archive, threads=1)
    assert time.perf_counter() - began < 5
    assert contexts == [(4, 256)]


def test_a_context_sized_to_the_chunks_codes_the_archive_a_full_window_codes(monkeypatch: pytest.MonkeyPatch, english: bytes) -> None:
    """The encoder and decoder size contexts by the chunks; the archive is byte for byte what contexts of the whole
    window give (the rule of format version 2 before), and each decodes the other's."""
    from nacrith.frames import FrameEncoder
    from nacrith.options import Options

    shared = engine.shared_engine(None, 1)
    options = Options(lanes=3, window=2048, chunk_bytes=256, min_chunk_bytes=200)

    def archive() -> bytes:
        encoder = FrameEncoder(shared, options)
        return encoder.write(english) + encoder.finish()

    sized = archive()
    groups = [c for c in nacrith.inspect(sized).frames[0].chunks if c.method.startswith("neural")]
    assert len(groups) == 3, "three lanes, so the group's contexts differ in size from the window"
    with monkeypatch.context() as patched:
        patched.setattr("nacrith.segments.start.context_tokens", lambda window, longest: window)
        full = archive()
        assert nacrith.decompress(sized, threads=1) == english
    assert full == sized
    assert nacrith.decompress(full, threads=1) == english


def test_decoding_a_wide_window_archive_peaks_near_its_real_need(english: bytes, tmp_path: Path) -> None:
    """The issue's case: a short text whose header says a 65,536-token window peaked at 1.8 GB (its context);
    now its context is the chunk's, and a fresh process decoding it stays near what the decoder computes."""
    archive = nacrith.compress(english, window=65536, threads=1)
    path = tmp_path / "wide.nacr"
    path.write_bytes(archive)
    # The peak of the child's own memory: getrusage's ru_maxrss would start from this process's size when it forked.
    script = (
        "import sys, nacrith\n"
        "data = nacrith.decompress(open(sys.argv[1], 'rb').read(), threads=1)\n"
        "peak = next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
        "print(len(data), peak * 1024)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, env=env, timeout=120, check=True)
    size, peak = map(int, done.stdout.split())
    model = engine.shared_engine(None, 1)
    need = memory.need(model.file_bytes, EnsembleParams().memory_bytes, model.model.shape, 1, memory.context_tokens(65536, len(english)))
    full_window = 65536 * model.model.shape.kv_bytes_per_token
    assert size == len(english)
    print(f"peak {peak >> 20} MiB, computed need {need.total >> 20} MiB, a full-window context {full_window >> 20} MiB")
    assert peak < need.total + (100 << 20), (peak, need)  # the interpreter and numpy besides: under 100 MiB
    assert peak < full_window / 3, "the 1.4 GiB context of the whole window was not allocated"
