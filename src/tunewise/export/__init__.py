"""Exporting a trained run: formats by name (``hf``, ``onnx``), each with a parity check."""

from tunewise.export.hf import export_hf


def _export_onnx(*args, **kwargs):
    # imported on use: onnx and onnxruntime load only for an ONNX export
    from tunewise.export.onnx import export_onnx_format

    return export_onnx_format(*args, **kwargs)


FORMATS = {"hf": export_hf, "onnx": _export_onnx}

__all__ = ["FORMATS", "export_hf"]
