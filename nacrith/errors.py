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
