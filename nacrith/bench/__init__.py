"""Measurements: the model's own ideal code length, the raw llama.cpp ceiling, and comparisons."""
