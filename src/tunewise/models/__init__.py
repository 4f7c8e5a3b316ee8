"""Model names, loading, and (later) parameter-efficient methods."""

from tunewise.models.registry import PACKAGED_MODELS, ResolvedModel, resolve_model

__all__ = ["PACKAGED_MODELS", "ResolvedModel", "resolve_model"]
