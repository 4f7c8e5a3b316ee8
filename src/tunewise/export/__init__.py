"""Exporting a trained run: formats by name (``hf`` here; others register beside it)."""

from tunewise.export.hf import export_hf

FORMATS = {"hf": export_hf}

__all__ = ["FORMATS", "export_hf"]
