"""A version 1 frame decoded: groups of stored, zstd and neural chunks sharing one ensemble, then the end block.

nacrith writes version 2 (:mod:`.decoder`); this reads the archives of version 1. Its neural
chunks carry their token counts, and its ensemble learns across the whole frame.
"""

from __future__ import annotations

from typing import Callable

from .. import fallback
from ..container import METHOD_NEURAL_CRLF, NEURAL_METHODS, EndBlock, FrameHeader, Group, crc32
from ..engine import Engine
from ..errors import CorruptArchiveError
from ..memory import context_tokens
from ..neural.ensemble import Ensemble
from ..neural.lanes import decode_group
from ..transforms import lf_to_crlf
from ..segments.diagnose import CheckedEngine, chunk_failed
from ..segments.progress import LaneReport, Progress

__all__ = ["V1FrameDecoder"]


class V1FrameDecoder:
    """Decodes the blocks of one version 1 frame in order, from its header.

    ``engine_factory`` is called only when the first neural chunk appears; ``memory_limit`` as
    :class:`~.decoder.FrameDecoder`'s.
    """

    def __init__(
        self, header: FrameHeader, engine_factory: Callable[[], Engine], progress: Progress | None = None, memory_limit: int | None = None
    ) -> None:
        self.header = header
        self._engine = CheckedEngine(engine_factory, header.model, header.params, memory_limit)
        self._ensemble: Ensemble | None = None
        self._progress = progress
        self._crc = 0
        self._size = 0
        self._groups = 0
        self.finished = False

    def decode(self, block: Group | EndBlock) -> bytes:
        """The original bytes of a group (b"" for the end block, which is checked)."""
        if self.finished:
            raise CorruptArchiveError("data after the end block")
        if isinstance(block, EndBlock):
            self._check_end(block)
            self.finished = True
            return b""
        neural = [i for i, e in enumerate(block.entries) if e.method in NEURAL_METHODS]
        tokens: dict[int, list[int]] = {}
        if neural:
            counts = [block.entries[i].tokens for i in neural]
            engine = self._engine.group(len(neural), max(counts), f"group {self._groups}")
            p = self.header.params
            if p.ensemble is not None and self._ensemble is None:
                self._ensemble = Ensemble(p.ensemble, engine.model.vocab_size, p.precision_bits)
            methods = [block.entries[i].method for i in neural]
            report = LaneReport(self._progress, engine.model, methods) if self._progress else None
            decoded = decode_group(
                engine.evaluator(len(neural), context_tokens(p.window, max(counts))),
                [block.payloads[i] for i in neural],
                counts,
                p,
                ensemble=self._ensemble,
                progress=report,
            )
            tokens = dict(zip(neural, decoded))
        parts = []
        for i, (entry, payload) in enumerate(zip(block.entries, block.payloads)):
            if i in tokens:
                data = self._engine().model.detokenize(tokens[i])
                if entry.method == METHOD_NEURAL_CRLF:
                    data = lf_to_crlf(data)
            else:
                data = fallback.unpack(entry.method, payload, entry.length)
            if len(data) != entry.length or crc32(data) != entry.crc:
                chunk_failed(self.header.model, self._engine.engine, f"group {self._groups}, chunk {i}", entry)
            parts.append(data)
        out = b"".join(parts)
        self._crc = crc32(out, self._crc)
        self._size += len(out)
        self._groups += 1
        if self._progress:  # neural bytes were reported token by token
            self._progress(sum(e.length for i, e in enumerate(block.entries) if i not in tokens), 0, 0.0)
        return out

    def _check_end(self, end: EndBlock) -> None:
        declared = self.header.content_size
        if end.content_size != self._size or (declared is not None and declared != self._size):
            raise CorruptArchiveError(
                f"the archive decodes to {self._size} bytes, but it declares {end.content_size}"
                + (f" (header: {declared})" if declared is not None else "")
            )
        if end.crc != self._crc:
            raise CorruptArchiveError("the content checksum does not match: the archive is damaged")
