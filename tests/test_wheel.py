"""The wheel alone, outside the checkout: it carries the Canterbury texts and the enwik8 finder,
and ``nacrith bench --corpus ...`` works from it with no source tree around.

nacrith's own wheel is built (pure Python, no dependencies: seconds) from a copy of the
package, so nothing is written into the checkout and nothing stale from an earlier build
gets in; it is unpacked and run with the working directory elsewhere and the unpacked wheel
first on PYTHONPATH. ``--no-nacrith`` keeps the language model out; nothing touches the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TEXTS = ("alice29.txt", "asyoulik.txt", "lcet10.txt", "plrabn12.txt")


def _can_build_wheels() -> bool:
    """setuptools builds wheels itself from 70.1; before that it needs the ``wheel`` package."""
    import importlib.util

    import setuptools

    major, minor = (int(part) for part in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """nacrith's wheel, built from a copy of the package and unpacked: a site folder for PYTHONPATH."""
    if not _can_build_wheels():
        pytest.skip("building a wheel with this setuptools needs the wheel package: pip install 'nacrith[test]'")
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(REPO / "nacrith", source / "nacrith", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(root / "dist"), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = (root / "dist").glob("nacrith-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for name in (*TEXTS, "SHA256SUMS", "README.md"):
            assert f"nacrith/bench/canterbury/{name}" in names
        assert {"nacrith/bench/enwik8.py", "nacrith/bench/corpora.py", "nacrith/explain/costs.py", "nacrith/explain/page.py"} <= names
        assert not any(name.startswith("corpora/") for name in names)
        z.extractall(root / "site")
    return root / "site"


def _run(site: Path, tmp_path: Path, args: list[str], env: dict[str, str] | None = None, code: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m nacrith ARGS`` (or ``python -c CODE ARGS``) from the unpacked wheel, in an empty folder."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    environment = {k: v for k, v in os.environ.items() if k != "NACRITH_CORPORA"}
    environment.update(PYTHONPATH=str(site), XDG_CACHE_HOME=str(tmp_path / "cache"), **(env or {}))
    command = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "nacrith", *args]
    return subprocess.run(command, cwd=elsewhere, env=environment, capture_output=True, text=True, timeout=300)


def test_the_texts_in_the_wheel_match_their_checksums(site: Path) -> None:
    folder = site / "nacrith" / "bench" / "canterbury"
    listed = dict(line.split()[::-1] for line in (folder / "SHA256SUMS").read_text().splitlines())
    assert {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in TEXTS} == listed


def test_bench_canterbury_from_the_wheel(site: Path, tmp_path: Path) -> None:
    result = _run(site, tmp_path, ["bench", "--no-nacrith", "--only", "zstd", "--corpus", "canterbury", "--limit", "2000", "--json", "-"])
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["file"], r["key"]) for r in rows] == [(name, key) for name in TEXTS for key in ("zstd-19", "zstd-22")]
    assert all(r["verified"] and r["original_bytes"] == 2000 for r in rows)
    packaged = site / "nacrith" / "bench" / "canterbury"
    assert all(r["path"] == str(packaged / r["file"]) for r in rows)  # the wheel's copies, not the checkout's
    assert f"the 4 Canterbury texts packaged in {packaged}" in result.stderr


def test_bench_enwik8_from_the_wheel_finds_a_prefix_without_the_network(site: Path, tmp_path: Path) -> None:
    """A small stand-in for enwik8's 4 MB prefix, its size and SHA-256 swapped in for the published ones."""
    stand_in = b"<mediawiki>a small stand-in for the first bytes of enwik8</mediawiki>\n" * 40
    prefix = tmp_path / "corpora" / "enwik8" / "enwik8.prefix-4154399"
    prefix.parent.mkdir(parents=True)
    prefix.write_bytes(stand_in)
    swap = (
        "import sys\n"
        "from nacrith.bench import enwik8\n"
        "enwik8.PREFIX_BYTES, enwik8.PREFIX_SHA256 = int(sys.argv[1]), sys.argv[2]\n"
        "def no_network(*args, **kwargs): raise AssertionError('tried to download')\n"
        "enwik8.urlopen = no_network\n"
        "from nacrith.cli import main\n"
        "main(sys.argv[3:])\n"
    )
    args = [str(len(stand_in)), hashlib.sha256(stand_in).hexdigest(),
            "bench", "--no-nacrith", "--only", "zstd-19", "--corpus", "enwik8", "--no-download", "--json", "-"]
    result = _run(site, tmp_path, args, env={"NACRITH_CORPORA": str(tmp_path / "corpora")}, code=swap)
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert (row["file"], row["path"], row["original_bytes"], row["verified"]) == (prefix.name, str(prefix), len(stand_in), True)
    assert "only a prefix of enwik8" in result.stderr and "not the full" in row["note"]
    absent = _run(site, tmp_path, ["bench", "--no-nacrith", "--corpus", "enwik8", "--no-download"], env={"NACRITH_CORPORA": str(tmp_path / "none")})
    assert absent.returncode == 1 and "enwik8 not found" in absent.stderr
    assert str(tmp_path / "cache" / "nacrith" / "corpora" / "enwik8") in absent.stderr  # where a download would land
