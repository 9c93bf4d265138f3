"""The one error family of nacrith.

Every failure a user can cause (bad archive, wrong model, unsupported version)
is a :class:`NacrithError`, so ``except nacrith.NacrithError`` catches them all,
the way ``lzma.LZMAError`` does for the stdlib. Bad *arguments* stay
``ValueError``/``TypeError``, as in the stdlib.
"""

from __future__ import annotations

__all__ = [
    "NacrithError",
    "CorruptArchiveError",
    "TruncatedArchiveError",
    "ModelMismatchError",
    "ModelNotFoundError",
    "UnsupportedFormatError",
    "MemoryLimitError",
]


class NacrithError(Exception):
    """Base class of every error nacrith raises on purpose."""


class CorruptArchiveError(NacrithError):
    """The archive is truncated, damaged, or not what its header claims."""


class TruncatedArchiveError(CorruptArchiveError):
    """The archive ends before its end block: cut short in transfer or still being written."""


class UnsupportedFormatError(NacrithError):
    """Not a nacrith archive, or one written by a newer format version."""


class ModelMismatchError(NacrithError):
    """The archive needs a different model, or a llama.cpp whose logits differ."""


class ModelNotFoundError(NacrithError):
    """The model file is missing or is not a GGUF file."""


class MemoryLimitError(NacrithError):
    """Decoding the archive needs more memory than the limit allows (``memory_limit=``, ``--memory``).

    ``need`` and ``limit`` are in bytes; the message names both, and what the need is made of.
    """

    def __init__(self, message: str, need: int = 0, limit: int = 0) -> None:
        super().__init__(message, need, limit)  # all in args, so the error crosses process boundaries intact
        self.need = need
        self.limit = limit

    def __str__(self) -> str:
        return str(self.args[0])
