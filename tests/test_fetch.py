"""nacrith.bench.enwik8: finding, verifying and downloading enwik8, without ever touching the network.

The expected sizes and checksums are swapped for those of small local files, the user's
cache for a temporary folder, and the opener for one that serves a local zip or fails as
an offline machine would.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import urllib.error
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from nacrith.bench import enwik8

CONTENT = b"<mediawiki>a small stand-in for enwik8</mediawiki>\n" * 20


@pytest.fixture
def fetch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The module, with no $NACRITH_CORPORA, an empty cache, and CONTENT as enwik8."""
    monkeypatch.delenv(enwik8.CORPORA_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(enwik8, "ENWIK8_BYTES", len(CONTENT))
    monkeypatch.setattr(enwik8, "ENWIK8_SHA256", _sha256(CONTENT))

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("a test tried to download")

    monkeypatch.setattr(enwik8, "urlopen", no_network)
    return enwik8


@pytest.fixture
def cache(tmp_path: Path, fetch: ModuleType) -> Path:
    """Where a download lands: $XDG_CACHE_HOME/nacrith/corpora."""
    folder = tmp_path / "cache" / "nacrith" / "corpora"
    assert fetch.default_destination() == folder / "enwik8"
    return folder


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _zip(member: bytes, name: str = "enwik8") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, member)
    return buffer.getvalue()


def test_published_checksums_are_well_formed() -> None:
    assert (enwik8.ZIP_BYTES, enwik8.ENWIK8_BYTES, enwik8.PREFIX_BYTES) == (36_445_475, 100_000_000, 4_154_399)
    for digest in (enwik8.ZIP_SHA256, enwik8.ENWIK8_SHA256, enwik8.PREFIX_SHA256):
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


def test_the_prefix_is_used_and_named_as_such(fetch: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = tmp_path / "corpora" / "enwik8" / fetch.PREFIX_NAME
    prefix.parent.mkdir(parents=True)
    prefix.write_bytes(CONTENT[:100])
    monkeypatch.setenv(fetch.CORPORA_ENV, str(tmp_path / "corpora"))
    monkeypatch.setattr(fetch, "PREFIX_BYTES", 100)
    monkeypatch.setattr(fetch, "PREFIX_SHA256", _sha256(CONTENT[:100]))
    found = fetch.locate(download=False)
    assert found.path == prefix and not found.full
    assert found.note.startswith(fetch.PREFIX_NAME) and "not the full" in found.note
    (prefix.parent / "enwik8").write_bytes(CONTENT)  # the full file beside it wins
    assert fetch.locate(download=False) == fetch.Found(prefix.parent / "enwik8", True)


def test_the_cache_is_looked_in_after_nacrith_corpora(fetch: ModuleType, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache.mkdir(parents=True)
    (cache / "enwik8").write_bytes(CONTENT)
    assert fetch.locate(download=False).path == cache / "enwik8"
    monkeypatch.setenv(fetch.CORPORA_ENV, str(tmp_path / "empty"))  # set, but holding nothing: the cache still counts
    assert fetch.locate(download=False).path == cache / "enwik8"


def test_download_verified_and_unzipped(fetch: ModuleType, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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
    assert found.full and found.path == cache / "enwik8" and found.path.read_bytes() == CONTENT
    assert sorted(p.name for p in cache.iterdir()) == ["enwik8"]  # no temporary files left
    assert fetch.locate(download=False).path == found.path  # found next time, not fetched again


def test_a_download_with_the_wrong_content_is_not_kept(
    fetch: ModuleType, cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = _zip(CONTENT[:-1] + b"!")
    monkeypatch.setattr(fetch, "urlopen", lambda url, timeout: io.BytesIO(archive))
    with pytest.raises(fetch.FetchError, match="the enwik8 in the download is wrong: sha256"):
        fetch.locate()
    assert "warning: enwik8.zip is" in capsys.readouterr().err  # the zip's own checksum did not match either
    assert list(cache.iterdir()) == []


def test_a_download_too_long_or_not_a_zip_is_not_kept(fetch: ModuleType, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch, "urlopen", lambda url, timeout: io.BytesIO(_zip(CONTENT + b"more")))
    with pytest.raises(fetch.FetchError, match=f"more than {len(CONTENT):,} bytes"):
        fetch.locate()
    monkeypatch.setattr(fetch, "urlopen", lambda url, timeout: io.BytesIO(b"<html>moved</html>"))
    with pytest.raises(fetch.FetchError, match="not a zip holding enwik8"):
        fetch.locate()
    monkeypatch.setattr(fetch, "ZIP_BYTES", 8)
    monkeypatch.setattr(fetch, "urlopen", lambda url, timeout: io.BytesIO(bytes(17)))
    with pytest.raises(fetch.FetchError, match="sent more than 16 bytes"):
        fetch.locate()
    assert list(cache.iterdir()) == []


def test_offline_says_where_to_put_the_file(fetch: ModuleType, cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def offline(url: str, timeout: float) -> None:
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    monkeypatch.setattr(fetch, "urlopen", offline)
    assert fetch.main([]) == 1
    err = capsys.readouterr().err
    assert "cannot download http://mattmahoney.net/dc/enwik8.zip" in err and "Network is unreachable" in err
    assert str(cache / "enwik8") in err and "NACRITH_CORPORA" in err and fetch.ENWIK8_SHA256 in err
    assert list(cache.iterdir()) == []  # no partial download left


def test_no_download_flag(fetch: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert fetch.main(["--no-download"]) == 1
    assert "enwik8 not found" in capsys.readouterr().err


def test_runs_as_a_module() -> None:
    result = subprocess.run([sys.executable, "-m", "nacrith.bench.enwik8", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--no-download" in result.stdout
