"""The encoder's settings: what a caller may choose, checked once, before any work.

Settings types, each for its own layer:

* :class:`Options` (here): what the caller of the API chooses for compression.
* :class:`~nacrith.container.CodingParams`: what the archive stores for the decoder, derived
  from the options and the model (its start token).
* :class:`~nacrith.neural.params.EnsembleParams`: the ensemble's part of both, stored as integers.
* ``cli.jobs.Settings``: what one command line asked for (files, force, verbosity) besides these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .constants import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_LANES,
    DEFAULT_WINDOW,
    MAX_LANES,
    MAX_SEGMENT_BYTES,
    MIN_CHUNK_BYTES,
    MIN_SEGMENT_BYTES,
)
from .neural.adapt import AdaptParams
from .neural.params import EnsembleParams
from .neural.schedule import default_slide_keep

if TYPE_CHECKING:
    from .dictionary import Dictionary

__all__ = ["Options", "ensemble_params", "adapt_params"]


@dataclass(frozen=True)
class Options:
    """Compression settings. Only the encoder chooses them; the archive stores what decoding needs."""

    lanes: int = DEFAULT_LANES
    window: int = DEFAULT_WINDOW
    slide_keep: int | None = None
    """Tokens kept when a window slides; None: :func:`~nacrith.neural.schedule.default_slide_keep`."""
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    min_chunk_bytes: int = MIN_CHUNK_BYTES
    ensemble: EnsembleParams | None = EnsembleParams()
    """The models mixed with the LLM (None: the LLM alone)."""
    crlf: bool = True
    """Code text whose line ends are all CRLF as LF text (method neural-crlf): the model knows LF text better."""
    segment_bytes: int | None = None
    """Largest segment: each decodes alone, so segments spread over workers and can be read at random.
    None: :data:`~nacrith.constants.DEFAULT_SEGMENT_BYTES` for text, and
    :data:`~nacrith.constants.BINARY_SEGMENT_BYTES` when the first segment is mostly not text."""
    adapt: AdaptParams | None = None
    """Dynamic evaluation (the torch backend only): the model learns the text as it codes it. None: it does not."""
    dictionary: Dictionary | None = None
    """What every segment starts from: the dictionary's primer in every lane, its state in the ensemble."""
    fallback_bound: bool = True
    """Keep a segment wholly in the fallback when that is smaller than what the model made of it (an
    encoder's choice, not stored: the decoder reads either). Off only for format vectors that must show
    neural coding with a formula model."""

    def __post_init__(self) -> None:
        if not 1 <= self.lanes <= MAX_LANES:
            raise ValueError(f"lanes must be 1..{MAX_LANES}, got {self.lanes}")
        if not 16 <= self.window <= 1 << 16:
            raise ValueError(f"window must be 16..65536 tokens, got {self.window}")
        if self.slide_keep is not None and not 1 <= self.slide_keep < self.window:
            raise ValueError(f"slide_keep must be 1..window-1, got {self.slide_keep}")
        if not 256 <= self.chunk_bytes <= 1 << 24:
            raise ValueError(f"chunk_bytes must be 256..16 MiB, got {self.chunk_bytes}")
        if self.segment_bytes is not None and not MIN_SEGMENT_BYTES <= self.segment_bytes <= MAX_SEGMENT_BYTES:
            raise ValueError(f"segment_bytes must be {MIN_SEGMENT_BYTES}..{MAX_SEGMENT_BYTES}, got {self.segment_bytes}")
        if self.ensemble is not None and (self.ensemble.problems() or not self.ensemble.enabled):
            raise ValueError(f"unusable ensemble parameters: {', '.join(self.ensemble.problems()) or 'every model off'}")
        if self.adapt is not None and self.adapt.problems(window_keep=self.keep):
            raise ValueError(f"unusable adaptation parameters: {', '.join(self.adapt.problems(window_keep=self.keep))}")
        if self.dictionary is not None and len(self.dictionary.content.primer) >= self.window:
            raise ValueError(
                f"dictionary {self.dictionary.describe()} has a primer of {len(self.dictionary.content.primer)} tokens, "
                f"which needs a window of at least {len(self.dictionary.content.primer) + 1} tokens, not {self.window}"
            )

    @property
    def keep(self) -> int:
        return self.slide_keep if self.slide_keep is not None else default_slide_keep(self.window)


def ensemble_params(ensemble: bool | EnsembleParams | None, dictionary: Dictionary | None = None) -> EnsembleParams | None:
    """The API's ``ensemble=`` argument as parameters: True for the defaults (a dictionary's, when it has an
    ensemble state), False or None for the LLM alone. Parameters other than a dictionary's are refused:
    its state is for its own."""
    trained = dictionary.ensemble_params if dictionary is not None else None
    if isinstance(ensemble, EnsembleParams):
        if trained is not None and ensemble != trained:
            raise ValueError(f"dictionary {dictionary.describe()} holds an ensemble state for other ensemble parameters; leave ensemble= to it")  # type: ignore[union-attr]
        return ensemble
    if ensemble is None:
        return None
    if isinstance(ensemble, bool):
        return (trained or EnsembleParams()) if ensemble else None
    raise TypeError(f"ensemble must be True, False or an EnsembleParams, not {type(ensemble).__name__}")


def adapt_params(adapt: bool | AdaptParams | None) -> AdaptParams | None:
    """The API's ``adapt=`` argument as parameters: True for the defaults, False or None for none."""
    if isinstance(adapt, AdaptParams) or adapt is None:
        return adapt
    if isinstance(adapt, bool):
        return AdaptParams() if adapt else None
    raise TypeError(f"adapt must be True, False or an AdaptParams, not {type(adapt).__name__}")
