"""The torch backend (``nacrith[torch]``): the same GGUF model in torch, and dynamic evaluation.

Most tests run a tiny transformer of random weights in both architectures (llama's and
gemma3's), through the real evaluator: the slide's K-shift, blocks against lockstep steps,
the thread count, adaptation's determinism. The tests that load SmolLM2 cross-check torch's
logits against llama.cpp's, and code an archive with torch whose decoding runs in a fresh
process. CI installs the extra; ``NACRITH_REQUIRE_TORCH=1`` (set by .ci/run) makes a missing
torch a failure rather than a skip.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

if os.environ.get("NACRITH_REQUIRE_TORCH"):
    import torch  # noqa: F401 - CI must run these tests, not skip them
else:
    torch = pytest.importorskip("torch", reason='the torch extra is not installed: pip install "nacrith[torch]"')
    pytest.importorskip("gguf", reason='the torch extra is not installed: pip install "nacrith[torch]"')

import nacrith
from nacrith.cli import cli
from nacrith.container import BACKEND_TORCH_CPU, BACKEND_TORCH_CUDA, CodingParams
from nacrith.container.fields import params_from_pairs, params_to_pairs
from nacrith.dictionary import Dictionary, DictionaryContent, write_dictionary
from nacrith.engine import Engine
from nacrith.errors import CorruptArchiveError, ModelMismatchError, NacrithError
from nacrith.models.gguf_weights import Config
from nacrith.models.torch_lanes import (
    TorchEvaluator,
    TorchModel,
    parse_device,
    torch_build_id,
)
from nacrith.models.torch_lm import Transformer
from nacrith.neural.adapt import TARGET_BIAS, TARGET_NORM, AdaptParams
from nacrith.neural.schedule import Prefix, counted, lockstep_steps
from nacrith.neural.sequence import logit_blocks

ALICE = b"""Alice was beginning to get very tired of sitting by her sister on the bank, and of having nothing to do:
once or twice she had peeped into the book her sister was reading, but it had no pictures or conversations in it,
'and what is the use of a book,' thought Alice 'without pictures or conversations?'
So she was considering in her own mind (as well as she could, for the hot day made her feel very sleepy and stupid),
whether the pleasure of making a daisy-chain would be worth the trouble of getting up and picking the daisies,
when suddenly a White Rabbit with pink eyes ran close by her.
"""


# --- a tiny model of random weights ------------------------------------------------------------------------


def tiny_weights(gemma: bool, vocab: int = 97, layers: int = 3, seed: int = 0) -> tuple[Config, dict[str, np.ndarray]]:
    """A model of each architecture's shape, small: 4 query heads sharing 2 key heads of 8, gemma's local layers
    seeing 6 positions."""
    d, ff, hd = 32, 48, 8
    config = Config(
        arch="gemma3" if gemma else "llama", n_layer=layers, d_model=d, n_head=4, n_kv_head=2, head_dim=hd, d_ff=ff,
        vocab_size=vocab, norm_eps=1e-6, rope_base=1e6 if gemma else 1e4, rope_base_local=1e4, rope_neox=gemma,
        swa_window=6 if gemma else 0, swa_pattern=3 if gemma else 1, embed_scale=math.sqrt(d) if gemma else 1.0,
        attn_scale=1 / math.sqrt(hd), gemma=gemma,
    )
    rng = np.random.default_rng(seed)
    shapes = {"attn_norm": (d,), "attn_q": (4 * hd, d), "attn_k": (2 * hd, d), "attn_v": (2 * hd, d), "attn_output": (d, 4 * hd),
              "ffn_norm": (d,), "ffn_gate": (ff, d), "ffn_up": (ff, d), "ffn_down": (d, ff)}
    if gemma:
        shapes |= {"attn_q_norm": (hd,), "attn_k_norm": (hd,), "post_attention_norm": (d,), "post_ffw_norm": (d,)}
    weights = {"token_embd.weight": rng.standard_normal((vocab, d)).astype(np.float32), "output_norm.weight": np.ones(d, np.float32)}
    weights["output.weight"] = weights["token_embd.weight"]
    for i in range(layers):
        for name, shape in shapes.items():
            value = 1 + 0.1 * rng.standard_normal(shape) if len(shape) == 1 else rng.standard_normal(shape) / math.sqrt(shape[-1])
            weights[f"blk.{i}.{name}.weight"] = value.astype(np.float32)
    return config, weights


class TinyModel:
    """What a TorchEvaluator uses of a TorchModel: the network, its config and its device."""

    def __init__(self, gemma: bool, device: str = "cpu") -> None:
        self.config, weights = tiny_weights(gemma)
        self.device = torch.device(device)
        self.threads = torch.get_num_threads()
        """The threads torch runs on; an evaluator sets them before each step, as a TorchModel's."""
        self.net = Transformer(self.config, weights, self.device)


ARCHS = pytest.mark.parametrize("gemma", [False, True], ids=["llama", "gemma3"])


def tokens(n: int, seed: int = 1) -> list[int]:
    return [int(t) for t in np.random.default_rng(seed).integers(0, 96, n)]


@ARCHS
def test_a_slide_turns_the_kept_keys_to_their_new_positions(gemma: bool) -> None:
    """After a slide, layer 0's cache holds what evaluating the kept tokens at their new positions writes (layer 0's
    keys depend on the token and its position alone: later layers' also on the context the slide forgot)."""
    model, seq = TinyModel(gemma), tokens(12)
    slid = TorchEvaluator(model, 1, 16)
    slid.step([0] * 12, seq, list(range(12)))
    slid.slide(0, 5, 12)
    fresh = TorchEvaluator(model, 1, 16)
    fresh.step([0] * 7, [seq[0], *seq[6:12]], list(range(7)))
    for cache in ("k", "v"):
        a, b = getattr(slid._cache, cache)[0][0, :, :7], getattr(fresh._cache, cache)[0][0, :, :7]
        assert torch.allclose(a, b, atol=1e-5), (cache, (a - b).abs().max())


@ARCHS
def test_one_lane_in_one_block_or_token_by_token(gemma: bool) -> None:
    model, seq = TinyModel(gemma), tokens(20)
    block = TorchEvaluator(model, 2, 32).step([1] * 20, seq, list(range(20))).copy()
    stepped = TorchEvaluator(model, 2, 32)
    one = np.stack([stepped.step([1], [t], [p])[0].copy() for p, t in enumerate(seq)])
    assert np.abs(block - one).max() < 1e-4


def test_lanes_are_independent_and_keep_their_slots_as_others_leave() -> None:
    """A lane's logits are those of its own tokens, whichever lanes step beside it (up to rounding), and lanes that
    leave the batch hand their slots to the ones that stay."""
    model = TinyModel(False)
    seqs = [tokens(12 - 3 * i, seed=i) for i in range(3)]
    together = TorchEvaluator(model, 3, 32)
    rows: dict[int, list[np.ndarray]] = {0: [], 1: [], 2: []}
    for step in lockstep_steps(together, 3, counted([len(s) for s in seqs]), 32, 24):
        logits = together.step(step.lanes, step.fed(seqs, 96), step.positions)
        for row, lane in enumerate(step.lanes):
            rows[lane].append(logits[row].copy())
    for lane, seq in enumerate(seqs):
        alone = TorchEvaluator(model, 1, 32).step([0] * len(seq), [96, *seq[:-1]], list(range(len(seq))))
        assert np.abs(np.stack(rows[lane]) - alone).max() < 1e-4, lane


@ARCHS
def test_the_thread_count_does_not_change_a_bit(gemma: bool) -> None:
    """With MKL in strict mode, the products of these shapes give the same bits on 1 and 2 threads (without it, or with
    scaled_dot_product_attention, they do not). Narrower ones still can, so archives record the thread count anyway."""
    model = TinyModel(gemma)
    threads = torch.get_num_threads()
    outputs = []
    try:
        for n in (1, 2):
            model.threads = n
            evaluator = TorchEvaluator(model, 8, 32)
            block = evaluator.step([0] * 16, tokens(16), list(range(16))).copy()
            steps = [evaluator.step(list(range(1, 8)), tokens(7, seed=s), [s] * 7).copy() for s in range(4)]
            outputs.append((block, steps))
    finally:
        torch.set_num_threads(threads)
    assert np.array_equal(outputs[0][0], outputs[1][0])
    assert all(np.array_equal(a, b) for a, b in zip(outputs[0][1], outputs[1][1]))


def _adapting_run(model: TinyModel, adapt: AdaptParams | None, lanes: int = 3, length: int = 30) -> tuple[np.ndarray, TorchEvaluator]:
    """Lockstep steps over lanes that repeat a short pattern, slides included; every step's logits, concatenated."""
    seqs = [([5, 17, 33, 8, 61, 2] * 10)[i : i + length - 4 * i] for i in range(lanes)]
    evaluator = TorchEvaluator(model, lanes, 16, adapt)
    evaluator.reset()
    out = [evaluator.step(s.lanes, s.fed(seqs, 96), s.positions).copy() for s in lockstep_steps(evaluator, lanes, counted([len(s) for s in seqs]), 16, 12)]
    return np.concatenate(out), evaluator


@ARCHS
def test_adaptation_is_deterministic_and_learns(gemma: bool) -> None:
    model = TinyModel(gemma)
    adapt = AdaptParams(interval=3, rate=20972, layers=1, rank=2)  # rate about 0.02: a tiny model learns fast
    first, evaluator = _adapting_run(model, adapt)
    again, _ = _adapting_run(model, adapt)
    static, _ = _adapting_run(model, None)
    assert np.array_equal(first, again), "the same steps learn the same"
    assert evaluator._adapt.adam.steps == 9
    rows = 3 * 3  # the first interval's steps predict before any update: as the static model (up to rounding)
    assert np.abs(first[:rows] - static[:rows]).max() < 1e-5 and np.abs(first[rows:] - static[rows:]).max() > 0.01
    evaluator.reset()  # a new group forgets what the last one learned
    assert evaluator._adapt.adam.steps == 0 and all(not up.detach().any() for a in evaluator._adapt.adapters.values() for _, up in a.values())


def test_adaptation_lowers_the_cost_of_a_repeated_text() -> None:
    model = TinyModel(False)
    seq = ([5, 17, 33, 8, 61, 2, 90, 41] * 16)[:120]
    costs = {}
    for name, adapt in (("static", None), ("adapt", AdaptParams(interval=4, rate=52429, layers=0, targets=TARGET_NORM | TARGET_BIAS))):
        evaluator = TorchEvaluator(model, 1, 128, adapt)
        logits = np.concatenate([evaluator.step([0], [t], [p]).copy() for p, t in enumerate([96, *seq[:-1]])]).astype(np.float64)
        top = logits.max(1, keepdims=True)
        log_z = np.log(np.exp(logits - top).sum(1)) + top[:, 0]
        costs[name] = float((log_z - logits[np.arange(len(seq)), seq]).sum())
    assert costs["adapt"] < 0.9 * costs["static"], costs


# --- settings, headers and devices ---------------------------------------------------------------------------


def test_backends_and_adaptation_round_trip_through_a_header() -> None:
    base = CodingParams(24, 8, 1024, 768, 65536, 1, None, 1 << 20)
    for backend in (BACKEND_TORCH_CPU, BACKEND_TORCH_CUDA):
        for adapt in (None, AdaptParams(), AdaptParams(interval=64, rate=4096, layers=0, rank=1, targets=TARGET_BIAS)):
            params = CodingParams(24, 8, 1024, 768, 65536, 1, None, 1 << 20, backend, adapt=adapt)
            params.validate()
            assert params_from_pairs(params_to_pairs(params, 1), 1) == params
    assert dict(params_to_pairs(CodingParams(24, 8, 1024, 768, 65536, 1, None, 1 << 20, 2, adapt=AdaptParams()), 1)) == {8: 0, 19: 2, 21: 1}
    with pytest.raises(CorruptArchiveError, match="torch backend only"):
        CodingParams(24, 8, 1024, 768, 65536, 1, None, 1 << 20, 0, adapt=AdaptParams()).validate()
    with pytest.raises(CorruptArchiveError, match="adaptation parameters given with adaptation off"):
        params_from_pairs([(8, 0), (19, 2), (22, 4)], 1)
    with pytest.raises(CorruptArchiveError, match="interval 800 over the slide keep 768"):
        params_from_pairs([(19, 2), (21, 1), (22, 800)], 1)
    assert base.adapt is None


def test_adaptation_needs_torch_and_sane_settings() -> None:
    with pytest.raises(ValueError, match="backend='torch'"):
        nacrith.NacrithCompressor(adapt=True)
    with pytest.raises(ValueError, match="over the slide keep"):
        nacrith.NacrithCompressor(backend="torch", adapt=AdaptParams(interval=100), window=64)
    with pytest.raises(ValueError, match="adapters need layers"):
        nacrith.NacrithCompressor(backend="torch", adapt=AdaptParams(layers=0))


def test_dictionaries_and_equal_info_windows_are_llama_cpp_s_for_now() -> None:
    """The torch evaluator takes the llama.cpp evaluator's call (a group's context, a bare prefix) but has no sequence
    for a dictionary's primer or equal-info windows' base yet: it refuses them, and so do the API and the command line."""
    model = TinyModel(False)
    evaluator = TorchModel.evaluator(model, 2, 256, 4, None, Prefix.bare(96))  # type: ignore[arg-type]
    assert evaluator.context == 256 and evaluator._cache.k[0].shape[2] == 256
    with pytest.raises(NacrithError, match="does not support dictionaries"):
        TorchModel.evaluator(model, 2, 256, 4, None, Prefix((96, 1, 2)))  # type: ignore[arg-type]
    with pytest.raises(NacrithError, match="does not support equal-info windows"):
        TorchModel.evaluator(model, 2, 256, base=1)  # type: ignore[arg-type]
    dictionary = Dictionary(write_dictionary(DictionaryContent(b"\x01" * 8, 40, (3, 1, 4, 1, 5))))
    with pytest.raises(ValueError, match="torch backend does not support dictionaries"):
        nacrith.NacrithCompressor(backend="torch", dictionary=dictionary)
    with pytest.raises(ValueError, match="torch backend does not support equal-info windows"):
        nacrith.NacrithCompressor(backend="torch", equal_info=128)
    result = CliRunner().invoke(cli, ["compress", "--backend", "torch", "--equal-info", "128", "-c", "-"], input=b"x")
    assert result.exit_code == 2 and "equal-info" in result.output


def test_the_device_is_a_parameter() -> None:
    """Where CUDA is, ``device='cuda:N'`` runs there (backend 3); here the CPU path runs, and asking for CUDA without
    one says so. The device decides the backend an archive records."""
    assert Engine(backend="torch").backend == Engine(backend="torch", device="cpu").backend == BACKEND_TORCH_CPU
    assert Engine(backend="torch", device="cuda:1").backend == BACKEND_TORCH_CUDA
    with pytest.raises(ValueError, match="device"):
        Engine(backend="torch", device="tpu")
    with pytest.raises(ValueError, match="device"):
        Engine(device="cpu")  # llama.cpp's device is --gpu
    assert parse_device("cpu") == torch.device("cpu")
    assert torch_build_id(torch.device("cpu")).startswith(f"torch {torch.__version__} cpu float32 ")
    if not torch.cuda.is_available():
        with pytest.raises(NacrithError, match="no CUDA device"):
            parse_device("cuda")
    model = TinyModel(False, device=str(parse_device("cpu")))
    assert model.net.embedding.device.type == "cpu" and TorchEvaluator(model, 1, 8)._cache.k[0].device.type == "cpu"


# --- the real model --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm() -> Engine:
    return Engine(backend="torch")


LLAMA_LOGITS = """
import sys, numpy as np
from nacrith.engine import Engine
from nacrith.neural.sequence import logit_blocks
model = Engine().model
tokens = model.tokenize(open(sys.argv[1], "rb").read())
logits = np.concatenate([block for _, block in logit_blocks(model, tokens, 1024, 768, None)])
np.savez(sys.argv[2], tokens=np.array(tokens), logits=logits)
"""
"""llama.cpp's logits of a text, read as the ideal code length reads them (scripts/torch_measure.py too), in a process
of its own: a step of 138 tokens in a 256-token context crashed llama.cpp (a segmentation fault) three times under
pytest, after torch and in a fresh process alike, and never in a plain script; not understood yet."""


def test_torch_and_llama_cpp_agree_on_smollm2(smollm: Engine, tmp_path) -> None:
    """The same tokens through both backends: logits within a few tenths on average (llama.cpp multiplies 4-bit weights
    by 8-bit activations and keeps a float16 cache), ideal code lengths within 1% (BENCHMARKS.md, "The torch backend")."""
    (tmp_path / "text").write_bytes(ALICE)
    subprocess.run([sys.executable, "-c", LLAMA_LOGITS, str(tmp_path / "text"), str(tmp_path / "llama.npz")], check=True, timeout=300)
    saved = np.load(tmp_path / "llama.npz")
    tokens_, reference = [int(t) for t in saved["tokens"]], saved["logits"]
    assert smollm.model.tokenize(ALICE) == tokens_ and len(tokens_) < 256
    ours = np.concatenate([block for _, block in logit_blocks(smollm.model, tokens_, 1024, 768, None)])

    def bits(logits: np.ndarray) -> float:
        z = logits.astype(np.float64)
        top = z.max(1, keepdims=True)
        return float(((np.log(np.exp(z - top).sum(1)) + top[:, 0] - z[np.arange(len(tokens_)), tokens_]) / math.log(2)).sum())

    difference = np.abs(reference - ours)
    print(f"largest logit difference {difference.max():.3f}, mean {difference.mean():.3f}; bits llama.cpp {bits(reference):.1f}, torch {bits(ours):.1f}")
    assert difference.mean() < 0.5 and difference.max() < 4
    assert abs(bits(ours) / bits(reference) - 1) < 0.01


def test_an_adapting_torch_archive_decodes_in_a_fresh_process(smollm: Engine, tmp_path) -> None:
    """Encoder here, decoder in another process: the same logits and the same learning, bit for bit. Another backend
    is refused, naming both."""
    data = ALICE * 2
    archive = nacrith.compress(data, backend="torch", adapt=AdaptParams(interval=8), lanes=2, chunk_bytes=1024)
    (tmp_path / "a.nacr").write_bytes(archive)
    script = "import sys, nacrith; sys.stdout.buffer.write(nacrith.decompress(open(sys.argv[1], 'rb').read()))"
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "a.nacr")], capture_output=True, check=True, timeout=300)
    assert result.stdout == data
    with pytest.raises(ModelMismatchError, match=r"torch CPU float32.*llama\.cpp CPU"):
        nacrith.decompress(archive, backend="llama")
