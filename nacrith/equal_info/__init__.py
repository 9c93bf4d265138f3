"""Equal-info windows: text coded into windows of exactly W bits each, every one decodable alone.

From "Training LLMs over Neurally Compressed Text" (Lester et al., 2024): a model drives an
arithmetic coder; tokens go into the current window until one more would not fit its W bits;
the window is padded to exactly W bits, and the next starts from the same fixed model state.
The windows, cut into 8- or 16-bit tokens, are text a second model can be trained on.

>>> import nacrith.equal_info as ei                                   # doctest: +SKIP
>>> windows = ei.encode(b"To be, or not to be", bits=64, token_bits=16)  # doctest: +SKIP
>>> windows.tokens().shape, ei.decode(windows)                        # doctest: +SKIP
((2, 4), b'To be, or not to be')

Here every window starts from the same state, by default the start token alone (primer 1, a short
English text whose KV cache is computed once and copied into each window's lane, measured worse),
and the LLM codes alone (no
ensemble: a window decodes alone, so nothing may learn across windows). Windows decode side by
side in lanes, so decoding runs at the model's lockstep speed. ``nacrith compress --equal-info W``
writes them as an archive (layout 3, FORMAT.md); :class:`Windows` saves them as ``X.npy`` and
``X.json`` for training pipelines.
"""

from __future__ import annotations

import os
from typing import Sequence

from ..container import crc32
from ..engine import Engine, shared_engine
from ..errors import CorruptArchiveError
from ..segments.diagnose import check_model, chunk_failed
from ..container import METHOD_NEURAL, ChunkEntry
from .codec import decode_code, encode_text, equal_info_settings, window_params
from .export import Windows
from .lanes import Progress, WindowFailed

__all__ = ["encode", "decode", "from_archive", "Windows"]


def encode(
    data: bytes,
    *,
    bits: int,
    token_bits: int | None = None,
    primer: int | None = None,
    model: str | os.PathLike[str] | None = None,
    lanes: int = 8,
    threads: int | None = None,
    gpu: bool = False,
    progress: Progress | None = None,
) -> Windows:
    """``data`` as equal-info windows of ``bits`` bits (16 to 65536, a multiple of 8).

    ``token_bits``: 8 or 16 (default 16 when it divides ``bits``), the tokens :meth:`Windows.tokens` cuts
    each window into. ``primer``: the built-in primer's number (default 1; 0 for none). ``lanes``: texts
    coded side by side (the input is cut into at most this many pieces, each ending in a partial window).
    """
    settings = equal_info_settings(bits, token_bits, primer)
    engine = shared_engine(model, threads, gpu=0 if gpu else None)
    params = window_params(engine.start_token(), settings, lanes=lanes, backend=engine.backend)
    data = bytes(data)
    coded = encode_text(engine, data, params, progress=progress)
    offsets = [0]
    for w in coded:
        offsets.append(offsets[-1] + w.length)
    return Windows(b"".join(w.code for w in coded), offsets, params, engine.model_info(), crc32(data))


def decode(
    windows: Windows,
    *,
    select: Sequence[int] | None = None,
    model: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    gpu: bool = False,
    progress: Progress | None = None,
) -> bytes:
    """The text of ``windows``, checked against its CRC-32; or, with ``select`` (window numbers, e.g.
    ``windows.covering(start, end)``), the text of those windows alone, in that order (unchecked: the
    CRC-32 covers the whole content)."""
    engine = shared_engine(model, threads, gpu=0 if gpu else None)
    check_model(windows.model, windows.params, engine)
    chosen = range(len(windows)) if select is None else select
    lengths = windows.lengths
    work = [(windows.window(k), lengths[k]) for k in chosen]
    try:
        texts = decode_code(engine, windows.params, work, progress=progress)
    except WindowFailed as exc:
        _failed(windows, engine, f"window {list(chosen)[exc.window]} {exc.reason}")
    data = b"".join(texts)
    if select is None and crc32(data) != windows.crc:
        _failed(windows, engine, "fails its checksum")
    return data


def from_archive(archive: bytes) -> Windows:
    """The windows of an equal-info archive (one frame of layout 3), read from its blocks without a model:
    window ``k`` is bits ``k * W`` to ``(k + 1) * W`` of the blocks' code, in order."""
    import io

    from ..container import LAYOUT_WINDOWS, EndBlock, FrameReader, WindowBlock

    reader = FrameReader(io.BytesIO(bytes(archive)))
    header = reader.read_header()
    if header.version != 2 or header.layout != LAYOUT_WINDOWS:
        raise ValueError("not an archive of equal-info windows (made with equal_info=W, or --equal-info W)")
    code, crc = bytearray(), 0
    for block in reader.blocks():
        if isinstance(block, WindowBlock):
            code += block.code
        elif isinstance(block, EndBlock):
            crc = block.crc
    offsets = [0]
    for length in reader.windows:
        offsets.append(offsets[-1] + length)
    return Windows(bytes(code), offsets, header.params, header.model, crc)


def _failed(windows: Windows, engine: Engine, reason: str) -> None:
    entry = ChunkEntry(METHOD_NEURAL, windows.offsets[-1], 0, len(windows.code), windows.crc)
    chunk_failed(windows.model, engine, "the windows", entry, reason)
    raise CorruptArchiveError(reason)  # pragma: no cover - chunk_failed always raises
