"""Reading the container's primitives from a stream: bytes, varints, short strings, with bounded allocation."""

from __future__ import annotations

from typing import BinaryIO

from ..errors import CorruptArchiveError, TruncatedArchiveError

__all__ = ["ByteReader"]

_READ_PIECE = 1 << 20
_MAX_VARINT_BYTES = 9  # 63 bits: more than any size this format describes


class ByteReader:
    """A stream and the offset of its next byte in the whole input, so errors name the byte."""

    def __init__(self, stream: BinaryIO, offset: int = 0) -> None:
        self._stream = stream
        self.offset = offset

    def read(self, n: int, what: str) -> bytes:
        """Exactly ``n`` bytes, read in bounded pieces: ``n`` may come from damage, and file.read(n)
        would allocate it first."""
        parts, got = [], 0
        while got < n:
            piece = self._stream.read(min(n - got, _READ_PIECE))
            if not piece:
                break
            parts.append(piece)
            got += len(piece)
        data = b"".join(parts)
        if len(data) != n:
            raise TruncatedArchiveError(f"truncated archive: {what} at byte {self.offset} needs {n} bytes, got {len(data)}")
        self.offset += n
        return data

    def read_up_to(self, n: int) -> bytes:
        """At most ``n`` bytes (fewer at the end of the stream)."""
        data = self._stream.read(n)
        self.offset += len(data)
        return data

    def byte(self, what: str) -> int:
        return self.read(1, what)[0]

    def u32(self, what: str) -> int:
        return int.from_bytes(self.read(4, what), "little")

    def varint(self, what: str) -> int:
        value = 0
        for i in range(_MAX_VARINT_BYTES):
            byte = self.byte(what)
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if i and byte == 0:
                    raise CorruptArchiveError(f"over-long varint for {what} at byte {self.offset}")
                return value
        raise CorruptArchiveError(f"varint for {what} longer than {_MAX_VARINT_BYTES} bytes at byte {self.offset}")

    def short_string(self, what: str) -> str:
        raw = self.read(self.byte(what), what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptArchiveError(f"{what} is not UTF-8") from None
