"""Dictionaries: the .nacrd file and its checks, lanes that start from a primer, an ensemble that starts
from a dictionary's state, and archives that decode only with their dictionary (FORMAT.md, "Dictionaries").

The file, the prefix schedule and the ensemble's start need no model. The round trips use the real
model on log lines of a few tokens, a window of 64 tokens and one thread, so that training and
coding take seconds.
"""

from __future__ import annotations

import hashlib
import pickle
import random
import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import nacrith
from nacrith.cli import cli
from nacrith.container import CodingParams, crc32
from nacrith.container.writer import varint
from nacrith.dictionary import Dictionary, DictionaryContent, identity_of, read_dictionary, replay, write_dictionary
from nacrith.dictionary.layout import mixer_shape
from nacrith.dictionary.train import learn, typical_order
from nacrith.errors import CorruptArchiveError, ModelMismatchError, UnsupportedFormatError
from nacrith.neural.ensemble import Ensemble
from nacrith.neural.lanes import decode_group, encode_group
from nacrith.neural.params import EnsembleParams
from nacrith.neural.schedule import Prefix
from nacrith.options import Options, ensemble_params
from nacrith.segments.diagnose import check_dictionary
from tests.conftest import FakePredictor

SMALL = EnsembleParams(ngram_orders=2, ngram_table_bits=6, match_min_length=3, match_table_bits=6, history_bits=10)
"""Ensemble parameters with tables small enough to compare whole."""


def _content(vocab: int = 40, params: EnsembleParams | None = SMALL) -> DictionaryContent:
    rng = np.random.default_rng(5)
    if params is None:
        return DictionaryContent(b"\x01" * 8, vocab, (3, 1, 4, 1, 5))
    shape = mixer_shape(params)
    assert shape is not None
    mixer = tuple(tuple(float(w) for w in row / row.sum()) for row in rng.uniform(0.1, 1.0, size=shape))
    bias = tuple(int(b) for b in rng.integers(-params.bias_limit, params.bias_limit + 1, size=vocab)) if params.bias_rate else None
    sequences = ((1, 2, 3, 1, 2, 3, 4), (5, 5, 5), (1, 2, 3, 9))
    return DictionaryContent(b"\x01" * 8, vocab, (3, 1, 4, 1, 5), params, sequences, bias, mixer)


def _with_crc(body: bytes) -> bytes:
    return body + crc32(body).to_bytes(4, "little")


# --- the file ------------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [SMALL, None, EnsembleParams(bias_rate=0, ngram_table_bits=4, history_bits=10, match_table_bits=4)])
def test_a_dictionary_file_reads_back_as_written(params: EnsembleParams | None) -> None:
    content = _content(params=params)
    data = write_dictionary(content)
    assert data[:5] == b"\x8eNCD\x01" and data[5:13] == content.fingerprint
    assert read_dictionary(data) == content
    assert identity_of(data) == int.from_bytes(hashlib.sha256(data).digest()[:7], "big")
    assert Dictionary(data).identity == identity_of(data) and 0 < identity_of(data) < 1 << 56


def test_the_checksum_covers_every_byte_and_a_cut_is_damage() -> None:
    data = write_dictionary(_content())
    for at in (5, 13, len(data) // 2, len(data) - 5, len(data) - 1):
        damaged = bytearray(data)
        damaged[at] ^= 0x10
        with pytest.raises(CorruptArchiveError, match="checksum"):
            read_dictionary(bytes(damaged))
    with pytest.raises(CorruptArchiveError, match="checksum"):
        read_dictionary(data[:-1])


@pytest.mark.parametrize(
    "data, error",
    [
        (b"", UnsupportedFormatError),
        (b"\x8eNCR\x02" + bytes(20), UnsupportedFormatError),  # an archive's magic
        (b"\x28\xb5\x2f\xfd" + bytes(20), UnsupportedFormatError),  # a zstd dictionary
        (b"\x8eNCD\x02" + bytes(20), UnsupportedFormatError),  # a newer version
    ],
)
def test_what_is_not_a_dictionary_is_refused_as_such(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error, match="not a nacrith dictionary|version 2"):
        read_dictionary(data)


def _body(content: DictionaryContent) -> bytes:
    """A dictionary's bytes without their CRC-32, to edit and checksum again."""
    return write_dictionary(content)[:-4]


def test_a_field_that_breaks_its_rule_is_corrupt_even_with_a_good_checksum() -> None:
    body = _body(DictionaryContent(b"\x01" * 8, 5, (3,)))  # magic, version, fingerprint, 05 01 03, flags 00
    assert body[13:] == b"\x05\x01\x03\x00"
    with pytest.raises(CorruptArchiveError, match="primer token 9 "):
        read_dictionary(_with_crc(body[:15] + b"\x09" + body[16:]))
    with pytest.raises(CorruptArchiveError, match="1 bytes after the last field"):
        read_dictionary(_with_crc(body + b"\x00"))
    with pytest.raises(CorruptArchiveError, match="flags runs past the end"):
        read_dictionary(_with_crc(body[:-1]))
    with pytest.raises(CorruptArchiveError, match="over-long varint for vocabulary"):
        read_dictionary(_with_crc(body[:13] + b"\x85\x00" + body[14:]))


def test_reserved_flags_bad_bias_and_bad_mixer_weights_are_corrupt() -> None:
    primer_only = _body(_content(params=None))
    flags_at = primer_only.index(bytes([5, 3, 1, 4, 1, 5])) + 6
    flagged = bytearray(primer_only)
    flagged[flags_at] = 0x02
    with pytest.raises(CorruptArchiveError, match="reserved flag"):
        read_dictionary(_with_crc(bytes(flagged)))

    content = _content()
    body = bytearray(_body(content))
    nan = struct.pack("<d", float("nan"))
    body[-8:] = nan
    with pytest.raises(CorruptArchiveError, match="mixer weight"):
        read_dictionary(_with_crc(bytes(body)))
    body[-8:] = struct.pack("<d", 0.0)
    with pytest.raises(CorruptArchiveError, match="mixer weight"):
        read_dictionary(_with_crc(bytes(body)))

    over = DictionaryContent(content.fingerprint, content.vocab_size, content.primer, content.ensemble, content.sequences, (0,) * content.vocab_size, content.mixer)
    plain = _body(over)
    mixer_bytes = 8 * len(content.mixer) * len(content.mixer[0])  # type: ignore[arg-type]
    bias_at = len(plain) - mixer_bytes - content.vocab_size
    too_big = 2 * (SMALL.bias_limit + 1)  # zigzag of limit + 1
    edited = plain[:bias_at] + varint(too_big) + plain[bias_at + 1 :]
    with pytest.raises(CorruptArchiveError, match="bias"):
        read_dictionary(_with_crc(edited))


def test_a_writer_refuses_what_a_reader_would() -> None:
    good = _content()
    with pytest.raises(ValueError, match="tokens below the vocabulary"):
        write_dictionary(DictionaryContent(good.fingerprint, 4, (7,)))
    with pytest.raises(ValueError, match="one bias per token"):
        write_dictionary(DictionaryContent(good.fingerprint, good.vocab_size, (), good.ensemble, good.sequences, good.bias[:3], good.mixer))  # type: ignore[index]
    with pytest.raises(ValueError, match="sequences of at least 1 token"):
        write_dictionary(DictionaryContent(good.fingerprint, good.vocab_size, (), good.ensemble, ((),), good.bias, good.mixer))


def test_a_dictionary_travels_to_workers_as_its_bytes() -> None:
    d = Dictionary(write_dictionary(_content()), "family.nacrd")
    copy = pickle.loads(pickle.dumps(d))
    assert copy.data == d.data and copy.identity == d.identity and copy.name == "family.nacrd"
    assert pickle.loads(pickle.dumps(d)) is copy  # parsed once per process


def test_a_dictionary_for_another_model_is_refused() -> None:
    d = Dictionary(write_dictionary(_content()))
    with pytest.raises(ModelMismatchError, match=r"trained for model \[0101010101010101\]"):
        d.check_model(bytes(8))
    with pytest.raises(ModelMismatchError):
        d.check_model(b"\x01" * 8, vocab_size=41)
    d.check_model(b"\x01" * 8, vocab_size=40)


# --- the archive names its dictionary -------------------------------------------------------------


def test_decoding_without_the_dictionary_or_with_another_names_both() -> None:
    d = Dictionary(write_dictionary(_content()))
    other = Dictionary(write_dictionary(_content(params=None)))
    params = CodingParams(24, 8, 1024, 768, 1 << 16, 1, dictionary=d.identity)
    with pytest.raises(ModelMismatchError, match=f"dictionary {d.identity:014x}, and none was given"):
        check_dictionary(params, None)
    with pytest.raises(ModelMismatchError, match=f"dictionary {d.identity:014x}, not with the one given, {other.identity:014x}"):
        check_dictionary(params, other)
    check_dictionary(params, d)
    check_dictionary(CodingParams(24, 8, 1024, 768, 1 << 16, 1), other)  # an archive that needs none ignores it


def test_options_refuse_a_primer_the_window_cannot_hold_and_other_ensemble_parameters() -> None:
    d = Dictionary(write_dictionary(_content()))  # a primer of 5 tokens
    Options(window=16, dictionary=d)
    content = _content()
    long = Dictionary(write_dictionary(DictionaryContent(content.fingerprint, content.vocab_size, tuple(range(20)), content.ensemble, content.sequences, content.bias, content.mixer)))
    with pytest.raises(ValueError, match="primer of 20 tokens, which needs a window of at least 21"):
        Options(window=16, dictionary=long)
    assert ensemble_params(True, d) == SMALL and ensemble_params(False, d) is None
    assert ensemble_params(True, Dictionary(write_dictionary(_content(params=None)))) == EnsembleParams()
    with pytest.raises(ValueError, match="ensemble state for other ensemble parameters"):
        ensemble_params(EnsembleParams(), d)


# --- lanes that start from a primer ------------------------------------------------------------------

SETTINGS = CodingParams(precision_bits=24, lanes=8, window=16, slide_keep=12, chunk_bytes=1 << 16, start_token=299)


@pytest.mark.parametrize("primer", [(), (7,), (7, 8, 9, 10, 11)])
def test_primed_lanes_start_after_the_primer_and_slides_drop_it_first(primer: tuple[int, ...]) -> None:
    prefix = Prefix((299, *primer))
    rng = np.random.default_rng(3)
    tokens = [rng.integers(0, 298, size=n).tolist() for n in (30, 4)]
    enc, dec = FakePredictor(), FakePredictor()
    payloads = encode_group(enc, tokens, SETTINGS, prefix=prefix)
    assert decode_group(dec, payloads, [30, 4], SETTINGS, prefix=prefix) == tokens
    assert enc.calls == dec.calls
    steps = [args for kind, args in enc.calls if kind == "step"]
    p = len(primer)
    assert steps[0] == ((0, 1), (prefix.first, prefix.first), (p, p))  # the primer's last token (or the start token) at p
    positions = [s[2][0] for s in steps]
    assert positions[: 16 - p] == list(range(p, 16))
    slides = [args for kind, args in enc.calls if kind == "slide"]
    assert slides[0] == (0, 4, 16)  # positions 1 to 4 go: the primer's oldest tokens, never the start token
    assert len(slides) == (30 + p - 16 + 3) // 4


def test_a_primed_group_does_not_decode_with_the_bare_start() -> None:
    prefix = Prefix((299, 5, 6, 7))
    tokens = [np.random.default_rng(4).integers(0, 298, size=20).tolist()]
    payloads = encode_group(FakePredictor(), tokens, SETTINGS, prefix=prefix)
    assert decode_group(FakePredictor(), payloads, [20], SETTINGS) != tokens


# --- the ensemble's start ---------------------------------------------------------------------------


def test_the_start_state_is_the_replay_of_the_sequences_and_learning_goes_on_from_it() -> None:
    content = _content()
    d = Dictionary(write_dictionary(content))
    replayed = d.new_ensemble(SMALL, 24)
    by_hand = Ensemble(SMALL, content.vocab_size, 24)
    for sequence in content.sequences:
        by_hand.begin_group([len(sequence)])  # the replay learns without logits: no mixer, no bias
        history: list[int] = []
        for token in sequence:
            by_hand.ngram.update(history, token)  # type: ignore[union-attr]
            by_hand.match.update(0, history, token)  # type: ignore[union-attr]
            history.append(token)
    assert np.array_equal(replayed.ngram._check, by_hand.ngram._check)  # type: ignore[union-attr]
    assert np.array_equal(replayed.ngram._counts, by_hand.ngram._counts)  # type: ignore[union-attr]
    assert np.array_equal(replayed.match._buffer, by_hand.match._buffer) and replayed.match._end == 14  # type: ignore[union-attr]
    assert replayed.bias.bias.tolist() == [b / 65536 for b in content.bias]  # type: ignore[union-attr]
    assert replayed.mixer.weights == [list(row) for row in content.mixer]  # type: ignore[union-attr]
    # the state reaches the tables: after "1 2" the n-gram model has seen 3 follow, twice
    replayed.begin_group([4])
    logits = np.zeros((1, content.vocab_size), dtype=np.float32)
    replayed.frequencies([0], logits)
    replayed.update([0], [1])
    replayed.frequencies([0], logits)
    replayed.update([0], [2])
    freq = replayed.frequencies([0], logits)[0]
    assert int(np.argmax(freq)) == 3
    # and each segment gets its own copy
    again = d.new_ensemble(SMALL, 24)
    assert np.array_equal(again.ngram._counts, by_hand.ngram._counts)  # type: ignore[union-attr]


def test_other_ensemble_parameters_start_empty() -> None:
    d = Dictionary(write_dictionary(_content()))
    other = EnsembleParams(ngram_orders=3, ngram_table_bits=6, match_min_length=3, match_table_bits=6, history_bits=10)
    fresh = d.new_ensemble(other, 24)
    assert not fresh.ngram._check.any() and fresh.bias.bias.tolist() == [0.0] * 40  # type: ignore[union-attr]


def test_replay_is_what_load_start_leaves() -> None:
    content = _content()
    learned = replay(content)
    e = Ensemble(SMALL, content.vocab_size, 24)
    e.take(learned)
    assert e.match._end == sum(map(len, content.sequences))  # type: ignore[union-attr]


# --- training helpers ----------------------------------------------------------------------------------


def test_the_most_typical_sample_shares_the_most_trigrams() -> None:
    sequences = [(1, 2, 3, 4), (1, 2, 3, 5), (9, 8, 7, 6), (1, 2, 3, 4, 5)]
    assert typical_order(sequences)[0] in (0, 3) and typical_order(sequences)[-1] == 2


# --- with the model --------------------------------------------------------------------------------------

USERS = "alice bob carol dave erin frank grace".split()
ACTIONS = ["logged in", "logged out", "uploaded a file", "changed the password", "opened a ticket"]


def log_line(index: int) -> bytes:
    """One line of a small log family: a few tokens each, so the model's part stays quick."""
    rng = random.Random(index)
    return f"03-{rng.randint(1, 28):02d} {rng.choice(USERS)} {rng.choice(ACTIONS)}\n".encode()


FAST = dict(window=64, threads=1)


@pytest.fixture(scope="module")
def trained() -> Dictionary:
    training = learn([log_line(i) for i in range(24)], primer_bytes=96, window=64, threads=1)
    assert training.candidates["no primer"] > min(training.candidates.values())  # a primer was measured to help
    return Dictionary(training.data, "logs.nacrd")


@pytest.fixture(scope="module")
def primer_only() -> Dictionary:
    return Dictionary(nacrith.train([log_line(i) for i in range(24, 36)], primer_bytes=64, ensemble=False, window=64, threads=1))


def test_training_names_the_model_and_holds_the_samples(trained: Dictionary) -> None:
    engine = nacrith.resolve_model()
    assert trained.fingerprint == engine.fingerprint
    content = trained.content
    assert 0 < len(content.primer) <= 32 and content.ensemble == EnsembleParams() and len(content.sequences) == 24


def test_a_primed_archive_decodes_exactly_and_only_with_its_dictionary(trained: Dictionary, primer_only: Dictionary) -> None:
    lines = b"".join(log_line(i) for i in range(100, 104))
    plain = nacrith.compress(lines, **FAST)
    archive = nacrith.compress(lines, dictionary=trained, **FAST)
    assert nacrith.decompress(archive, dictionary=trained, threads=1) == lines
    assert nacrith.inspect(archive).frames[0].params.dictionary == trained.identity
    assert len(archive) - 10 < len(plain)  # the key costs 10 bytes; the primer and state save more
    with pytest.raises(ModelMismatchError, match=f"{trained.identity:014x}, and none was given"):
        nacrith.decompress(archive, threads=1)
    with pytest.raises(ModelMismatchError, match=f"{trained.identity:014x}, not with the one given, {primer_only.identity:014x}"):
        nacrith.decompress(archive, dictionary=primer_only, threads=1)
    assert nacrith.decompress(plain, dictionary=trained, threads=1) == lines  # not needed, not used


def test_lanes_that_slide_past_the_primer_and_a_primer_alone_decode_exactly(trained: Dictionary, primer_only: Dictionary) -> None:
    lines = b"".join(log_line(i) for i in range(200, 240))  # about 400 tokens: several lanes, each sliding
    for dictionary in (trained, primer_only):
        archive = nacrith.compress(lines, lanes=2, chunk_bytes=256, dictionary=dictionary, **FAST)
        frame = nacrith.inspect(archive).frames[0]
        assert frame.layout != "one chunk" and len([c for c in frame.chunks if c.neural]) > 2
        assert nacrith.decompress(archive, dictionary=dictionary, threads=1) == lines


def test_a_dictionary_loads_from_a_path_in_every_entry_point(trained: Dictionary, tmp_path: Path) -> None:
    path = tmp_path / "logs.nacrd"
    path.write_bytes(trained.data)
    line = log_line(300)
    archive = nacrith.compress(line, dictionary=str(path), **FAST)
    with nacrith.open(tmp_path / "a.nacr", "wb", dictionary=path, **FAST) as f:
        f.write(line)
    assert (tmp_path / "a.nacr").read_bytes() == archive
    with nacrith.open(tmp_path / "a.nacr", "rb", dictionary=path, threads=1) as f:
        assert f.read() == line
    d = nacrith.NacrithDecompressor(dictionary=path, threads=1)
    assert d.decompress(archive) == line and d.eof


def test_the_cli_trains_compresses_and_decompresses_with_a_dictionary(tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    samples.mkdir()
    for i in range(12):
        (samples / f"{i:02d}.log").write_bytes(log_line(400 + i))
    runner = CliRunner()
    out = runner.invoke(cli, ["train", str(samples), "-o", str(tmp_path / "d.nacrd"), "--primer-bytes", "64", "--window", "64", "-T", "1"])
    assert out.exit_code == 0, out.output
    assert "d.nacrd" in out.stderr and "12 samples" in out.stderr
    again = runner.invoke(cli, ["train", str(samples), "-o", str(tmp_path / "d.nacrd"), "--window", "64"])
    assert again.exit_code == 1 and "already exists" in again.stderr
    records = []
    for i in range(3):
        path = tmp_path / f"r{i}.log"
        path.write_bytes(log_line(500 + i))
        records.append(str(path))
    d = ["-D", str(tmp_path / "d.nacrd")]
    assert runner.invoke(cli, ["compress", *d, "-T", "1", "--window", "64", *records]).exit_code == 0
    archives = [r + ".nacr" for r in records]
    missing = runner.invoke(cli, ["test", "-T", "1", archives[0]])
    assert missing.exit_code == 1 and "give it with -D" in missing.stderr
    assert runner.invoke(cli, ["test", *d, "-T", "1", *archives]).exit_code == 0
    for r in records:
        Path(r).unlink()
    assert runner.invoke(cli, ["decompress", *d, "-T", "1", *archives]).exit_code == 0
    assert [Path(r).read_bytes() for r in records] == [log_line(500 + i) for i in range(3)]
    info = runner.invoke(cli, ["info", archives[0]])
    assert "dictionary" in info.output and f"{Dictionary.load(tmp_path / 'd.nacrd').identity:014x}" in info.output
    bad = tmp_path / "bad.nacrd"
    bad.write_bytes(b"\x8eNCD\x01" + bytes(30))
    broken = runner.invoke(cli, ["decompress", "-D", str(bad), "-c", archives[0]])
    assert broken.exit_code == 1 and "checksum" in broken.stderr


def test_a_primed_archive_decodes_in_another_process(trained: Dictionary, tmp_path: Path) -> None:
    """The primer's cache is evaluated again there, in a new context: it must be the encoder's, bit for bit."""
    import subprocess
    import sys

    lines = b"".join(log_line(i) for i in range(600, 616))
    (tmp_path / "logs.nacrd").write_bytes(trained.data)
    archive = tmp_path / "logs.txt.nacr"
    archive.write_bytes(nacrith.compress(lines, lanes=2, chunk_bytes=256, dictionary=trained, **FAST))
    command = [sys.executable, "-m", "nacrith", "decompress", "-T", "1", "-D", str(tmp_path / "logs.nacrd"), "-c", str(archive)]
    done = subprocess.run(command, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == lines


@pytest.mark.slow  # about 90 s: two worker processes each load the model and the dictionary
def test_workers_code_and_decode_with_a_dictionary_as_one_process_does(trained: Dictionary, tmp_path: Path) -> None:
    """The dictionary travels to each worker as its bytes; every segment starts from the same state."""
    from nacrith.workers.local import WorkerPool

    lines = b"".join(log_line(i) for i in range(1000, 1200))[:5000]  # two segments of at most 4 KiB
    single = nacrith.compress(lines, lanes=4, segment_bytes=4096, dictionary=trained, **FAST)
    assert len(nacrith.inspect(single).frames[0].segments) == 2
    with WorkerPool(2, threads=1) as pool:
        assert nacrith.compress(lines, lanes=4, segment_bytes=4096, dictionary=trained, window=64, workers=pool) == single
        assert nacrith.decompress(single, dictionary=trained, workers=pool) == lines
        with pytest.raises(ModelMismatchError, match="none was given"):
            nacrith.decompress(single, workers=pool)
    path = tmp_path / "logs.nacr"
    path.write_bytes(single)
    with nacrith.open(path, dictionary=trained, threads=1) as f:  # random access, segment by segment
        f.seek(4500)
        assert f.read(100) == lines[4500:4600]
