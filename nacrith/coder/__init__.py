"""Entropy coding: the 24-bit integer CDF and the 32-bit arithmetic coder. Stdlib and numpy only."""

from .arithmetic import ArithmeticDecoder, ArithmeticEncoder
from .cdf import check_frequencies, quantize

__all__ = ["ArithmeticEncoder", "ArithmeticDecoder", "quantize", "check_frequencies"]
