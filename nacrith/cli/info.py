"""``nacrith info``: what an archive holds, read from its container alone, without decoding.

Everything here comes from nacrith.container.FrameReader, so it costs a read of the file,
never a model load: headers, chunk tables and end blocks. The report is a plain dict,
which ``--json`` prints as it is and the text view lays out for people.
"""

from __future__ import annotations

import dataclasses
from typing import Any, BinaryIO

from ..constants import FORMAT_VERSION
from ..container import EndBlock, FrameReader
from ..errors import CorruptArchiveError, UnsupportedFormatError
from ..models import registry

__all__ = ["inspect_archive", "render_text"]


def inspect_archive(stream: BinaryIO, name: str) -> dict[str, Any]:
    """The report of one file: totals, and one entry per archive in it (concatenated archives are allowed)."""
    frames = []
    while True:
        try:
            frames.append(_inspect_frame(stream))
        except UnsupportedFormatError as exc:
            if not frames:
                raise
            raise CorruptArchiveError(f"archive {len(frames)} is followed by data that is not another archive: {exc}") from None
        more = stream.read(1)
        if not more:
            break
        stream = _Prepended(more, stream)
    original = sum(f["original_size"] for f in frames)
    compressed = sum(f["compressed_size"] for f in frames)
    return {"file": name, "original_size": original, "compressed_size": compressed, **_ratios(original, compressed), "archives": frames}


def _inspect_frame(stream: BinaryIO) -> dict[str, Any]:
    reader = FrameReader(stream)
    header = reader.read_header()
    chunks: list[dict[str, Any]] = []
    group = 0
    while not isinstance(block := reader.read_block(), EndBlock):
        for index, entry in enumerate(block.entries):
            chunks.append(
                {
                    "group": group,
                    "chunk": index,
                    "method": entry.method_name,
                    "original_size": entry.length,
                    "tokens": entry.tokens,
                    "payload_size": entry.payload_length,
                    "bits_per_byte": 8.0 * entry.payload_length / entry.length,
                }
            )
        group += 1
    end, model = block, header.model
    return {
        # FrameReader rejects every other version, so a header it accepted is this one.
        "format_version": FORMAT_VERSION,
        "original_size": end.content_size,
        "declared_size": header.content_size,
        "compressed_size": reader.offset,
        **_ratios(end.content_size, reader.offset),
        "crc32": f"{end.crc:08x}",
        "model": {
            "name": registry.known_name(model.fingerprint) or model.name,
            "stored_name": model.name,
            "fingerprint": model.fingerprint.hex(),
            "llama_cpp_build": model.llama_version,
        },
        "params": dataclasses.asdict(header.params),
        "groups": group,
        "methods": _method_totals(chunks),
        "chunks": chunks,
    }


def _ratios(original: int, compressed: int) -> dict[str, float | None]:
    """zstd -l's ratio (original over compressed) and bits per original byte; None for empty input."""
    return {
        "ratio": original / compressed if compressed else None,
        "bits_per_byte": 8.0 * compressed / original if original else None,
    }


def _method_totals(chunks: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """How much of the input each method took: the first thing to check when an archive is larger than hoped."""
    totals: dict[str, dict[str, int]] = {}
    for chunk in chunks:
        total = totals.setdefault(chunk["method"], {"chunks": 0, "original_size": 0, "payload_size": 0, "tokens": 0})
        total["chunks"] += 1
        total["original_size"] += chunk["original_size"]
        total["payload_size"] += chunk["payload_size"]
        total["tokens"] += chunk["tokens"]
    return totals


class _Prepended:
    """A stream with bytes put back in front: how the reader looks past an archive's end without seeking."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def read(self, n: int = -1) -> bytes:
        if not self._head:
            return self._rest.read(n)
        if n is not None and 0 <= n <= len(self._head):
            out, self._head = self._head[:n], self._head[n:]
            return out
        out, self._head = self._head, b""
        return out + self._rest.read(-1 if n is None or n < 0 else n - len(out))


# --- text view ---------------------------------------------------------------


def render_text(report: dict[str, Any]) -> str:
    """The report for people: one block of fields per archive, then its chunk table."""
    lines = [f"{report['file']}:"]
    archives = report["archives"]
    if len(archives) > 1:
        lines += _fields(
            [
                ("archives", f"{len(archives)} (concatenated)"),
                ("original size", _bytes(report["original_size"])),
                ("compressed size", _bytes(report["compressed_size"])),
                ("ratio", _ratio(report)),
                ("bits per byte", _bpb(report["bits_per_byte"])),
            ]
        )
    for number, frame in enumerate(archives, 1):
        if len(archives) > 1:
            lines += ["", f"  archive {number} of {len(archives)}:"]
        lines += _frame_text(frame)
    return "\n".join(lines)


def _frame_text(frame: dict[str, Any]) -> list[str]:
    model, params = frame["model"], frame["params"]
    declared = frame["declared_size"]
    fields = [
        ("format version", str(frame["format_version"])),
        ("original size", _bytes(frame["original_size"]) + ("" if declared is not None else " (streamed: not known in advance)")),
        ("compressed size", _bytes(frame["compressed_size"])),
        ("ratio", _ratio(frame)),
        ("bits per byte", _bpb(frame["bits_per_byte"])),
        ("checksum", f"CRC-32 {frame['crc32']}"),
        ("model", model["name"] or "unknown model (not named in the archive)"),
        ("fingerprint", model["fingerprint"]),
        ("llama.cpp build", model["llama_cpp_build"]),
        ("precision", f"{params['precision_bits']} bits"),
        ("lanes", str(params["lanes"])),
        ("window", f"{params['window']:,} tokens"),
        ("slide keep", f"{params['slide_keep']:,} tokens"),
        ("chunk size", _bytes(params["chunk_bytes"])),
        ("start token", str(params["start_token"])),
        ("groups", str(frame["groups"])),
    ]
    for method, total in frame["methods"].items():
        bpb = 8.0 * total["payload_size"] / total["original_size"]
        fields.append((f"{method} chunks", f"{total['chunks']}: {_bytes(total['original_size'])} -> {total['payload_size']:,} ({bpb:.3f} bits/byte)"))
    lines = _fields(fields)
    if frame["chunks"]:
        lines += [""] + _table(frame["chunks"])
    return lines


def _fields(pairs: list[tuple[str, str]]) -> list[str]:
    width = max(len(label) for label, _ in pairs)
    return [f"  {label.ljust(width)}  {value}" for label, value in pairs]


_COLUMNS = [
    ("group", "group", "{:,}"),
    ("chunk", "chunk", "{:,}"),
    ("method", "method", "{}"),
    ("original", "original_size", "{:,}"),
    ("tokens", "tokens", "{:,}"),
    ("payload", "payload_size", "{:,}"),
    ("bits/byte", "bits_per_byte", "{:.3f}"),
]


def _table(chunks: list[dict[str, Any]]) -> list[str]:
    rows = [[title for title, _, _ in _COLUMNS]]
    rows += [[fmt.format(chunk[key]) for _, key, fmt in _COLUMNS] for chunk in chunks]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    return ["  " + "  ".join(cell.ljust(w) if key == "method" else cell.rjust(w) for cell, w, (_, key, _) in zip(row, widths, _COLUMNS)) for row in rows]


def _bytes(n: int) -> str:
    return f"{n:,} bytes"


def _ratio(report: dict[str, Any]) -> str:
    original, compressed = report["original_size"], report["compressed_size"]
    if not original:
        return "- (empty input)"
    return f"{report['ratio']:.3f} ({100.0 * compressed / original:.2f}% of the original)"


def _bpb(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
