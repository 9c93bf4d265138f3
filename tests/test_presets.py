"""Model presets: joining split part packages into one verified GGUF in the cache, and resolving preset names.

Most tests build fake part packages on sys.path whose ``__init__`` raises, which also proves
the parts are found without being imported.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

import pytest

from nacrith.errors import ModelNotFoundError
from nacrith.models import presets, registry

PARTS = [b"GGUF" + bytes(range(256)) * 3, b"second part\n" * 50, b"", b"\x00\xfftail"]
JOINED = b"".join(PARTS)


def _fake_preset(root: Path, tag: str, parts: list[bytes] = PARTS, sha256: str | None = None) -> presets.Preset:
    """A preset whose parts are packages ``nacrith_fake_<tag>_partN`` under ``root`` (put on sys.path)."""
    layout = []
    for index, data in enumerate(parts):
        module = f"nacrith_fake_{tag}_part{index + 1}"
        package = root / module
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("raise RuntimeError('a part package must not be imported')\n")
        (package / "data" / f"fake.gguf.part{index:02d}").write_bytes(data)
        layout.append(presets.Part(module, module.replace("_", "-"), f"data/fake.gguf.part{index:02d}"))
    return presets.Preset(
        name=f"fake-{tag}",
        file_name=f"fake-{tag}.gguf",
        parts=tuple(layout),
        size=len(JOINED),
        sha256=sha256 or hashlib.sha256(JOINED).hexdigest(),
        extra="fake",
    )


@pytest.fixture
def packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    return root


def test_assembles_the_joined_bytes_once_and_reuses_them(packages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    preset = _fake_preset(packages, "ok")
    models = tmp_path / "cache" / "models"
    path = presets.preset_path(preset, models)
    assert path == models / preset.file_name
    assert path.read_bytes() == JOINED
    assert sorted(p.name for p in models.iterdir()) == [preset.file_name]  # no temp file left behind

    def fail(*args: object) -> Path:
        raise AssertionError("reassembled a cached model")

    monkeypatch.setattr(presets, "_assemble", fail)
    stat = path.stat()
    assert presets.preset_path(preset, models) == path
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == (stat.st_mtime_ns, stat.st_ino)


def test_cached_file_of_the_wrong_size_is_reassembled(packages: Path, tmp_path: Path) -> None:
    preset = _fake_preset(packages, "resize")
    models = tmp_path / "models"
    models.mkdir()
    (models / preset.file_name).write_bytes(JOINED[:10])  # e.g. an older, interrupted tool's leftover
    assert presets.preset_path(preset, models).read_bytes() == JOINED


def test_hash_mismatch_raises_and_leaves_no_file(packages: Path, tmp_path: Path) -> None:
    preset = _fake_preset(packages, "bad", sha256="0" * 64)
    models = tmp_path / "models"
    with pytest.raises(ModelNotFoundError, match=r"damaged.*reinstall") as info:
        presets.preset_path(preset, models)
    assert preset.parts[0].distribution in str(info.value)
    assert list(models.iterdir()) == []


def test_missing_package_names_the_extra_and_the_missing_parts(packages: Path, tmp_path: Path) -> None:
    preset = _fake_preset(packages, "gone")
    missing = preset.parts[2]
    shutil.rmtree(packages / missing.module)
    importlib.invalidate_caches()  # the path finder caches folder listings
    with pytest.raises(ModelNotFoundError, match=r'pip install "nacrith\[fake\]"') as info:
        presets.preset_path(preset, tmp_path / "models")
    assert missing.distribution in str(info.value)
    assert preset.parts[0].distribution not in str(info.value)
    assert not (tmp_path / "models" / preset.file_name).exists()


def test_real_preset_missing_names_the_gemma_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, package=None: None)
    with pytest.raises(ModelNotFoundError, match=r'pip install "nacrith\[gemma\]"'):
        presets.preset_path(presets.GEMMA3_270M, tmp_path / "models")


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(registry.MODEL_ENV, raising=False)
    return tmp_path / "xdg" / "nacrith" / "models"


def test_preset_name_resolves_through_resolve_model_path(packages: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    preset = _fake_preset(packages, "named")
    monkeypatch.setitem(presets.PRESETS, preset.name, preset)
    assert registry.resolve_model_path(preset.name) == cache_home / preset.file_name
    assert (cache_home / preset.file_name).read_bytes() == JOINED
    monkeypatch.setenv(registry.MODEL_ENV, preset.name)
    assert registry.resolve_model_path() == cache_home / preset.file_name


def test_a_path_is_still_a_path_and_an_unknown_name_lists_the_presets(tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "my.gguf"
    model.write_bytes(b"GGUF")
    assert registry.resolve_model_path(model) == model
    assert registry.resolve_model_path(str(model)) == model
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gemma3-270m").write_bytes(b"GGUF")
    assert registry.resolve_model_path("./gemma3-270m") == Path("gemma3-270m")
    with pytest.raises(ModelNotFoundError, match=r"model file not found: nope\.gguf \(known presets: .*gemma3-270m"):
        registry.resolve_model_path("nope.gguf")


def test_known_models_names_the_gemma_fingerprint() -> None:
    gemma = presets.GEMMA3_270M
    assert registry.known_name(bytes.fromhex(gemma.sha256)[:8]) == gemma.file_name == "gemma-3-270m-q4_k_m.gguf"


def _real_parts_installed() -> bool:
    return all(importlib.util.find_spec(part.module) is not None for part in presets.GEMMA3_270M.parts)


@pytest.mark.skipif(not _real_parts_installed(), reason='the gemma part packages are not installed (pip install "nacrith[gemma]")')
def test_real_parts_join_to_the_pinned_gguf(tmp_path: Path) -> None:
    gemma = presets.GEMMA3_270M
    path = presets.preset_path(gemma, tmp_path / "models")
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            assert f.read(4) == b"GGUF"
            f.seek(0)
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        assert digest.hexdigest() == gemma.sha256
        assert path.stat().st_size == gemma.size
    finally:
        path.unlink()  # 253 MB need not outlive the test
