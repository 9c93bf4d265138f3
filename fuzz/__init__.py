"""Fuzzing nacrith's decoder: a corpus of archives, a mutation engine, and a target for Atheris or Hypothesis.

The invariant, everywhere: decoding any input raises a :class:`nacrith.NacrithError` with a
message, or returns exactly the bytes the archive stands for, and does so in bounded time.
tests/test_fuzz.py runs a few thousand mutants in the default suite; fuzz/README.md says how to
run longer.
"""
