"""Dictionaries: what a family of small documents shares, learned once from samples (FORMAT.md, "Dictionaries").

A dictionary is a file (:mod:`.layout`) that holds, for one model, a primer (tokens every lane
sees before its chunk: a few typical documents of the family) and an ensemble's start state
(bias, mixer weights, and token sequences whose n-gram and match tables every segment starts
from). ``nacrith train`` makes one (:mod:`.train`); an archive made with it records its identity
(header key 20) and decodes only with it.

A :class:`Dictionary` is loaded once and used for any number of archives: its ensemble state is
replayed on first use and kept, and the engine keeps its primer's cache, so many small files
pay for neither more than once.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np

from ..errors import CorruptArchiveError, ModelMismatchError
from ..neural.ensemble import Ensemble, Learned
from ..neural.params import RATE_BITS, EnsembleParams
from ..neural.schedule import Prefix
from .layout import MAX_DICTIONARY_BYTES, DictionaryContent, identity_of, read_dictionary, write_dictionary

__all__ = ["Dictionary", "DictionaryContent", "write_dictionary", "read_dictionary", "identity_of", "as_dictionary"]


class Dictionary:
    """A loaded dictionary file: its identity, model, primer and ensemble state.

    >>> d = Dictionary.load("family.nacrd")  # doctest: +SKIP
    >>> nacrith.compress(record, dictionary=d)  # doctest: +SKIP
    """

    def __init__(self, data: bytes, name: str = "") -> None:
        """``data``: the file's bytes; ``name``: how messages call it (its path). Raises
        UnsupportedFormatError or CorruptArchiveError for bytes that are not a valid dictionary."""
        self.data = bytes(data)
        self.name = name or "(bytes)"
        self.content: DictionaryContent = read_dictionary(self.data, self.name)
        self.identity = identity_of(self.data)
        """The first 7 bytes of the file's SHA-256 as a big-endian integer: what archives record (key 20)."""

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Dictionary":
        path = Path(path)
        size = path.stat().st_size
        if size > MAX_DICTIONARY_BYTES:
            raise CorruptArchiveError(f"dictionary {path}: {size:,} bytes, more than any dictionary ({MAX_DICTIONARY_BYTES:,})")
        return cls(path.read_bytes(), str(path))

    def __reduce__(self) -> tuple:
        return (_unpickled, (self.data, self.name))  # its bytes: a worker parses each dictionary once

    def __repr__(self) -> str:
        return f"<Dictionary {self.describe()}>"

    def describe(self) -> str:
        """How messages name it: its identity (as ``nacrith info`` shows an archive's) and its file."""
        return f"{self.identity:014x}" + (f" ({self.name})" if self.name != "(bytes)" else "")

    @property
    def fingerprint(self) -> bytes:
        return self.content.fingerprint

    @property
    def ensemble_params(self) -> EnsembleParams | None:
        """The ensemble parameters its state is for; None when it holds a primer alone."""
        return self.content.ensemble

    def prefix(self, start_token: int) -> Prefix:
        """What every lane starts from with this dictionary: the start token, then the primer."""
        return Prefix((start_token, *self.content.primer))

    def check_model(self, fingerprint: bytes, vocab_size: int | None = None) -> None:
        """Refuse a model other than the one the dictionary was trained for."""
        if fingerprint != self.fingerprint or (vocab_size is not None and vocab_size != self.content.vocab_size):
            raise ModelMismatchError(
                f"dictionary {self.describe()} was trained for model [{self.fingerprint.hex()}], "
                f"not for the model in use [{fingerprint.hex()}]; use that model (--model), or train a dictionary for this one"
            )

    def new_ensemble(self, params: EnsembleParams, precision_bits: int) -> Ensemble:
        """A segment's ensemble: with this dictionary's state when ``params`` are the ones it was trained
        with, else empty (a dictionary trained without an ensemble, or coding without one, has a primer alone)."""
        ensemble = Ensemble(params, self.content.vocab_size, precision_bits)
        if params == self.content.ensemble:
            ensemble.take(self._learned())
        return ensemble

    def _learned(self) -> Learned:
        with _lock:
            learned = _replayed.get(self.identity)
            if learned is None:
                learned = _replayed[self.identity] = replay(self.content)
            return learned


_lock = threading.Lock()
_replayed: dict[int, Learned] = {}
"""Each dictionary's ensemble state, replayed once per process (by identity: workers load the bytes again)."""


_parsed: dict[bytes, Dictionary] = {}


def _unpickled(data: bytes, name: str) -> Dictionary:
    """A dictionary sent to a worker with each segment, parsed there only the first time."""
    key = hashlib.sha256(data).digest()
    with _lock:
        dictionary = _parsed.get(key)
    if dictionary is None:
        dictionary = Dictionary(data, name)
        with _lock:
            _parsed[key] = dictionary
    return dictionary


def replay(content: DictionaryContent) -> Learned:
    """The ensemble state a dictionary stands for (FORMAT.md, "Dictionary state"): its bias and mixer weights as
    stored, its sequences replayed into the n-gram and match tables."""
    assert content.ensemble is not None
    ensemble = Ensemble(content.ensemble, content.vocab_size, 24)  # the tables do not depend on the precision
    bias = None if content.bias is None else np.array(content.bias, dtype=np.float64) / (1 << RATE_BITS)
    ensemble.load_start(bias, content.mixer, content.sequences)
    return ensemble.learned()


def as_dictionary(dictionary: "str | os.PathLike[str] | Dictionary | None") -> Dictionary | None:
    """The API's ``dictionary=`` argument as a loaded dictionary (a path is read, once per call)."""
    if dictionary is None or isinstance(dictionary, Dictionary):
        return dictionary
    if isinstance(dictionary, (str, os.PathLike)):
        return Dictionary.load(dictionary)
    raise TypeError(f"dictionary must be a path or a nacrith.Dictionary, not {type(dictionary).__name__}")
