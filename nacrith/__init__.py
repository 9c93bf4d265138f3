"""nacrith: lossless compression of text with a language model and an arithmetic coder.

>>> import nacrith
>>> nacrith.decompress(nacrith.compress(b"To be, or not to be")) == b"To be, or not to be"
True

The API follows the stdlib ``lzma`` module: one-shot ``compress``/``decompress``,
reusable ``NacrithCompressor``/``NacrithDecompressor``, ``open`` for files, ``inspect``
for what an archive holds without decoding it, and one error family rooted at ``NacrithError``.
``train`` learns a ``Dictionary`` from samples of a family of small documents, which every
function takes as ``dictionary=``.
"""

from .api import ModelFile, NacrithCompressor, NacrithDecompressor, compress, decompress, resolve_model
from .dictionary import Dictionary
from .dictionary.train import train
from .file import NacrithFile, open
from .inspect import ArchiveInfo, ChunkInfo, FrameInfo, inspect
from .neural.adapt import AdaptParams
from .neural.params import EnsembleParams
from .errors import (
    CorruptArchiveError,
    MemoryLimitError,
    ModelMismatchError,
    ModelNotFoundError,
    NacrithError,
    TruncatedArchiveError,
    UnsupportedFormatError,
)

__version__ = "0.1.0"

__all__ = [
    "compress",
    "decompress",
    "open",
    "NacrithCompressor",
    "NacrithDecompressor",
    "NacrithFile",
    "inspect",
    "ArchiveInfo",
    "FrameInfo",
    "ChunkInfo",
    "resolve_model",
    "ModelFile",
    "train",
    "Dictionary",
    "EnsembleParams",
    "AdaptParams",
    "NacrithError",
    "CorruptArchiveError",
    "TruncatedArchiveError",
    "ModelMismatchError",
    "ModelNotFoundError",
    "UnsupportedFormatError",
    "MemoryLimitError",
    "__version__",
]
