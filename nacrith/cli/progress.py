"""What one file's coding did: counts the API reports, a tqdm bar while it runs, a line when it ends.

The bar goes to stderr and only when stderr is a terminal, so pipes and logs get no
control characters (zstd's rule). Counting happens whether or not a bar is drawn, because
``-v`` prints the same numbers as a summary.
"""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

__all__ = ["Meter"]

_POSTFIX_INTERVAL = 0.25
"""Seconds between postfix redraws: the API reports every coded token, far more often than a terminal needs."""


class Meter:
    """The progress callback for one file, and the numbers its summary line reports.

    The API calls it as ``meter(bytes_done, tokens, bits)`` (increments). The bar counts input
    bytes: for compression those the API reports coded; for decompression the archive bytes
    read, which the caller reports with :meth:`read`, since the decoder reports output bytes.
    """

    def __init__(self, name: str, total: int | None, *, decoding: bool, show: bool) -> None:
        self.decoding = decoding
        self.started = time.monotonic()
        self.bytes_in = 0
        """Bytes read from the input (plain text when compressing, the archive when decoding)."""
        self.bytes_out = 0
        """Bytes written to the output."""
        self.coded = 0
        """Original bytes the API reports finished, in either direction."""
        self.tokens = 0
        self._bits = 0.0
        self._settled_bits = 0.0
        """Bits of the work whose bytes were reported: tokens are reported as they are coded,
        their group's bytes only when the group ends, so this ratio stays honest mid-group."""
        self._last_postfix = 0.0
        self._bar = tqdm(
            total=total,
            desc=name,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            leave=False,
            dynamic_ncols=True,
            file=sys.stderr,
            disable=not show,
        )

    def __call__(self, nbytes: int, tokens: int, bits: float) -> None:
        self.tokens += tokens
        self._bits += bits
        if nbytes:
            self.coded += nbytes
            self._settled_bits = self._bits
            if not self.decoding:
                self._bar.update(nbytes)
        self._redraw()

    def read(self, nbytes: int) -> None:
        """The caller read ``nbytes`` of input."""
        self.bytes_in += nbytes
        if self.decoding:
            self._bar.update(nbytes)

    def wrote(self, nbytes: int) -> None:
        """The caller wrote ``nbytes`` of output."""
        self.bytes_out += nbytes

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / max(self.elapsed, 1e-9)

    def running_bits_per_byte(self) -> float | None:
        """Bits per original byte so far: the model's cost when compressing, archive bytes read when decoding."""
        if not self.coded:
            return None
        bits = 8.0 * self.bytes_in if self.decoding else self._settled_bits
        return bits / self.coded

    def _redraw(self) -> None:
        if self._bar.disable:
            return
        now = time.monotonic()
        if now - self._last_postfix < _POSTFIX_INTERVAL:
            return
        self._last_postfix = now
        parts = [f"{self.tokens_per_second:.0f} tok/s"] if self.tokens else []
        bpb = self.running_bits_per_byte()
        if bpb is not None:
            parts.append(f"{bpb:.3f} bpb")
        self._bar.set_postfix_str(", ".join(parts), refresh=True)

    def close(self) -> None:
        """Take the bar off the terminal, so the next message starts on a clean line."""
        self._bar.close()

    def summary(self, target: str) -> str:
        """One line in the spirit of ``zstd -v``: sizes, ratio, bits per byte, speed, destination."""
        original, archive = (self.bytes_out, self.bytes_in) if self.decoding else (self.bytes_in, self.bytes_out)
        line = f"{self.bytes_in:,} -> {self.bytes_out:,} bytes"
        if original:
            line += f" ({100.0 * archive / original:.2f}%, {8.0 * archive / original:.3f} bits/byte)"
        if self.tokens:
            line += f", {self.tokens:,} tokens at {self.tokens_per_second:.1f} tok/s"
        line += f", {self.elapsed:.2f} s"
        return f"{line} -> {target}" if target else line
