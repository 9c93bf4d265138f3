"""The ``nacrith`` command: click options wired to the API, nothing more.

Parsing lives here; naming and safe output in :mod:`.files`; one file's run in :mod:`.jobs`;
the bar and summary in :mod:`.progress`; the archive view in :mod:`.info`; messages and
exit status in :mod:`.report`. The coding itself is the public API's, so the CLI cannot
do anything a library user could not.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from typing import Any, Iterator

import click

from .. import NacrithError, __version__, resolve_model
from . import files, info, jobs
from .bench import bench_command
from .explain import explain_command
from .train import train_command
from .windows import windows_command
from ..constants import DEFAULT_SEGMENT_BYTES
from ..workers.local import WorkerPool
from .options import (
    ByteSize,
    adapt_option,
    backend_options,
    check_coding_options,
    dictionary_option,
    gpu_option,
    lanes_option,
    memory_option,
    model_options,
    output_options,
    load_dictionary,
    ray_option,
    verbosity_options,
    window_option,
    workers_option,
)
from .report import Fatal, describe, interruptible, run_each

__all__ = ["main", "cli"]

ALIASES = {"c": "compress", "d": "decompress", "t": "test", "l": "info"}
"""Short names, in the spirit of zstd's -d/-t/-l."""


class _Group(click.Group):
    """A group that also answers to the short names in ALIASES, without listing them twice in --help."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, ALIASES.get(cmd_name, cmd_name))

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        return (command.name if command else name), command, rest


@click.group(name="nacrith", cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="nacrith", message="%(prog)s %(version)s")
def cli() -> None:
    """Lossless text compression with a language model and an arithmetic coder.

    Text is coded with a small language model's predictions (llama.cpp); anything the
    model cannot code goes to zstd. Archives end in .nacr and record the model and every
    parameter needed to decode them.

    \b
    Examples:
      nacrith compress notes.txt          # -> notes.txt.nacr, notes.txt kept
      nacrith decompress notes.txt.nacr   # -> notes.txt
      nacrith test notes.txt.nacr         # decode and verify, write nothing
      nacrith info notes.txt.nacr         # what is inside, without decoding
      cat log.txt | nacrith compress | nacrith decompress
      nacrith train samples/*.txt -o family.nacrd   # a dictionary for small files
      nacrith compress -D family.nacrd records/*.txt

    Short names: c (compress), d (decompress), t (test), l (info).
    """


def _settings(quiet: int, verbose: int, threads: int, **chosen: Any) -> jobs.Settings:
    return jobs.Settings(verbosity=1 + verbose - quiet, threads=threads or None, **chosen)


@contextlib.contextmanager
def _workers(settings: jobs.Settings, workers: int, ray: str | None = None) -> Iterator[jobs.Settings]:
    """The settings with one pool for all the command's files: ``workers`` processes (none for 1), or Ray
    actors (``workers`` of them, or one per CPU of the cluster when 1)."""
    if ray is not None:
        from ..workers.cluster import RayPool

        try:
            pool = RayPool(
                ray, workers if workers > 1 else None, model=settings.model, threads=settings.threads, gpu=settings.gpu,
                backend=settings.backend, device=settings.device,
            )
        except NacrithError as exc:
            raise Fatal(describe(exc)) from None
    elif workers > 1:
        pool = WorkerPool(workers, model=settings.model, threads=settings.threads, gpu=settings.gpu, backend=settings.backend, device=settings.device)
    else:
        yield settings
        return
    with pool:
        yield dataclasses.replace(settings, workers=pool)


def _byte_range(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    start, _, end = text.partition(":")
    if not (start.isdigit() and end.isdigit()) or int(start) >= int(end):
        raise click.UsageError(f"--range {text}: give START:END, two byte offsets with START < END")
    return int(start), int(end)


def _finish(ok: bool) -> None:
    """Exit 1 if any file failed; each failure has already been reported."""
    if not ok:
        raise click.exceptions.Exit(1)


def _check_model(settings: jobs.Settings) -> None:
    """Fail once, before any file, for a model that cannot be found, rather than once per file."""
    if settings.model is not None:
        try:
            resolve_model(settings.model)
        except NacrithError as exc:
            raise Fatal(describe(exc)) from None


@cli.command()
@click.argument("file", nargs=-1, type=click.Path(dir_okay=True, allow_dash=True))
@output_options
@verbosity_options
@model_options
@lanes_option()
@window_option()
@click.option(
    "--ensemble/--no-ensemble",
    default=None,
    help="Mix the n-gram, match and bias models with the LLM (default), or use the LLM alone.",
)
@click.option(
    "--segment-size",
    "segment_bytes",
    type=ByteSize(),
    help=f"Largest segment (e.g. 256K, 4M): segments decode alone, spread over workers, and can be read at random  [default: {DEFAULT_SEGMENT_BYTES >> 20}M]",
)
@dictionary_option
@click.option(
    "--equal-info",
    "equal_info",
    metavar="W",
    type=int,
    help="Write equal-info windows of exactly W bits each (16 to 65536, a multiple of 8), every one decodable alone "
    "(the LLM alone; see 'nacrith windows'). Decompress as usual.",
)
@click.option("--token-bits", type=click.Choice(["8", "16"]), help="With --equal-info: the token width the archive records  [default: 16 when it divides W]")
@workers_option
@ray_option
@gpu_option
@backend_options(decoding=False)
@adapt_option
@interruptible
def compress(
    file: tuple[str, ...],
    output: str | None,
    to_stdout: bool,
    force: bool,
    keep: bool,
    quiet: int,
    verbose: int,
    model: str | None,
    threads: int,
    lanes: int | None,
    window: int | None,
    ensemble: bool | None,
    segment_bytes: int | None,
    dictionary: str | None,
    equal_info: int | None,
    token_bits: str | None,
    workers: int,
    ray: str | None,
    gpu: bool,
    backend: str | None,
    device: str | None,
    adapt: bool | None,
) -> None:
    """Compress each FILE to FILE.nacr; with no FILE, or '-', stdin to stdout.

    Inputs are kept unless --rm, and then removed only once their archive is complete.
    An existing output is an error unless -f. Compressed data is not written to a
    terminal unless -f. More lanes code faster on more cores; a longer window predicts
    better but runs slower.

    \b
    Examples:
      nacrith compress notes.txt                  # -> notes.txt.nacr
      nacrith compress --rm -v *.txt              # replace each file by its archive
      nacrith compress -o all.nacr < notes.txt
      nacrith compress -c book.txt | ssh host 'cat > book.txt.nacr'
      nacrith compress --model other.gguf --window 1024 -T 4 book.txt
      nacrith compress --workers 2 --segment-size 256K big.log   # 2 processes, 1 thread each here
      nacrith compress --backend torch --adapt notes.txt          # PyTorch, learning the text as it goes
      nacrith compress -D family.nacrd mails/*.eml   # small files of one family: see 'nacrith train'
      nacrith compress --equal-info 128 notes.txt   # 128-bit windows that decode alone
    """
    if token_bits is not None and equal_info is None:
        raise click.UsageError("--token-bits goes with --equal-info")
    if equal_info is not None and (ensemble or segment_bytes or workers > 1 or ray or dictionary):
        raise click.UsageError("--equal-info codes with the LLM alone, in one process: no --ensemble, --segment-size, --workers, --ray or -D")
    plan = files.plan(file, output, to_stdout, "compress")
    settings = _settings(
        quiet,
        verbose,
        threads,
        force=force,
        keep=keep,
        model=model,
        lanes=lanes,
        window=window,
        ensemble=ensemble,
        segment_bytes=segment_bytes,
        gpu=gpu,
        backend=backend,
        device=device,
        adapt=adapt,
        dictionary=load_dictionary(dictionary),
        equal_info=equal_info,
        token_bits=int(token_bits) if token_bits else None,
    )
    check_coding_options(**settings.coding_options())  # a bad --lanes/--window or --model is the command's problem, not each file's
    with _workers(settings, workers, ray) as settings:
        _finish(run_each(plan, lambda job: jobs.compress_file(job, settings)))


@cli.command()
@click.argument("file", nargs=-1, type=click.Path(dir_okay=True, allow_dash=True))
@output_options
@verbosity_options
@model_options
@dictionary_option
@workers_option
@ray_option
@gpu_option
@backend_options(decoding=True)
@memory_option
@click.option("--range", "byte_range", metavar="START:END", help="Only the original bytes START to END (END excluded); an indexed archive decodes only the segments that hold them.")
@interruptible
def decompress(
    file: tuple[str, ...],
    output: str | None,
    to_stdout: bool,
    force: bool,
    keep: bool,
    quiet: int,
    verbose: int,
    model: str | None,
    threads: int,
    dictionary: str | None,
    workers: int,
    ray: str | None,
    gpu: bool,
    backend: str | None,
    device: str | None,
    memory_limit: int | None,
    byte_range: str | None,
) -> None:
    """Decompress each FILE.nacr to FILE; with no FILE, or '-', stdin to stdout.

    The archive records its lanes, window and model, so none are chosen here; --model
    is only for an archive made with a model other than the default. Every chunk and
    the whole output are checked against their CRC-32 before the output gets its name.
    An archive that needs more memory than --memory allows is refused before anything
    is allocated for it.

    \b
    Examples:
      nacrith decompress notes.txt.nacr           # -> notes.txt
      nacrith d -c notes.txt.nacr | less
      nacrith decompress -o notes.txt < archive.bin
      nacrith decompress --model other.gguf book.txt.nacr
      nacrith decompress --range 1000000:1001024 -c big.log.nacr
      nacrith decompress --memory 16G wide-window.nacr
      nacrith decompress -D family.nacrd records/*.nacr   # archives made with -D need it
    """
    plan = files.plan(file, output, to_stdout, "decompress")
    settings = _settings(
        quiet, verbose, threads, force=force, keep=keep, model=model, gpu=gpu, backend=backend, device=device,
        range=_byte_range(byte_range), memory_limit=memory_limit, dictionary=load_dictionary(dictionary),
    )
    if settings.range is not None and len(plan) > 1:
        raise click.UsageError("--range reads one archive")
    _check_model(settings)
    with _workers(settings, workers, ray) as settings:
        _finish(run_each(plan, lambda job: jobs.decompress_file(job, settings)))


@cli.command()
@click.argument("file", nargs=-1, required=True, type=click.Path(dir_okay=True, allow_dash=True))
@verbosity_options
@model_options
@dictionary_option
@workers_option
@ray_option
@gpu_option
@backend_options(decoding=True)
@memory_option
@interruptible
def test(
    file: tuple[str, ...],
    quiet: int,
    verbose: int,
    model: str | None,
    threads: int,
    dictionary: str | None,
    workers: int,
    ray: str | None,
    gpu: bool,
    backend: str | None,
    device: str | None,
    memory_limit: int | None,
) -> None:
    """Decode each FILE and verify its checksums, writing nothing.

    Exit status 0 when every archive decodes intact, 1 otherwise, with a message
    naming each bad file (and, with -v, "FILE: OK" for each good one).

    \b
    Examples:
      nacrith test backup/*.nacr
      nacrith test -v notes.txt.nacr             # nacrith: notes.txt.nacr: OK
      curl -s https://example.org/x.nacr | nacrith test -
      nacrith test -D family.nacrd records/*.nacr
    """
    plan = files.plan(file, None, False, "test")
    settings = _settings(
        quiet, verbose, threads, model=model, gpu=gpu, backend=backend, device=device, memory_limit=memory_limit,
        dictionary=load_dictionary(dictionary),
    )
    _check_model(settings)
    with _workers(settings, workers, ray) as settings:
        _finish(run_each(plan, lambda job: jobs.decompress_file(job, settings)))


@cli.command(name="info")
@click.argument("file", nargs=-1, required=True, type=click.Path(dir_okay=True, allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per FILE.")
@interruptible
def info_command(file: tuple[str, ...], as_json: bool) -> None:
    """Show what each archive holds, without decoding it.

    Format version, sizes, ratio and bits per byte, the model (name, fingerprint,
    llama.cpp build), every coding parameter, and a table of chunks: group, chunk,
    method (neural, zstd or stored), original bytes, tokens, payload bytes and the
    chunk's bits per byte.

    \b
    Examples:
      nacrith info notes.txt.nacr
      nacrith info --json *.nacr | jq '.[] | {file, bits_per_byte}'
    """
    reports: list[dict[str, Any]] = []

    def inspect(job: files.Job) -> None:
        files.check_job(job, command="info", force=False)
        with files.open_source(job.source) as (stream, _):
            reports.append(info.inspect_archive(stream, job.name))
        if not as_json:
            click.echo(("\n" if len(reports) > 1 else "") + info.render_text(reports[-1]))

    ok = run_each([files.Job(source, None) for source in file], inspect)
    if as_json:
        click.echo(json.dumps(reports, indent=2))
    _finish(ok)


cli.add_command(bench_command)
cli.add_command(explain_command)
cli.add_command(train_command)
cli.add_command(windows_command)


def main(argv: list[str] | None = None) -> None:
    """The console script: run the command line and exit with its status."""
    files.hold_closed_stdio()
    cli.main(args=argv, prog_name="nacrith")
