"""``nacrith info``: the text view of :func:`nacrith.inspect`'s report, and its JSON.

Everything comes from the container alone (no model load): headers, chunk tables and end
blocks. The report is a plain dict, which ``--json`` prints as it is.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from .. import inspect
from ..container import BACKENDS, TORCH_BACKENDS

__all__ = ["inspect_archive", "render_text"]


def inspect_archive(stream: BinaryIO, name: str) -> dict[str, Any]:
    """The report of one archive file: its header, sizes, and every chunk of every group (one report
    per archive of a concatenation, under ``archives``)."""
    return {"file": name, **inspect(stream).as_dict()}


# --- text view ---------------------------------------------------------------


def render_text(report: dict[str, Any]) -> str:
    """The report for people: a block of fields, then the chunk table; one such per archive of a concatenation."""
    if "archives" not in report:
        return _render_frame(report, f"{report['file']}:")
    totals = [
        ("archives", f"{report['frames']} (concatenated; they decode one after another)"),
        ("original size", _bytes(report["original_size"])),
        ("compressed size", _bytes(report["compressed_size"])),
        ("ratio", _ratio(report)),
        ("bits per byte", "-" if report["bits_per_byte"] is None else f"{report['bits_per_byte']:.3f}"),
    ]
    parts = ["\n".join([f"{report['file']}:"] + _fields(totals))]
    for n, frame in enumerate(report["archives"], 1):
        parts.append(_render_frame(frame, f"{report['file']}, archive {n} of {report['frames']}, at byte {frame['offset']:,}:"))
    return "\n\n".join(parts)


def _render_frame(report: dict[str, Any], title: str) -> str:
    model, params = report["model"], report["params"]
    streamed = report["declared_size"] is None
    build = model["llama_cpp_build"] or f"tag {model['build_tag']}"
    fields = [
        ("format version", f"{report['format_version']} ({report['layout']})"),
        ("original size", _bytes(report["original_size"]) + (" (streamed: not known in advance)" if streamed else "")),
        ("compressed size", _bytes(report["compressed_size"])),
        ("ratio", _ratio(report)),
        ("bits per byte", "-" if report["bits_per_byte"] is None else f"{report['bits_per_byte']:.3f}"),
        ("checksum", "CRC-32 per segment (below)" if report["crc32"] is None else f"CRC-32 {report['crc32']}"),
        ("model", model["name"] or "unknown model (not named in the archive)"),
        ("fingerprint", model["fingerprint"]),
        ("backend", _backend(params)),
        ("build", build),
        ("precision", f"{params['precision_bits']} bits"),
        ("lanes", str(params["lanes"])),
        ("window", f"{params['window']:,} tokens"),
        ("slide keep", f"{params['slide_keep']:,} tokens"),
        ("chunk size", _bytes(params["chunk_bytes"])),
        ("segment size", _bytes(params["segment_bytes"]) if params["segment_bytes"] else "- (one sequence)"),
        ("start token", str(params["start_token"])),
        ("ensemble", _ensemble(params["ensemble"])),
        ("adaptation", _ensemble(params["adapt"]) if params.get("adapt") else "off"),
        ("dictionary", f"{params['dictionary']:014x} (decode with -D and that dictionary)" if params.get("dictionary") else "none"),
        ("segments", str(len(report["segments"]))),
        ("groups", str(report["groups"])),
    ]
    windows = report.get("windows")
    if windows:
        average = "-" if windows["average_bytes"] is None else f"{windows['average_bytes']:.2f}"
        ratio = "-" if windows["code_bits_ratio"] is None else f"{windows['code_bits_ratio']:.3f}"
        fields[-3:] = [
            ("windows", f"{windows['count']:,} of {windows['bits']} bits, {average} bytes each on average"),
            ("bit compression ratio", f"{ratio} (text bits over window bits, the length table not counted)"),
            ("token width", f"{windows['token_bits']} bits ({windows['bits'] // windows['token_bits']} tokens per window)"),
            ("primer", "none (the start token alone)" if windows["primer"] == 0 else f"{windows['primer']} (built in)"),
            ("window blocks", str(report["groups"])),
        ]
        fields = [f for f in fields if f[0] not in ("chunk size", "segment size")]  # layout 3 has neither
    for method, total in report["methods"].items():
        bpb = 8.0 * total["payload_size"] / total["original_size"]
        summary = f"{total['chunks']}: {_bytes(total['original_size'])} -> {total['payload_size']:,} ({bpb:.3f} bits/byte)"
        fields.append((f"{method} chunks", summary))
    lines = [title] + _fields(fields)
    if len(report["segments"]) > 1:
        lines += ["", "  seek index:"] + _table(report["segments"], _SEGMENT_COLUMNS)
    if report["chunks"]:
        lines += [""] + _table(report["chunks"], _CHUNK_COLUMNS)
    return "\n".join(lines)


def _backend(params: dict[str, Any]) -> str:
    name = BACKENDS.get(params.get("backend", 0), f"unknown ({params.get('backend')})")
    return name + (f", {params['threads']} threads" if params.get("backend") in TORCH_BACKENDS else "")


def _ensemble(ensemble: dict[str, int] | None) -> str:
    if ensemble is None:
        return "off (the LLM alone)"
    return ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in ensemble.items())


def _fields(pairs: list[tuple[str, str]]) -> list[str]:
    width = max(len(label) for label, _ in pairs)
    return [f"  {label.ljust(width)}  {value}" for label, value in pairs]


_CHUNK_COLUMNS = [
    ("segment", "segment", "{:,}"),
    ("group", "group", "{:,}"),
    ("chunk", "chunk", "{:,}"),
    ("method", "method", "{}"),
    ("original", "original_size", "{:,}"),
    ("payload", "payload_size", "{:,}"),
    ("bits/byte", "bits_per_byte", "{:.3f}"),
]

_SEGMENT_COLUMNS = [
    ("offset", "plain_offset", "{:,}"),
    ("size", "plain_size", "{:,}"),
    ("archive offset", "archive_offset", "{:,}"),
    ("archive size", "archive_size", "{:,}"),
    ("CRC-32", "crc32", "{}"),
]


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str, str]]) -> list[str]:
    """Rows under a title line, numbers right-aligned; a group of -1 (a segment's other bytes) shows as "-"."""
    cells = [[title for title, _, _ in columns]]
    cells += [["-" if key == "group" and row[key] < 0 else fmt.format(row[key]) for _, key, fmt in columns] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return ["  " + "  ".join(cell.ljust(w) if key == "method" else cell.rjust(w) for cell, w, (_, key, _) in zip(row, widths, columns)) for row in cells]


def _bytes(n: int) -> str:
    return f"{n:,} bytes"


def _ratio(report: dict[str, Any]) -> str:
    original, compressed = report["original_size"], report["compressed_size"]
    if not original:
        return "- (empty input)"
    return f"{report['ratio']:.3f} ({100.0 * compressed / original:.2f}% of the original)"
