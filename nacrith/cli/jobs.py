"""One file through one command: check, open, stream through the API, commit, then maybe remove the input.

The order is the safety argument: nothing is opened for writing until the output is known
to be allowed (files.check_job); the output gets its name only when complete
(files.output_stream); the input goes (--rm) only after that. Data moves in blocks,
so memory stays flat whatever the file size.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import BinaryIO, Callable

import click

from .. import NacrithCompressor, NacrithDecompressor, NacrithFile
from ..errors import NacrithError
from ..workers.local import SegmentPool
from . import files
from .files import STDIO, Job
from .progress import Meter
from .report import say

__all__ = ["Settings", "compress_file", "decompress_file"]

READ_BLOCK = 1 << 20
"""Plain input is read 1 MiB at a time: the compressor holds at most one group (lanes x chunk size) anyway."""

ARCHIVE_BLOCK = 1 << 16
"""Archives are fed 64 KiB at a time, so output and the bar follow each decoded group closely."""


@dataclass(frozen=True)
class Settings:
    """What the user asked for, shared by every file of one command."""

    force: bool = False
    keep: bool = True
    verbosity: int = 1
    """0 with -q: errors only; 1: also warnings and the bar; 2 with -v: a summary per file."""
    model: str | None = None
    threads: int | None = None
    lanes: int | None = None
    window: int | None = None
    segment_bytes: int | None = None
    ensemble: bool | None = None
    workers: int | SegmentPool = 1
    """A pool the command starts once for all its files (or 1: this process alone)."""
    gpu: bool = False
    backend: str | None = None
    """--backend (None: llama.cpp to compress, the archive's to decompress)."""
    device: str | None = None
    adapt: bool | None = None
    range: tuple[int, int] | None = None
    """decompress --range: only these original bytes."""
    memory_limit: int | None = None
    """decompress and test --memory (None: the API's default)."""
    dictionary: object | None = None
    """-D: a :class:`~nacrith.Dictionary`, loaded once for all the command's files."""
    equal_info: int | None = None
    """compress --equal-info W: windows of W bits."""
    token_bits: int | None = None

    def coding_options(self) -> dict[str, object]:
        """Keyword arguments for NacrithCompressor: only those given, so the API's defaults stay the defaults."""
        chosen = {
            "model": self.model,
            "threads": self.threads,
            "lanes": self.lanes,
            "window": self.window,
            "segment_bytes": self.segment_bytes,
            "ensemble": self.ensemble,
            "backend": self.backend,
            "device": self.device,
            "adapt": self.adapt,
            "dictionary": self.dictionary,
            "equal_info": self.equal_info,
            "token_bits": self.token_bits,
        }
        return {key: value for key, value in chosen.items() if value is not None} | {"workers": self.workers, "gpu": self.gpu}

    def decoding_options(self) -> dict[str, object]:
        return {
            "model": self.model,
            "threads": self.threads,
            "workers": self.workers,
            "gpu": self.gpu,
            "backend": self.backend,
            "device": self.device,
            "memory_limit": self.memory_limit,
            "dictionary": self.dictionary,
        }


def compress_file(job: Job, settings: Settings) -> None:
    """Compress ``job.source`` into ``job.target``."""
    _run(job, settings, "compress", _compress_stream)


def decompress_file(job: Job, settings: Settings) -> None:
    """Decompress ``job.source`` into ``job.target``, or only check it when the target is None (``test``)."""
    _run(job, settings, "test" if job.target is None else "decompress", _decompress_stream)


Stream = Callable[[BinaryIO, BinaryIO | None, Meter, os.stat_result | None, Settings], None]
"""Moves one input to its output (None: only decode, for ``test``)."""


def _run(job: Job, settings: Settings, command: str, stream: Stream) -> None:
    files.check_job(job, command=command, force=settings.force)
    with files.open_source(job.source) as (source, info):
        show = settings.verbosity >= 1 and files.is_terminal("stderr")
        meter = Meter(job.name, info.st_size if info else None, decoding=command != "compress", show=show)
        try:
            if job.target is None:
                stream(source, None, meter, info, settings)
            else:
                with files.output_stream(job.target, force=settings.force, like=info) as output:
                    stream(source, output, meter, info, settings)
        finally:
            meter.close()
    if command == "test":
        if settings.verbosity >= 2:
            say(f"{job.name}: OK")
        return
    if settings.verbosity >= 2:
        say(f"{job.name}: {meter.summary(job.target_name)}")
    _remove_source(job, settings)


def _remove_source(job: Job, settings: Settings) -> None:
    """--rm: delete the input, which is only reached once the output is complete and in place."""
    if settings.keep or job.source == STDIO:
        return
    if job.target == STDIO:
        if settings.verbosity >= 1:
            say(f"{job.name}: kept: --rm does not apply when writing to stdout")
        return
    try:
        os.unlink(job.source)
    except OSError as exc:
        raise OSError(exc.errno, f"output written, but the input could not be removed: {exc.strerror}") from None


def _compress_stream(source: BinaryIO, output: BinaryIO | None, meter: Meter, info: os.stat_result | None, settings: Settings) -> None:
    assert output is not None
    size = info.st_size if info else None
    compressor = NacrithCompressor(content_size=size, progress=meter, **settings.coding_options())  # type: ignore[arg-type]
    for block in iter(lambda: source.read(READ_BLOCK), b""):
        meter.read(len(block))
        _write(output, compressor.compress(block), meter)
    if size is not None and meter.bytes_in != size:
        # The header already promised `size`; an archive that breaks that promise would not decode.
        raise NacrithError(f"the file changed size while being compressed ({size:,} -> {meter.bytes_in:,} bytes); compress it again")
    _write(output, compressor.flush(), meter)


def _decompress_stream(source: BinaryIO, output: BinaryIO | None, meter: Meter, info: os.stat_result | None, settings: Settings) -> None:
    if settings.range is not None:
        return _decompress_range(source, output, meter, settings)
    decompressor = NacrithDecompressor(progress=meter, read_across_frames=True, **settings.decoding_options())  # type: ignore[arg-type]
    read = getattr(source, "read1", source.read)  # a pipe's bytes as they come, so output follows input
    for block in iter(lambda: read(ARCHIVE_BLOCK), b""):
        meter.read(len(block))
        data = decompressor.decompress(block)
        if output is not None:
            _write(output, data, meter)
        else:
            meter.wrote(len(data))
    decompressor.check_complete()


def _decompress_range(source: BinaryIO, output: BinaryIO | None, meter: Meter, settings: Settings) -> None:
    """Only the original bytes of --range: an indexed archive in a file decodes just the segments that hold them."""
    assert settings.range is not None
    start, end = settings.range
    with NacrithFile(source, "rb", **settings.decoding_options()) as archive:
        size = archive.seek(0, io.SEEK_END)
        if start >= size or end > size:
            raise click.UsageError(f"--range {start}:{end} is outside the content ({size:,} bytes)")
        archive.seek(start)
        data = archive.read(end - start)
    meter.read(0)
    if output is not None:
        _write(output, data, meter)


def _write(output: BinaryIO, data: bytes, meter: Meter) -> None:
    if data:
        output.write(data)
        meter.wrote(len(data))
