"""The command line of equal-info windows, with a fake model: compress --equal-info, info, windows and back."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from nacrith.cli import cli
from tests.conftest import FakeWindowEngine
from tests.test_equal_info_archive import TEXT


@pytest.fixture
def engine(fake_window_engine: FakeWindowEngine, monkeypatch: pytest.MonkeyPatch) -> FakeWindowEngine:
    monkeypatch.setattr("nacrith.equal_info.shared_engine", lambda *args, **kwargs: fake_window_engine)
    return fake_window_engine


def test_compress_equal_info_then_info_then_decompress(engine: FakeWindowEngine, tmp_path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(TEXT)
    runner = CliRunner()
    result = runner.invoke(cli, ["compress", "--equal-info", "128", str(notes)])
    assert result.exit_code == 0, result.output
    info = runner.invoke(cli, ["info", f"{notes}.nacr"])
    assert info.exit_code == 0, info.output
    assert "equal-info windows" in info.output and "of 128 bits" in info.output and "bytes each on average" in info.output
    report = json.loads(runner.invoke(cli, ["info", "--json", f"{notes}.nacr"]).output)[0]
    assert report["windows"]["bits"] == 128 and report["windows"]["count"] >= 1
    assert report["windows"]["average_bytes"] == pytest.approx(len(TEXT) / report["windows"]["count"])
    notes.unlink()
    result = runner.invoke(cli, ["decompress", f"{notes}.nacr"])
    assert result.exit_code == 0, result.output
    assert notes.read_bytes() == TEXT


def test_windows_export_and_decode(engine: FakeWindowEngine, tmp_path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(TEXT)
    out = tmp_path / "notes.windows.npy"
    runner = CliRunner()
    result = runner.invoke(cli, ["windows", str(notes), "--bits", "16", "--token-bits", "16", "-o", str(out)])
    assert result.exit_code == 0, result.output
    tokens = np.load(out)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert tokens.dtype == np.uint16 and tokens.shape == (meta["windows"], 1) and meta["offsets"][-1] == len(TEXT)
    again = runner.invoke(cli, ["windows", str(notes), "--bits", "16", "-o", str(out)])
    assert again.exit_code == 1 and "already exists" in again.output
    back = tmp_path / "back.txt"
    result = runner.invoke(cli, ["windows", "--decode", str(out), "-o", str(back)])
    assert result.exit_code == 0, result.output
    assert back.read_bytes() == TEXT
    part = runner.invoke(cli, ["windows", "--decode", str(out), "--range", "10:50", "-o", "-"])
    assert part.exit_code == 0 and part.stdout_bytes == TEXT[10:50]


def test_bad_equal_info_settings_are_usage_errors(engine: FakeWindowEngine, tmp_path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(TEXT)
    runner = CliRunner()
    assert runner.invoke(cli, ["compress", "--equal-info", "20", str(notes)]).exit_code == 2
    assert runner.invoke(cli, ["compress", "--token-bits", "8", str(notes)]).exit_code == 2
    assert runner.invoke(cli, ["windows", str(notes), "--bits", "24", "--token-bits", "16"]).exit_code == 2


def test_an_equal_info_archive_exports_its_windows_without_coding_again(engine: FakeWindowEngine, tmp_path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(TEXT)
    runner = CliRunner()
    assert runner.invoke(cli, ["compress", "--equal-info", "32", "--token-bits", "8", str(notes)]).exit_code == 0
    out = tmp_path / "w.npy"
    result = runner.invoke(cli, ["windows", f"{notes}.nacr", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert np.load(out).shape[1] == 4 and np.load(out).dtype == np.uint8
    back = tmp_path / "back.txt"
    assert runner.invoke(cli, ["windows", "-d", str(out), "-o", str(back)]).exit_code == 0
    assert back.read_bytes() == TEXT
