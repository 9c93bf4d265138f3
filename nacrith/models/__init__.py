"""Predictors. Only :mod:`nacrith.models.llm` imports llama_cpp, and only when a model is needed."""
