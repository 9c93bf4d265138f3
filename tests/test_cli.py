"""The ``nacrith`` command line: file naming, stdio, safety of outputs, messages and exit status.

Most tests run the click app in-process with CliRunner (the model loads once per process);
a few run ``python -m nacrith`` for real, where only a real process shows the behaviour
(a terminal on stdin or stdout, a reader that closes the pipe, Ctrl-C and other signals).
Text inputs stay around a hundred bytes and use
``--window 64 -T 1`` so the model's part takes well under a second each: one thread,
because llama.cpp's spinning thread pool slows down badly when the two cores are shared.
Binary inputs go to the zstd fallback and cost nothing.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import nacrith
from nacrith.cli import cli, files, jobs
from nacrith.constants import FORMAT_VERSION

REPO = Path(__file__).resolve().parent.parent

TEXT = (
    b"Alice was beginning to get very tired of sitting by her sister on the bank, "
    b"and of having nothing to do.\n"
)
"""Valid UTF-8 longer than the chunker's minimum text run, so it goes to the model."""

BINARY = bytes(i * 131 % 256 for i in range(1024))
"""Every byte value 4 times, no printable run long enough for text (steps of 131): the fallback takes it, no model needed."""

FAST = ["-T", "1", "--window", "64"]
"""Options for compressing text quickly (see the module docstring)."""


def run(*args: str, input: bytes | None = None) -> Result:
    """Invoke the CLI in-process; an unexpected exception fails the test with its traceback."""
    result = CliRunner().invoke(cli, list(args), input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def leftovers(directory: Path) -> list[str]:
    """Temporary files the CLI may have left behind: there must never be any."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture(scope="module")
def text_archive(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """TEXT compressed once through the CLI, for the tests that only read an archive."""
    directory = tmp_path_factory.mktemp("archive")
    source = directory / "text.txt"
    source.write_bytes(TEXT)
    result = run("compress", *FAST, str(source))
    assert result.exit_code == 0, result.stderr
    return (directory / "text.txt.nacr").read_bytes()


@pytest.fixture
def binary_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(BINARY)
    return path


# --- round trips ---------------------------------------------------------------


def test_text_round_trip_through_files_keeps_input_and_metadata(tmp_path: Path) -> None:
    source = tmp_path / "text.txt"
    source.write_bytes(TEXT)
    os.chmod(source, 0o640)
    os.utime(source, (1_000_000_000, 1_000_000_000))
    result = run("compress", *FAST, str(source))
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == b"" and result.stderr == ""
    archive = tmp_path / "text.txt.nacr"
    assert source.read_bytes() == TEXT  # kept by default
    assert nacrith.decompress(archive.read_bytes(), threads=1) == TEXT
    assert (archive.stat().st_mode & 0o777, archive.stat().st_mtime) == (0o640, 1_000_000_000)

    source.rename(tmp_path / "original.txt")
    result = run("decompress", "-T", "1", str(archive))
    assert result.exit_code == 0, result.stderr
    assert source.read_bytes() == TEXT
    assert archive.exists()
    assert leftovers(tmp_path) == []


def test_stdin_to_stdout_with_dash(text_archive: bytes) -> None:
    result = run("compress", "-", input=BINARY)
    assert result.exit_code == 0, result.stderr
    assert nacrith.decompress(result.stdout_bytes) == BINARY
    result = run("decompress", "-T", "1", "-", input=text_archive)
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == TEXT


def test_no_file_means_stdin_to_stdout() -> None:
    archive = run("compress", input=BINARY).stdout_bytes
    result = run("d", input=archive)  # the short name, too
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == BINARY


def test_empty_input_round_trips(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert run("compress", str(empty)).exit_code == 0
    empty.unlink()
    assert run("decompress", str(tmp_path / "empty.nacr")).exit_code == 0
    assert empty.read_bytes() == b""


def test_bytes_after_the_archive_are_rejected() -> None:
    archive = run("compress", input=BINARY).stdout_bytes
    for extra in (b"garbage!", b"\x8eN!", archive + b"x"):  # FORMAT.md: after an end block, only another frame
        where = len(archive) * (2 if extra.startswith(archive) else 1)
        result = run("decompress", input=archive + extra)
        assert result.exit_code == 1
        assert result.stderr == f"nacrith: <stdin>: unexpected data after the end of the archive at byte {where}\n"
        result = run("info", "-", input=archive + extra)
        assert result.exit_code == 1 and f"unexpected data after the end of the archive at byte {where}" in result.stderr


def test_concatenated_archives_decode_one_after_another(tmp_path: Path) -> None:
    """`cat a.nacr b.nacr | nacrith decompress` gives both contents, as gzip, xz and zstd do."""
    first = run("compress", input=BINARY).stdout_bytes
    second = run("compress", input=b"").stdout_bytes
    joined = first + second + first
    result = run("decompress", input=joined)
    assert result.exit_code == 0 and result.stdout_bytes == BINARY * 2
    assert run("test", "-", input=joined).exit_code == 0
    assert run("decompress", input=joined[:-1]).exit_code == 1
    result = run("info", "-", input=joined)
    assert result.exit_code == 0 and "3 (concatenated" in result.stdout and f"archive 3 of 3, at byte {len(first) + len(second):,}" in result.stdout
    report = json.loads(run("info", "--json", "-", input=joined).stdout)
    [report] = report if isinstance(report, list) else [report]
    assert report["frames"] == 3 and report["original_size"] == 2 * len(BINARY)
    assert [a["offset"] for a in report["archives"]] == [0, len(first), len(first) + len(second)]


# --- destinations ---------------------------------------------------------------


def test_stdout_flag_writes_archive_to_stdout_and_keeps_input(binary_file: Path) -> None:
    result = run("compress", "-c", "--rm", str(binary_file))
    assert result.exit_code == 0, result.stderr
    assert nacrith.decompress(result.stdout_bytes) == BINARY
    assert binary_file.exists()  # --rm does not apply to stdout
    assert "--rm does not apply" in result.stderr
    assert not binary_file.with_name("data.bin.nacr").exists()

    archive = binary_file.with_name("data.bin.nacr")
    archive.write_bytes(result.stdout_bytes)
    result = run("decompress", "-c", str(archive))
    assert result.exit_code == 0 and result.stdout_bytes == BINARY


def test_output_option_names_the_output(binary_file: Path, tmp_path: Path) -> None:
    archive = tmp_path / "custom.archive"
    assert run("compress", "-o", str(archive), str(binary_file)).exit_code == 0
    assert not binary_file.with_name("data.bin.nacr").exists()
    restored = tmp_path / "restored"
    assert run("decompress", "-o", str(restored), str(archive)).exit_code == 0
    assert restored.read_bytes() == BINARY
    assert run("decompress", "-o", "-", str(archive)).stdout_bytes == BINARY


def test_existing_output_is_refused_untouched_then_overwritten_with_force(binary_file: Path) -> None:
    archive = binary_file.with_name("data.bin.nacr")
    archive.write_bytes(b"precious")
    result = run("compress", "--rm", str(binary_file))
    assert result.exit_code == 1
    assert result.stderr == f"nacrith: {binary_file}: {archive} already exists; use -f to overwrite it\n"
    assert archive.read_bytes() == b"precious"
    assert binary_file.exists()  # --rm never runs after a failure
    assert leftovers(binary_file.parent) == []

    result = run("compress", "-f", str(binary_file))
    assert result.exit_code == 0, result.stderr
    assert nacrith.decompress(archive.read_bytes()) == BINARY


def test_rm_removes_input_only_after_success(binary_file: Path) -> None:
    archive = binary_file.with_name("data.bin.nacr")
    assert run("compress", "--rm", str(binary_file)).exit_code == 0
    assert not binary_file.exists() and archive.exists()
    assert run("decompress", "--rm", str(archive)).exit_code == 0
    assert binary_file.read_bytes() == BINARY and not archive.exists()

    broken = binary_file.with_name("broken.nacr")
    broken.write_bytes(b"not an archive at all")
    result = run("decompress", "--rm", str(broken))
    assert result.exit_code == 1
    assert broken.exists() and not binary_file.with_name("broken").exists()


def test_input_already_named_nacr_is_not_compressed_again(tmp_path: Path) -> None:
    archive = tmp_path / "x.nacr"
    archive.write_bytes(BINARY)
    result = run("compress", str(archive))
    assert result.exit_code == 1 and "already has the .nacr suffix" in result.stderr
    assert not (tmp_path / "x.nacr.nacr").exists()
    assert run("compress", "-f", str(archive)).exit_code == 0
    assert (tmp_path / "x.nacr.nacr").exists()


def test_refuses_compressed_data_to_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "is_terminal", lambda stream: stream == "stdout")
    result = run("compress", input=BINARY)
    assert result.exit_code == 1
    assert result.stdout_bytes == b""
    assert result.stderr.startswith("nacrith: <stdin>: refusing to write compressed data to a terminal")
    forced = run("compress", "-f", input=BINARY)
    assert forced.exit_code == 0 and nacrith.decompress(forced.stdout_bytes) == BINARY


@pytest.mark.parametrize("command", ["compress", "decompress"])
@pytest.mark.parametrize("force", [[], ["-f"]])
def test_a_directory_as_output_is_refused_and_left_alone(tmp_path: Path, command: str, force: list[str]) -> None:
    source = tmp_path / ("data.bin" if command == "compress" else "data.bin.nacr")
    source.write_bytes(BINARY if command == "compress" else nacrith.compress(BINARY))
    before = source.read_bytes()
    folder = tmp_path / "somedir"
    folder.mkdir()
    (folder / "inside").write_bytes(b"kept")
    result = run(command, *force, "--rm", "-o", str(folder), str(source))
    assert result.exit_code == 1
    assert result.stderr == f"nacrith: {source}: cannot write {folder}: it is a directory\n"
    assert source.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["inside"] and leftovers(tmp_path) == []


@pytest.mark.parametrize("command", ["compress", "decompress"])
@pytest.mark.parametrize("alias", ["itself", "hard link", "symbolic link"])
def test_the_input_itself_as_output_is_refused_even_with_force(tmp_path: Path, command: str, alias: str) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(BINARY if command == "compress" else nacrith.compress(BINARY))
    before = source.read_bytes()
    target = {"itself": source, "hard link": tmp_path / "hard", "symbolic link": tmp_path / "soft"}[alias]
    if alias == "hard link":
        os.link(source, target)
    elif alias == "symbolic link":
        target.symlink_to(source.name)
    for force in ([], ["-f"]):
        result = run(command, *force, "--rm", "-o", str(target), str(source))
        assert result.exit_code == 1
        assert result.stderr == f"nacrith: {source}: the output {target} is the input itself\n"
        assert source.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_refuses_compressed_data_from_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "is_terminal", lambda stream: stream == "stdin")
    for args in (["decompress"], ["decompress", "-"], ["d", "-c"], ["test", "-"], ["info", "-"]):
        result = run(*args, input=nacrith.compress(BINARY))
        assert result.exit_code == 1, args
        assert result.stdout_bytes == b""
        assert result.stderr == "nacrith: <stdin>: refusing to read compressed data from a terminal; redirect stdin, or use -f to force\n"
    archive = run("compress", input=BINARY)  # plain data typed at a terminal is fine to compress
    assert archive.exit_code == 0 and nacrith.decompress(archive.stdout_bytes) == BINARY
    forced = run("decompress", "-f", input=archive.stdout_bytes)
    assert forced.exit_code == 0 and forced.stdout_bytes == BINARY


def test_progress_bar_only_on_a_terminal_and_not_with_quiet(binary_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("compress", "-c", str(binary_file)).stderr == ""
    monkeypatch.setattr(files, "is_terminal", lambda stream: stream == "stderr")
    assert "data.bin" in run("compress", "-c", str(binary_file)).stderr
    assert run("compress", "-q", "-c", str(binary_file)).stderr == ""


def test_verbose_prints_a_summary_per_file(binary_file: Path) -> None:
    result = run("compress", "-v", str(binary_file))
    assert result.exit_code == 0
    line = result.stderr.strip()
    assert line.startswith(f"nacrith: {binary_file}: 1,024 -> ")
    assert "bits/byte" in line and line.endswith(f"-> {binary_file}.nacr")


# --- failures ---------------------------------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        (b"plain text, no archive", "not a nacrith archive"),
        (b"", "empty input"),
        ("truncated", "truncated archive"),
    ],
)
def test_bad_archive_fails_cleanly_with_no_output(tmp_path: Path, text_archive: bytes, content: object, message: str) -> None:
    bad = tmp_path / "bad.nacr"
    bad.write_bytes(text_archive[: len(text_archive) - 5] if content == "truncated" else content)  # type: ignore[arg-type]
    result = run("decompress", "-T", "1", str(bad))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"nacrith: {bad}: ") and message in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.nacr"]


def test_decompress_needs_the_suffix_or_a_destination(binary_file: Path) -> None:
    result = run("decompress", str(binary_file))
    assert result.exit_code == 1 and "does not end in .nacr" in result.stderr


def test_missing_input_fails_but_other_files_still_run(binary_file: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    result = run("compress", str(missing), str(binary_file))
    assert result.exit_code == 1
    assert result.stderr == f"nacrith: {missing}: No such file or directory\n"
    assert binary_file.with_name("data.bin.nacr").exists()


def test_missing_model_is_one_clear_error(binary_file: Path, tmp_path: Path) -> None:
    result = run("compress", "--model", str(tmp_path / "nope.gguf"), str(binary_file))
    assert result.exit_code == 1
    assert result.stderr == f"nacrith: model file not found: {tmp_path / 'nope.gguf'} (known presets: gemma3-270m)\n"


@pytest.mark.parametrize("change", ["grows", "shrinks"])
def test_a_file_that_changes_size_while_compressed_leaves_no_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(BINARY * (1 if change == "grows" else 40))
    size = source.stat().st_size

    class Changing(nacrith.NacrithCompressor):
        """Changes the input under the command after its first block, as a log being written to would."""

        def compress(self, data: bytes) -> bytes:
            if source.stat().st_size == size:
                with open(source, "r+b") as f:
                    if change == "grows":
                        f.seek(0, os.SEEK_END)
                        f.write(b"x" * 100)
                    else:
                        f.truncate(2048)
            return super().compress(data)

    monkeypatch.setattr(jobs, "NacrithCompressor", Changing)
    monkeypatch.setattr(jobs, "READ_BLOCK", 256)
    result = run("compress", "--rm", str(source))
    assert result.exit_code == 1
    now = "1,124" if change == "grows" else "[0-9,]+"
    assert re.fullmatch(
        rf"nacrith: {re.escape(str(source))}: the file changed size while being compressed \({size:,} -> {now} bytes\); compress it again\n",
        result.stderr,
    ), result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]  # no archive, and --rm did not run


def test_ctrl_c_removes_the_partial_output_and_exits_130(binary_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Interrupted:
        def __init__(self, **options: object) -> None:
            pass

        def compress(self, data: bytes) -> bytes:
            raise KeyboardInterrupt

    monkeypatch.setattr(jobs, "NacrithCompressor", Interrupted)
    result = run("compress", "--rm", str(binary_file))
    assert result.exit_code == 130
    assert result.stderr.endswith("nacrith: interrupted\n")
    assert sorted(p.name for p in binary_file.parent.iterdir()) == ["data.bin"]


# --- test and info ---------------------------------------------------------------


def test_test_command_reports_each_file(tmp_path: Path, text_archive: bytes) -> None:
    good = tmp_path / "good.nacr"
    good.write_bytes(text_archive)
    bad = tmp_path / "bad.nacr"
    bad.write_bytes(text_archive[:-1])
    result = run("test", "-T", "1", "-v", str(good))
    assert (result.exit_code, result.stderr) == (0, f"nacrith: {good}: OK\n")
    assert result.stdout_bytes == b""
    assert run("test", "-T", "1", str(good)).stderr == ""
    result = run("test", "-T", "1", str(bad), str(good))
    assert result.exit_code == 1
    assert "truncated archive" in result.stderr and f"{good}: OK" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.nacr", "good.nacr"]


def test_test_command_catches_a_damaged_payload(tmp_path: Path, text_archive: bytes) -> None:
    damaged = bytearray(text_archive)
    damaged[-10] ^= 0x40  # inside the neural payload: decodes, but to the wrong text
    path = tmp_path / "damaged.nacr"
    path.write_bytes(damaged)
    result = run("test", "-T", "1", str(path))
    assert result.exit_code == 1 and result.stderr.startswith(f"nacrith: {path}: ")


def test_info_text(tmp_path: Path, text_archive: bytes) -> None:
    path = tmp_path / "text.txt.nacr"
    path.write_bytes(text_archive)
    result = run("info", str(path))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"{path}:\n")
    for expected in (
        "format version   2 (one chunk)",
        f"original size    {len(TEXT)} bytes",
        f"compressed size  {len(text_archive)} bytes",
        "window           64 tokens",
        "slide keep       48 tokens",
        "precision        24 bits",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "segment  group  chunk  method",
        "neural",
    ):
        assert expected in out, expected


def test_info_json(tmp_path: Path, text_archive: bytes, binary_file: Path) -> None:
    path = tmp_path / "text.txt.nacr"
    path.write_bytes(text_archive)
    assert run("compress", str(binary_file)).exit_code == 0
    result = run("info", "--json", str(path), str(binary_file) + ".nacr")
    assert result.exit_code == 0, result.stderr
    text, binary = json.loads(result.stdout)
    assert text["file"] == str(path)
    assert (text["original_size"], text["compressed_size"]) == (len(TEXT), len(text_archive))
    assert text["bits_per_byte"] == pytest.approx(8 * len(text_archive) / len(TEXT))
    assert text["format_version"] == FORMAT_VERSION
    assert text["params"]["window"] == 64 and text["params"]["precision_bits"] == 24
    assert len(text["model"]["fingerprint"]) == 16 and len(text["model"]["build_tag"]) == 4
    assert [c["method"] for c in text["chunks"]] == ["neural"]
    chunk = text["chunks"][0]
    assert chunk["original_size"] == len(TEXT) and chunk["tokens"] == 0  # version 2 does not store token counts
    assert chunk["bits_per_byte"] == pytest.approx(8 * chunk["payload_size"] / len(TEXT))
    assert {c["method"] for c in binary["chunks"]} <= {"zstd", "xz", "stored"}


def test_info_of_a_streamed_archive_says_its_size_was_not_known_in_advance() -> None:
    archive = run("compress", input=BINARY).stdout_bytes
    result = run("info", "-", input=archive)
    assert result.exit_code == 0 and "1,024 bytes (streamed: not known in advance)" in result.stdout
    (report,) = json.loads(run("info", "--json", "-", input=archive).stdout)
    assert (report["file"], report["declared_size"], report["original_size"]) == ("<stdin>", None, len(BINARY))


def test_info_of_a_non_archive_fails(binary_file: Path) -> None:
    result = run("info", str(binary_file))
    assert result.exit_code == 1 and result.stderr == f"nacrith: {binary_file}: not a nacrith archive (bad magic number)\n"


# --- the command line itself ------------------------------------------------------


def test_version() -> None:
    result = run("--version")
    assert (result.exit_code, result.stdout) == (0, f"nacrith {nacrith.__version__}\n")


def test_help_on_every_command() -> None:
    for command in ([], ["compress"], ["decompress"], ["test"], ["info"]):
        result = run(*command, "-h")
        assert result.exit_code == 0 and "Usage: nacrith" in result.stdout
    assert "Examples:" in run("compress", "--help").stdout


@pytest.mark.parametrize(
    "args",
    [
        ["compress", "--bogus"],
        ["compress", "-o", "x", "a", "b"],
        ["compress", "-o", "x", "-c", "a"],
        ["compress", "-", "-"],
        ["compress", "--window", "8", "a"],
        ["compress", "--lanes", "0", "a"],
        ["decompress", "--window", "64", "a.nacr"],  # the archive decides the window
        ["test"],
        ["info"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.stderr
    assert "Usage: nacrith" in result.stderr


# --- real processes ---------------------------------------------------------------


def nacrith_process(*args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m nacrith`` with this checkout importable; stdout and stderr captured unless redirected."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kwargs}
    return subprocess.run([sys.executable, "-m", "nacrith", *args], env=env, timeout=60, **streams)  # type: ignore[call-overload]


def test_process_pipe_round_trip(tmp_path: Path) -> None:
    compressed = nacrith_process("compress", *FAST, input=TEXT, cwd=tmp_path)
    assert compressed.returncode == 0, compressed.stderr
    assert compressed.stderr == b""
    restored = nacrith_process("decompress", "-T", "1", "-", input=compressed.stdout, cwd=tmp_path)
    assert (restored.returncode, restored.stdout) == (0, TEXT), restored.stderr
    assert nacrith_process("--version").stdout == f"nacrith {nacrith.__version__}\n".encode()


def test_process_refuses_to_write_compressed_data_to_a_real_terminal() -> None:
    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    try:
        result = nacrith_process("compress", input=BINARY, stdout=follower)
    finally:
        os.close(follower)
        os.close(leader)
    assert result.returncode == 1
    assert b"refusing to write compressed data to a terminal" in result.stderr


def test_process_refuses_to_read_compressed_data_from_a_real_terminal() -> None:
    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    try:
        for args in (["decompress"], ["test", "-"]):
            result = nacrith_process(*args, stdin=follower)
            assert result.returncode == 1, result.stderr
            assert result.stdout == b""
            assert result.stderr == b"nacrith: <stdin>: refusing to read compressed data from a terminal; redirect stdin, or use -f to force\n"
    finally:
        os.close(follower)
        os.close(leader)


@pytest.mark.parametrize(
    "args",
    [["decompress", "-c", "big.nacr"], ["compress", "-c", "big.bin"], ["decompress", "-c", "big.nacr", "big.nacr"]],
    ids=["decompress", "compress", "two files"],
)
def test_process_whose_reader_goes_away_exits_quietly(tmp_path: Path, args: list[str]) -> None:
    """`nacrith decompress -c big.nacr | head -c 10`: the reader leaves early. As with gzip and zstd, no
    message and no traceback, whatever file the command was on, and a failing status."""
    data = os.urandom(4 << 20)  # far more than a pipe holds (up to 1 MiB here): the writer must meet the closed end
    (tmp_path / "big.bin").write_bytes(data)
    (tmp_path / "big.nacr").write_bytes(nacrith.compress(data))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(tmp_path / "stderr", "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "nacrith", *args], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr
        )
        try:
            assert process.stdout is not None
            head = process.stdout.read(10)
            process.stdout.close()
            status = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert len(head) == 10
    assert (tmp_path / "stderr").read_bytes() == b""
    assert status == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin", "big.nacr", "stderr"]


def _open_outputs(pid: int, folder: Path) -> list[str]:
    """Files in ``folder`` that process ``pid`` holds open for writing, named or not (an O_TMPFILE shows as deleted)."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
            flags = int(Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text().split("flags:")[1].split()[0], 8)
        except (OSError, IndexError, ValueError):
            continue
        if target.startswith(str(folder)) and flags & (os.O_WRONLY | os.O_RDWR):
            found.append(target)
    return found


@pytest.mark.parametrize(
    "signum, status, message",
    [
        (signal.SIGINT, 130, b"nacrith: interrupted\n"),
        (signal.SIGTERM, 128 + signal.SIGTERM, b"nacrith: terminated by SIGTERM\n"),
        (signal.SIGHUP, 128 + signal.SIGHUP, b"nacrith: terminated by SIGHUP\n"),
        (signal.SIGKILL, -signal.SIGKILL, b""),
    ],
)
def test_process_killed_mid_work_leaves_no_partial_output(tmp_path: Path, signum: int, status: int, message: bytes) -> None:
    """Ctrl-C, kill and a closed terminal unwind and clean up; even SIGKILL, which nothing can catch, leaves
    no file behind: the output has no name until it is complete."""
    if not Path("/proc/self/fdinfo").is_dir():
        pytest.skip("needs /proc to see the output being written")
    source = tmp_path / "long.txt"
    source.write_bytes(TEXT * 40)  # minutes of work at full window: it will not finish first
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "nacrith", "compress", "-T", "1", str(source)],
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not _open_outputs(process.pid, tmp_path) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert _open_outputs(process.pid, tmp_path), "the output was never opened"
        time.sleep(0.5)  # into the model's work
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == status, stderr
    assert stderr.endswith(message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.txt"]


# --- segments: workers, ranges ------------------------------------------------------------------


def test_segments_workers_and_ranges_from_the_command_line(tmp_path: Path) -> None:
    """--segment-size makes an indexed archive, --workers gives the same bytes, --range reads only a slice."""
    data = os.urandom(9000) + TEXT * 10
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    one = run("compress", "-c", "--segment-size", "4K", *FAST, str(source)).stdout_bytes
    two = run("compress", "-c", "--segment-size", "4096", "--workers", "2", "-T", "2", *FAST, str(source)).stdout_bytes
    assert one == two and len(nacrith.inspect(one).frames[0].segments) == 3
    archive = tmp_path / "data.bin.nacr"
    archive.write_bytes(one)
    result = run("decompress", "-c", "--range", "5000:5100", str(archive))
    assert result.exit_code == 0 and result.stdout_bytes == data[5000:5100]
    result = run("decompress", "-c", "--range", f"10:{len(data) + 1}", str(archive))
    assert result.exit_code == 2 and "outside the content" in result.stderr
    result = run("decompress", "-c", "--range", "9:3", str(archive))
    assert result.exit_code == 2 and "START < END" in result.stderr
    result = run("compress", "-c", "--segment-size", "12Q", str(source))
    assert result.exit_code == 2 and "not a size" in result.stderr
    info = run("info", str(archive)).stdout
    assert "seek index" in info and "indexed segments" in info


# --- closed standard streams ------------------------------------------------------------------


@pytest.mark.parametrize(
    "shell, message",
    [
        ("compress <&-", b"nacrith: <stdin>: cannot read from stdin: it is closed\n"),
        ("decompress <&- > out", b"nacrith: <stdin>: cannot read from stdin: it is closed\n"),
        ("test - <&-", b"nacrith: <stdin>: cannot read from stdin: it is closed\n"),
        ("compress -c data.bin >&-", b"nacrith: data.bin: cannot write to stdout: it is closed\n"),
        ("decompress -c data.bin.nacr >&-", b"nacrith: data.bin.nacr: cannot write to stdout: it is closed\n"),
        ("explain - <&-", b"nacrith: cannot read from stdin: it is closed\n"),
    ],
)
def test_process_with_a_closed_standard_stream_says_so_in_one_line(tmp_path: Path, shell: str, message: bytes) -> None:
    """A closed stdin or stdout (the shell's <&- and >&-, not /dev/null) is one `nacrith:` line and exit status 1."""
    (tmp_path / "data.bin").write_bytes(BINARY)
    (tmp_path / "data.bin.nacr").write_bytes(nacrith.compress(BINARY))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = f"'{sys.executable}' -m nacrith {shell}"
    result = subprocess.run(["sh", "-c", command], cwd=tmp_path, env=env, stderr=subprocess.PIPE, timeout=60)
    assert (result.returncode, result.stderr) == (1, message)


def test_process_with_stdout_closed_still_writes_its_output_file_and_nothing_else_there(tmp_path: Path) -> None:
    """With stdout closed the next file opened would get descriptor 1; it is held on /dev/null instead."""
    (tmp_path / "data.bin").write_bytes(BINARY)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        ["sh", "-c", f"'{sys.executable}' -m nacrith compress -o out.nacr data.bin >&-"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, timeout=60
    )
    assert (result.returncode, result.stderr) == (0, b"")
    assert nacrith.decompress((tmp_path / "out.nacr").read_bytes()) == BINARY
    probe = "import os, sys; from nacrith.cli import files; files.hold_closed_stdio(); print(os.open(os.devnull, os.O_RDONLY), file=sys.stderr)"
    for closed in ("<&-", ">&-", "<&- >&-"):
        held = subprocess.run(["sh", "-c", f"'{sys.executable}' -c '{probe}' {closed}"], env=env, stderr=subprocess.PIPE, timeout=60)
        assert held.stderr == b"3\n", closed
