"""A classifier exported to ONNX, run by ONNX Runtime with tunewise's own decoding.

It is a :class:`tunewise.predictor.Predictor` whose logits come from an ONNX Runtime session
instead of torch: tokenization, length-sorted batches and decoding (labels, scores,
multi-label threshold, temperature) are the very same code, so its answers match
``tunewise predict`` up to the export's numerical difference.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tunewise.errors import UserError
from tunewise.rundir import META_FILE, read_meta
from tunewise.tasks.classification.predictor import Predictor

EXPORT_FILE = "export.json"
ONNX_FILE = "model.onnx"


class OnnxPredictor(Predictor):
    """Predictions from ``DIR/model.onnx`` plus the tokenizer and ``tunewise.json`` beside it."""

    def __init__(self, path: str | Path, batch_size: int = 32, threads: int | None = None):
        import onnxruntime as ort

        from tunewise.models.loading import load_tokenizer

        path = Path(path)
        if not (path / ONNX_FILE).is_file() or not (path / META_FILE).is_file():
            raise UserError(f"{path}: not an ONNX export (needs {ONNX_FILE} and {META_FILE})")
        self.run, self.path = None, path
        self.meta = read_meta(path)
        self.export = (
            json.loads((path / EXPORT_FILE).read_text()) if (path / EXPORT_FILE).is_file() else {}
        )
        self.task = self.task_class().from_meta(self.meta)
        self.threshold = self.task.threshold
        self.temperature = self.task.temperature
        self.max_length = int(self.meta.max_length)
        self.labels = self.task.labels
        self.tokenizer = load_tokenizer(str(path))
        self.batch_size = batch_size
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(path / ONNX_FILE), opts, providers=["CPUExecutionProvider"]
        )
        self.inputs = [i.name for i in self.session.get_inputs()]

    def logits_encoded(self, data) -> np.ndarray:
        """fp32 logits of tokenized examples, in length-sorted batches, from ONNX Runtime."""
        from tunewise.training.batching import INFER_MAX_PAD, eval_batches

        out = np.zeros((len(data), len(self.labels)), dtype=np.float32)
        pad = self.tokenizer.pad_token_id or 0
        for idx in eval_batches(data.lengths, self.batch_size, INFER_MAX_PAD):
            batch = {k: v.numpy() for k, v in self.task.collate(data, idx, pad).items()}
            if "token_type_ids" in self.inputs and "token_type_ids" not in batch:
                batch["token_type_ids"] = np.zeros_like(batch["input_ids"])
            feed = {k: batch[k] for k in self.inputs}
            out[idx] = self.session.run(["logits"], feed)[0]
        return out
