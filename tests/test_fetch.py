"""corpora/fetch_enwik8.py: finding, verifying and downloading enwik8, without ever touching the network.

The expected sizes and checksums are swapped for those of small local files, and the
opener for one that serves a local zip or fails as an offline machine would.
"""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import urllib.error
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "corpora" / "fetch_enwik8.py"

CONTENT = b"<mediawiki>a small stand-in for enwik8</mediawiki>\n" * 20


@pytest.fixture
def fetch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The script imported on its own, pointed at empty folders, expecting CONTENT as enwik8."""
    spec = importlib.util.spec_from_file_location("fetch_enwik8_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    monkeypatch.delenv(module.CORPORA_ENV, raising=False)
    monkeypatch.setattr(module, "HERE", tmp_path / "checkout" / "corpora")
    monkeypatch.setattr(module, "SHARED", tmp_path / "shared" / "corpora")
    monkeypatch.setattr(module, "ENWIK8_BYTES", len(CONTENT))
    monkeypatch.setattr(module, "ENWIK8_SHA256", _sha256(CONTENT))

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("a test tried to download")

    monkeypatch.setattr(module, "urlopen", no_network)
    return module


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _zip(member: bytes, name: str = "enwik8") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, member)
    return buffer.getvalue()


def test_published_checksums_are_well_formed(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("fetch_enwik8_constants", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)  # importing does nothing but define things
    assert (module.ZIP_BYTES, module.ENWIK8_BYTES, module.PREFIX_BYTES) == (36_445_475, 100_000_000, 4_154_399)
    for digest in (module.ZIP_SHA256, module.ENWIK8_SHA256, module.PREFIX_SHA256):
        assert len(digest) == 64 and int(digest, 16) >= 0


def test_finds_and_verifies_a_local_file(fetch: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "corpora"
    root.mkdir()
    (root / "enwik8").write_bytes(CONTENT)
    monkeypatch.setenv(fetch.CORPORA_ENV, str(root))
    found = fetch.locate(download=False)
    assert (found.path, found.full, found.note) == (root / "enwik8", True, "")


def test_a_local_file_with_the_wrong_checksum_is_refused(fetch: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "corpora"
    (root / "enwik8").mkdir(parents=True)
    (root / "enwik8" / "enwik8").write_bytes(CONTENT[:-1] + b"?")  # the same size, other bytes
    monkeypatch.setenv(fetch.CORPORA_ENV, str(root))
    with pytest.raises(fetch.FetchError, match="sha256"):
        fetch.locate(download=False)


def test_the_prefix_is_used_and_named_as_such(fetch: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = fetch.SHARED / "enwik8" / fetch.PREFIX_NAME
    prefix.parent.mkdir(parents=True)
    prefix.write_bytes(CONTENT[:100])
    monkeypatch.setattr(fetch, "PREFIX_BYTES", 100)
    monkeypatch.setattr(fetch, "PREFIX_SHA256", _sha256(CONTENT[:100]))
    found = fetch.locate(download=False)
    assert found.path == prefix and not found.full
    assert found.note.startswith(fetch.PREFIX_NAME) and "not the full" in found.note


def test_download_verified_and_unzipped(fetch: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = _zip(CONTENT)
    monkeypatch.setattr(fetch, "ZIP_BYTES", len(archive))
    monkeypatch.setattr(fetch, "ZIP_SHA256", _sha256(archive))
    served = []

    def local_opener(url: str, timeout: float) -> io.BytesIO:
        served.append(url)
        return io.BytesIO(archive)

    monkeypatch.setattr(fetch, "urlopen", local_opener)
    found = fetch.locate()
    assert served == [fetch.URL]
    assert found.full and found.path == fetch.HERE / "enwik8" and found.path.read_bytes() == CONTENT
    assert sorted(p.name for p in fetch.HERE.iterdir()) == ["enwik8"]  # no .part files left
    assert fetch.locate(download=False).path == found.path  # found next time, not fetched again


def test_a_download_with_the_wrong_content_is_not_kept(fetch: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    archive = _zip(CONTENT[:-1] + b"!")
    monkeypatch.setattr(fetch, "urlopen", lambda url, timeout: io.BytesIO(archive))
    with pytest.raises(fetch.FetchError, match="the enwik8 in the download is wrong"):
        fetch.locate()
    assert "warning: enwik8.zip is" in capsys.readouterr().err  # the zip's own checksum did not match either
    assert list(fetch.HERE.iterdir()) == []


def test_offline_says_where_to_put_the_file(fetch: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def offline(url: str, timeout: float) -> None:
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    monkeypatch.setattr(fetch, "urlopen", offline)
    assert fetch.main([]) == 1
    err = capsys.readouterr().err
    assert "cannot download http://mattmahoney.net/dc/enwik8.zip" in err and "Network is unreachable" in err
    assert str(fetch.HERE / "enwik8") in err and "NACRITH_CORPORA" in err and fetch.ENWIK8_SHA256 in err
    assert list(fetch.HERE.iterdir()) == []  # no partial download left


def test_no_download_flag(fetch: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert fetch.main(["--no-download"]) == 1
    assert "enwik8 not found" in capsys.readouterr().err


def test_runs_as_a_script() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--no-download" in result.stdout
