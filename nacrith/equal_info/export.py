"""Windows as a training pipeline reads them: a token array (.npy) and a JSON file beside it.

``X.npy`` holds one row per window: the window's W bits cut into W / token_bits tokens, most
significant bits first, as unsigned integers (uint8 for 8-bit tokens, uint16 for 16-bit).
``X.json`` holds everything else: the model's identity, the coding parameters (so decoding
needs no flags), the content's size and CRC-32, and ``offsets``, the plain-text offset of every
window and the content's end (window k is bytes ``offsets[k]`` to ``offsets[k + 1]``), so a
pipeline can align windows with the text and a reader can find the windows of a byte range.
"""

from __future__ import annotations

import bisect
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..container import CodingParams, EqualInfo, ModelInfo
from ..errors import CorruptArchiveError, UnsupportedFormatError

__all__ = ["Windows", "FORMAT_NAME"]

FORMAT_NAME = "nacrith equal-info windows"
FORMAT_VERSION = 1


@dataclass
class Windows:
    """Equal-info windows: their code, where each one's text is, and what decodes them."""

    code: bytes
    """Every window's W bits, in order: window k is bytes ``k * W / 8`` to ``(k + 1) * W / 8``."""
    offsets: list[int]
    """The text offset of each window, then the content's size."""
    params: CodingParams
    model: ModelInfo
    crc: int
    """CRC-32 of the whole content."""

    def __post_init__(self) -> None:
        if self.params.equal_info is None:
            raise ValueError("windows need equal-info parameters")

    @property
    def bits(self) -> int:
        return self.settings.bits

    @property
    def settings(self) -> EqualInfo:
        assert self.params.equal_info is not None
        return self.params.equal_info

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> list[int]:
        return [b - a for a, b in zip(self.offsets, self.offsets[1:])]

    def window(self, k: int) -> bytes:
        """The code of window ``k``: it starts at bit ``k * W``."""
        size = self.bits // 8
        if not 0 <= k < len(self):
            raise IndexError(f"window {k} of {len(self)}")
        return self.code[k * size : (k + 1) * size]

    def covering(self, start: int, end: int) -> range:
        """The windows that hold text bytes ``start`` to ``end`` (``end`` excluded)."""
        if not 0 <= start < end <= self.offsets[-1]:
            raise ValueError(f"byte range {start}:{end} is not within the content's {self.offsets[-1]} bytes")
        return range(bisect.bisect_right(self.offsets, start) - 1, bisect.bisect_left(self.offsets, end))

    # --- as tokens -------------------------------------------------------------------------------

    def tokens(self) -> np.ndarray:
        """The windows as a (windows, W / token_bits) array of uint8 or uint16 tokens."""
        width = self.settings.token_bits
        big = np.frombuffer(self.code, dtype=">u2" if width == 16 else np.uint8)
        return big.astype(np.uint16 if width == 16 else np.uint8).reshape(len(self), self.bits // width)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``X.npy`` (the tokens) and ``X.json`` beside it; returns the JSON's path."""
        path = Path(path)
        np.save(path, self.tokens(), allow_pickle=False)
        meta = path.with_suffix(".json")
        meta.write_text(json.dumps(self.describe(), indent=1) + "\n")
        return meta

    def describe(self) -> dict:
        """The JSON beside the tokens."""
        p, e, m = self.params, self.settings, self.model
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "windows": len(self),
            "window_bits": e.bits,
            "token_bits": e.token_bits,
            "dtype": "uint16" if e.token_bits == 16 else "uint8",
            "model": {"fingerprint": m.fingerprint.hex(), "build_tag": m.build_tag.hex(), "name": m.name, "build": m.build, "preset": m.preset},
            "coding": {
                "precision_bits": p.precision_bits,
                "lanes": p.lanes,
                "kv_window": p.window,
                "slide_keep": p.slide_keep,
                "start_token": p.start_token,
                "primer": e.primer,
                "backend": p.backend,
            },
            "content_size": self.offsets[-1],
            "crc32": f"{self.crc:08x}",
            "offsets": self.offsets,
        }

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Windows":
        """The windows of ``X.npy`` and ``X.json`` (either path may be given)."""
        path = Path(path)
        npy, meta_path = path.with_suffix(".npy"), path.with_suffix(".json")
        try:
            meta = json.loads(meta_path.read_text())
        except FileNotFoundError:
            raise CorruptArchiveError(f"{meta_path} is missing: the windows' JSON goes beside their .npy") from None
        except json.JSONDecodeError as exc:
            raise CorruptArchiveError(f"{meta_path} is not JSON: {exc}") from None
        if meta.get("format") != FORMAT_NAME:
            raise UnsupportedFormatError(f"{meta_path} does not describe {FORMAT_NAME}")
        if meta.get("version") != FORMAT_VERSION:
            raise UnsupportedFormatError(f"{meta_path} is version {meta.get('version')}; this nacrith reads version {FORMAT_VERSION}")
        try:
            return cls._from(np.load(npy, allow_pickle=False), meta)
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptArchiveError(f"{meta_path} and {npy} do not describe windows: {exc}") from None

    @classmethod
    def _from(cls, tokens: np.ndarray, meta: dict) -> "Windows":
        e = EqualInfo(int(meta["window_bits"]), int(meta["token_bits"]), int(meta["coding"]["primer"]))
        if e.problems():
            raise ValueError(", ".join(e.problems()))
        c = meta["coding"]
        params = CodingParams(
            int(c["precision_bits"]), int(c["lanes"]), int(c["kv_window"]), int(c["slide_keep"]), 65536, int(c["start_token"]),
            None, 1 << 20, int(c["backend"]), 0, equal_info=e,
        )
        params.validate()
        offsets = [int(x) for x in meta["offsets"]]
        n = len(offsets) - 1
        if n < 0 or offsets[0] != 0 or any(b <= a for a, b in zip(offsets, offsets[1:])) or offsets[-1] != meta["content_size"]:
            raise ValueError("offsets must rise from 0 to the content size")
        dtype = np.uint16 if e.token_bits == 16 else np.uint8
        if tokens.dtype != dtype or tokens.shape != (n, e.bits // e.token_bits):
            raise ValueError(f"the array is {tokens.dtype} {tokens.shape}, not {np.dtype(dtype)} ({n}, {e.bits // e.token_bits})")
        code = tokens.astype(">u2").tobytes() if e.token_bits == 16 else tokens.tobytes()
        m = meta["model"]
        model = ModelInfo(bytes.fromhex(m["fingerprint"]), bytes.fromhex(m["build_tag"]), m["name"], m["build"], int(m["preset"]))
        return cls(code, offsets, params, model, int(meta["crc32"], 16))
