"""Measures nacrith on text inside other bytes, for BENCHMARKS.md ("Text inside any input").

Inputs, built here the same way every time from the Canterbury corpus (``--corpora``):

* ``tar``: a GNU tar of the first ``--limit`` bytes (default 16 KiB) of each of ``--files``
  (default alice29.txt, asyoulik.txt, lcet10.txt, plrabn12.txt, fields.c, grammar.lsp, xargs.1
  and cp.html; the shorter ones whole), against the same files compressed one by one (``files``);
* ``mixed``: alice29.txt's first 1.5 ``--limit`` bytes with a binary record (a 10-byte header
  and 16 to 64 random bytes) after every 12th line;
* ``mbox``: three mails of lcet10.txt's text, 3/4 ``--limit`` bytes in all, one with an
  attachment of ``--limit`` / 3 random bytes in base64 (76-character lines);
* ``alice``: alice29.txt's first 2 ``--limit`` bytes, which is text alone.

Each is compressed with nacrith's defaults and decompressed (the round trip is checked), and
compressed with ``xz -9e`` and ``zstd -19``. Usage::

    python scripts/text_inside.py --corpora ../shared/corpora [--only tar,mixed] [--limit 1536]
        [--files alice29.txt,fields.c] [--json out.json]

Run it alone on the machine: it loads the model.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import random
import struct
import subprocess
import tarfile
import time
from pathlib import Path

import nacrith

TAR_FILES = ["alice29.txt", "asyoulik.txt", "lcet10.txt", "plrabn12.txt", "fields.c", "grammar.lsp", "xargs.1", "cp.html"]


def tar_members(corpus: Path, names: list[str], limit: int) -> list[tuple[str, bytes]]:
    return [(name, (corpus / name).read_bytes()[:limit]) for name in names]


def make_tar(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo("docs/" + name)
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
            info.uid, info.gid, info.uname, info.gname = 1000, 1000, "user", "user"
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def mixed(corpus: Path, size: int) -> bytes:
    rng = random.Random(29)
    lines = (corpus / "alice29.txt").read_bytes()[:size].split(b"\r\n")
    out = []
    for i, line in enumerate(lines):
        out.append(line + (b"\r\n" if i < len(lines) - 1 else b""))
        if i % 12 == 11:
            payload = rng.randbytes(rng.randint(16, 64))
            out.append(b"\x00\x01" + struct.pack("<IIH", 1_700_000_000 + 37 * i, i, len(payload)) + payload)
    return b"".join(out)


def mbox(corpus: Path, size: int, attached: int) -> bytes:
    text = (corpus / "lcet10.txt").read_bytes()[:size].replace(b"\r\n", b"\n")
    third = len(text) // 3
    bodies = [text[:third], text[third : 2 * third], text[2 * third :]]
    attachment = base64.encodebytes(random.Random(5).randbytes(attached))
    mails = []
    for i, body in enumerate(bodies):
        head = (
            f"From user{i}@example.org Mon Jan {i + 1} 10:00:00 2024\nFrom: User {i} <user{i}@example.org>\n"
            f"To: list@example.org\nSubject: Re: the report, part {i + 1}\nDate: Mon, {i + 1} Jan 2024 10:00:00 +0000\n"
            "MIME-Version: 1.0\n"
        ).encode()
        if i == 1:
            head += b'Content-Type: multipart/mixed; boundary="XYZ"\n\n--XYZ\nContent-Type: text/plain; charset=us-ascii\n\n'
            mails.append(
                head + body + b'\n--XYZ\nContent-Type: application/octet-stream; name="data.bin"\n'
                b'Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename="data.bin"\n\n' + attachment + b"--XYZ--\n\n"
            )
        else:
            mails.append(head + b"Content-Type: text/plain; charset=us-ascii\n\n" + body + b"\n\n")
    return b"".join(mails)


def tool(command: list[str], data: bytes) -> int:
    return len(subprocess.run(command, input=data, capture_output=True, check=True).stdout)


def measure(name: str, data: bytes) -> dict:
    began = time.perf_counter()
    archive = nacrith.compress(data)
    seconds = time.perf_counter() - began
    restored = nacrith.decompress(archive)
    info = nacrith.inspect(archive)
    chunks = [c for f in info.frames for c in f.chunks]
    return {
        "input": name,
        "bytes": len(data),
        "nacrith": len(archive),
        "verified": restored == data,
        "neural_bytes": sum(c.original_size for c in chunks if c.neural),
        "neural_chunks": sum(c.neural for c in chunks),
        "other": [(c.method, c.original_size, c.payload_size) for c in chunks if not c.neural],
        "xz -9e": tool(["xz", "-9e", "-c"], data),
        "zstd -19": tool(["zstd", "-19", "-c", "-q"], data),
        "compress_seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=Path("../shared/corpora"))
    parser.add_argument("--only", default="tar,files,mixed,mbox,alice")
    parser.add_argument("--limit", type=int, default=16384, help="bytes of each file in the tar; the other inputs scale with it")
    parser.add_argument("--files", default=",".join(TAR_FILES), help="the Canterbury files in the tar")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    corpus = args.corpora / "canterbury"
    wanted = args.only.split(",")
    results = []
    members, limit = tar_members(corpus, args.files.split(","), args.limit), args.limit
    inputs = {
        "tar": lambda: [(f"tar of {len(members)} Canterbury files", make_tar(members))],
        "files": lambda: [(f"docs/{name}", data) for name, data in members],
        "mixed": lambda: [(f"alice29.txt's first {3 * limit // 2} bytes with binary records", mixed(corpus, 3 * limit // 2))],
        "mbox": lambda: [("mbox with a base64 attachment", mbox(corpus, 3 * limit // 4, limit // 3))],
        "alice": lambda: [(f"alice29.txt, first {2 * limit} bytes", (corpus / "alice29.txt").read_bytes()[: 2 * limit])],
    }
    for kind in wanted:
        for name, data in inputs[kind]():
            results.append(measure(name, data))
            print(json.dumps(results[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
