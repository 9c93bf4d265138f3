"""Real-model round trips through the whole pipeline, on inputs small enough for a fast suite."""

from __future__ import annotations

import io
import lzma
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import nacrith
from nacrith.container import FrameReader, Group

FAST = dict(window=64)


def _methods(archive: bytes) -> list[str]:
    """Each chunk's method in archive order (a segment's other bytes first, as one stream)."""
    return [c.method for frame in nacrith.inspect(archive).frames for c in frame.chunks]


CASES = {
    "empty": b"",
    "one byte": b"a",
    "one newline": b"\n",
    "all byte values": bytes(range(256)),
    "random binary": np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes(),
    "invalid utf-8 inside text": b"The quick brown fox jumps over the lazy dog. " * 3 + b"\xff\xfe\x80" + b" and then it ran away into the forest." * 3,
    "crlf text": b"First line\r\nSecond line\r\n\r\nThird, after a blank.\r\n",
    "nul bytes": b"name\x00value\x00\x00other\x00",
    "emoji and cjk": "Grüße 👋 日本語のテキスト — ½ ∑ 😀 中文 한국어\n".encode(),
    "special token text": b"<|endoftext|><|im_start|>user\nhi<|im_end|>",
    "leading spaces and tabs": b"   \t  indented\n\t\tmore\n",
    "tokenizer-unfriendly": b"\xc3\x28 broken \xe2\x82 sequences \xf0\x9f\x98",
}


@pytest.mark.parametrize("name", list(CASES))
def test_lossless(name: str) -> None:
    data = CASES[name]
    archive = nacrith.compress(data, **FAST)
    assert nacrith.decompress(archive) == data


def test_text_is_coded_by_the_model_and_beats_zstd(english: bytes) -> None:
    import zstandard

    archive = nacrith.compress(english, **FAST)
    assert _methods(archive) == ["neural-crlf"]  # alice29.txt has CRLF line ends
    assert len(archive) < 0.7 * len(zstandard.ZstdCompressor(level=19).compress(english))
    assert nacrith.decompress(archive) == english


def test_binary_goes_to_the_fallback_and_is_not_much_bigger_than_zstd() -> None:
    import zstandard

    data = (bytes(range(256)) * 64) + np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    archive = nacrith.compress(data)
    assert set(_methods(archive)) <= {"zstd", "xz", "stored"}
    best = min(len(zstandard.ZstdCompressor(level=19).compress(data)), len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)))
    assert len(archive) <= best + 32  # header, runs, checksum and end: a few bytes, where version 1 spent about 80
    assert nacrith.decompress(archive) == data


def test_damaged_text_keeps_its_good_parts_neural(english: bytes) -> None:
    data = english + b"\xff\xfe\x00\x81" + english
    archive = nacrith.compress(data, **FAST)
    assert _methods(archive) == ["stored", "neural-crlf"]  # the other bytes, then one chunk across them
    assert nacrith.decompress(archive) == data


def test_many_lanes_with_sliding_windows(alice: bytes) -> None:
    data = alice[5000:7000]
    archive = nacrith.compress(data, lanes=4, window=32, chunk_bytes=600)
    assert _methods(archive) == ["neural-crlf"] * 4
    assert nacrith.decompress(archive) == data


@pytest.mark.parametrize(
    "text, method",
    [
        (b"one\r\ntwo\r\nthree\r\n", "neural-crlf"),
        (b"one\r\ntwo\nthree\r\n", "neural"),  # a bare LF: CRLF to LF would not be undone exactly
        (b"one\r\r\ntwo\rthree\r\n", "neural-crlf"),  # only the CR of each CRLF goes
        (b"one\ntwo\n", "neural"),
    ],
)
def test_crlf_text_is_coded_as_lf_only_when_that_is_exact(text: bytes, method: str) -> None:
    archive = nacrith.compress(text * 20, **FAST)
    assert _methods(archive) == [method]
    assert nacrith.decompress(archive) == text * 20


def test_crlf_as_lf_costs_fewer_bits(alice: bytes) -> None:
    from nacrith.engine import shared_engine
    from nacrith.frames import FrameEncoder
    from nacrith.options import Options

    def size(crlf: bool) -> int:
        encoder = FrameEncoder(shared_engine(), Options(lanes=1, window=256, crlf=crlf, ensemble=None))
        return len(encoder.write(alice[2000:4500]) + encoder.finish())

    assert size(True) < 0.97 * size(False)


def test_ensemble_off_on_and_custom_parameters_all_decode(english: bytes) -> None:
    custom = nacrith.EnsembleParams(ngram_orders=3, match_min_length=4, bias_rate=1000, mixer_rate=3000)
    sizes = {}
    for name, ensemble in (("off", False), ("on", True), ("custom", custom)):
        archive = nacrith.compress(english * 3, ensemble=ensemble, **FAST)
        header = FrameReader(io.BytesIO(archive)).read_header()
        expected = None if ensemble is False else (custom if name == "custom" else nacrith.EnsembleParams())
        assert header.params.ensemble == expected
        assert nacrith.decompress(archive) == english * 3
        sizes[name] = len(archive)
    assert sizes["on"] < sizes["off"]  # the repeats are where the n-gram and match models win


def test_a_tampered_ensemble_parameter_fails_with_a_clear_error(english: bytes) -> None:
    archive = nacrith.compress(english, **FAST)
    header = FrameReader(io.BytesIO(archive)).read_header()
    from nacrith.container import write_header
    import dataclasses

    original = write_header(header)
    assert archive.startswith(original)
    changed = dataclasses.replace(header.params, ensemble=dataclasses.replace(header.params.ensemble, mixer_rate=1000))
    tampered = write_header(dataclasses.replace(header, params=changed)) + archive[len(original) :]
    with pytest.raises(nacrith.CorruptArchiveError, match="the chunk .*damaged"):
        nacrith.decompress(tampered)


def test_groups_follow_one_another(alice: bytes) -> None:
    data = alice[9000:11000]
    archive = nacrith.compress(data, lanes=2, window=32, chunk_bytes=400)
    reader = FrameReader(io.BytesIO(archive))
    reader.read_header()
    groups = [b for b in reader.blocks() if isinstance(b, Group)]
    assert len(groups) >= 3 and all(len(g.entries) <= 2 for g in groups)
    assert nacrith.decompress(archive) == data


def test_the_archive_fixes_the_lanes_and_any_thread_count_decodes_it(alice: bytes) -> None:
    data = alice[3000:4200]
    archive = nacrith.compress(data, lanes=3, window=48, chunk_bytes=400, threads=2)
    reader = FrameReader(io.BytesIO(archive))
    assert reader.read_header().params.lanes == 3
    assert max(len(b.entries) for b in reader.blocks() if isinstance(b, Group)) == 3  # decoded in batches of 3 lanes
    # The decoder has no lane or window setting to get wrong: the archive holds them.
    for name in ("lanes", "window", "chunk_bytes"):
        with pytest.raises(TypeError):
            nacrith.decompress(archive, **{name: 1})
    # Threads are free to differ (measured: logits identical).
    assert nacrith.decompress(archive, threads=1) == data
    assert nacrith.decompress(archive, threads=2) == data


def test_repeated_calls_load_the_model_once_and_stay_exact(monkeypatch: pytest.MonkeyPatch, english: bytes) -> None:
    from nacrith import engine
    from nacrith.models import llm

    loads, evaluators = [], []

    class CountedModel(llm.LanguageModel):
        def __init__(self, path, gpu=None):  # type: ignore[no-untyped-def]
            loads.append(path)
            super().__init__(path, gpu=gpu)

        def evaluator(self, lanes, window, threads=None, max_batch=None):  # type: ignore[no-untyped-def]
            evaluators.append((lanes, window))
            return super().evaluator(lanes, window, threads, max_batch)

    monkeypatch.setattr(engine, "_engines", {})  # as in a fresh process
    monkeypatch.setattr(llm, "LanguageModel", CountedModel)
    one = nacrith.compress(english, **FAST)
    two = nacrith.compress(english, **FAST)
    assert one == two  # deterministic: same input, same settings, same bytes
    assert nacrith.decompress(one) == nacrith.decompress(two) == english
    assert len(loads) == 1  # one load for two compressions and two decompressions
    assert evaluators == [(1, 256)]  # and one set of contexts: every call had the same shape (a 64-token window's 256 cells)
    assert len(engine._engines) == 1


def test_incremental_objects_match_one_shot(english: bytes) -> None:
    data = english * 3
    c = nacrith.NacrithCompressor(window=64, chunk_bytes=512, lanes=2)
    archive = b"".join(c.compress(data[i : i + 100]) for i in range(0, len(data), 100)) + c.flush()
    d = nacrith.NacrithDecompressor()
    out = b"".join(d.decompress(archive[i : i + 37]) for i in range(0, len(archive), 37))
    assert out == data and d.eof and d.unused_data == b""
    d2 = nacrith.NacrithDecompressor()
    assert d2.decompress(archive + b"trailing") == data and d2.unused_data == b"trailing"


def test_open_binary_and_text_modes(tmp_path: Path, english: bytes) -> None:
    path = tmp_path / "notes.nacr"
    with nacrith.open(path, "wb", window=64) as f:
        f.write(english[:200])
        f.write(english[200:])
    with nacrith.open(path, "rb") as f:
        assert f.read(10) + f.read() == english
    text = "Un été à Paris — ça va? 😀\nSecond line\n"
    with nacrith.open(tmp_path / "t.nacr", "wt", encoding="utf-8", window=64) as f:
        f.write(text)
    with nacrith.open(tmp_path / "t.nacr", "rt", encoding="utf-8") as f:
        assert f.read() == text


def test_another_model_is_refused_by_name(tmp_path: Path, english: bytes) -> None:
    from nacrith.models.registry import resolve_model_path

    other = tmp_path / "other-model.gguf"
    shutil.copyfile(resolve_model_path(), other)
    with open(other, "ab") as f:
        f.write(b"\0" * 32)  # same weights, different file: a different fingerprint
    archive = nacrith.compress(english[:100], **FAST)
    with pytest.raises(nacrith.ModelMismatchError, match="SmolLM2-135M-Instruct.Q4_1.gguf.*other-model.gguf"):
        nacrith.decompress(archive, model=other)
    archive_other = nacrith.compress(english[:100], model=other, **FAST)
    with pytest.raises(nacrith.ModelMismatchError, match="other-model.gguf"):
        nacrith.decompress(archive_other)
    assert nacrith.decompress(archive_other, model=other) == english[:100]


def _perturb_logits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the model's logits differ slightly, as another llama.cpp build's may."""
    from nacrith.models import llm

    original = llm.LaneEvaluator.step

    def step(self, lanes, tokens, positions):  # type: ignore[no-untyped-def]
        logits = original(self, lanes, tokens, positions).copy()
        logits[:, :100] += 3.0
        return logits

    monkeypatch.setattr(llm.LaneEvaluator, "step", step)


def test_other_llama_build_is_named_not_decoded_to_garbage(monkeypatch: pytest.MonkeyPatch, english: bytes) -> None:
    from nacrith.models import llm

    archive = nacrith.compress(english, **FAST)
    _perturb_logits(monkeypatch)
    monkeypatch.setattr(llm, "build_id", lambda: "9.9.9/deadbeef")
    with pytest.raises(nacrith.ModelMismatchError, match="9.9.9/deadbeef"):
        nacrith.decompress(archive)


def test_same_build_different_logits_is_reported_as_damage(monkeypatch: pytest.MonkeyPatch, english: bytes) -> None:
    archive = nacrith.compress(english, **FAST)
    _perturb_logits(monkeypatch)
    with pytest.raises(nacrith.CorruptArchiveError, match="the chunk .*(checksum|payload|token).*damaged"):
        nacrith.decompress(archive)


def test_missing_or_non_gguf_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(nacrith.ModelNotFoundError, match="not found"):
        nacrith.compress(b"hello", model=tmp_path / "nope.gguf")
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"this is not a model")
    with pytest.raises(nacrith.ModelNotFoundError, match="not a GGUF"):
        nacrith.compress(b"hello", model=fake)


def test_model_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NACRITH_MODEL", os.fspath(tmp_path / "missing.gguf"))
    with pytest.raises(nacrith.ModelNotFoundError, match="missing.gguf"):
        nacrith.compress(b"hello")


def test_progress_counts_every_input_byte_as_it_goes(english: bytes) -> None:
    data = english + b"\x00\xff binary tail \x80\x81" * 3
    seen: list[tuple[int, int, float]] = []
    archive = nacrith.compress(data, progress=lambda b, t, bits: seen.append((b, t, bits)), **FAST)
    assert sum(b for b, _, _ in seen) == len(data)
    assert len([1 for b, t, _ in seen if t]) > 10  # token by token, not once per group
    seen.clear()
    assert nacrith.decompress(archive, progress=lambda b, t, bits: seen.append((b, t, bits))) == data
    assert sum(b for b, _, _ in seen) == len(data)
