"""Models exported to ONNX, run by ONNX Runtime with tunewise's own decoding.

An ONNX predictor is the task's own predictor whose logits come from an ONNX Runtime session
instead of torch: tokenization, length-sorted batches and decoding (labels, scores, multi-label
threshold, temperature; BIO entities) are the very same code, so its answers match
``tunewise predict`` up to the export's numerical difference. Classification and token
classification export to ONNX; :func:`onnx_predictor` picks the class from the export's
``tunewise.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tunewise.errors import UserError
from tunewise.rundir import META_FILE, read_meta
from tunewise.tasks.classification.predictor import Predictor
from tunewise.tasks.tokens.predictor import TokenPredictor

EXPORT_FILE = "export.json"
ONNX_FILE = "model.onnx"


class _Session:
    """The export folder's meta, tokenizer and ONNX Runtime session (shared by the classes)."""

    def _open(self, path: str | Path, batch_size: int, threads: int | None) -> None:
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

    def batch_logits(self, batch: dict) -> np.ndarray:
        """The session's logits for one collated batch (torch tensors or numpy arrays)."""
        feed = {k: np.asarray(v) for k, v in batch.items()}
        if "token_type_ids" in self.inputs and "token_type_ids" not in feed:
            feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
        return self.session.run(["logits"], {k: feed[k] for k in self.inputs})[0]


class OnnxPredictor(_Session, Predictor):
    """A classifier from ``DIR/model.onnx`` plus the tokenizer and ``tunewise.json`` beside it."""

    def __init__(self, path: str | Path, batch_size: int = 32, threads: int | None = None):
        self._open(path, batch_size, threads)
        self.threshold = self.task.threshold
        self.temperature = self.task.temperature
        self.abstain, self._bank = self.task.abstain, None
        if self.abstain and self.abstain.get("score") == "knn":
            raise UserError(
                f"{path}: the run abstains by knn (embeddings), which the ONNX export does not "
                "compute; serve the run itself, or retrain with --abstain-score msp or energy"
            )

    def forward_encoded(self, data) -> tuple[np.ndarray, None]:
        return self.logits_encoded(data), None

    def logits_encoded(self, data) -> np.ndarray:
        """fp32 logits of tokenized examples, in length-sorted batches, from ONNX Runtime."""
        from tunewise.training.batching import INFER_MAX_PAD, eval_batches

        out = np.zeros((len(data), len(self.labels)), dtype=np.float32)
        pad = self.tokenizer.pad_token_id or 0
        for idx in eval_batches(data.lengths, self.batch_size, INFER_MAX_PAD):
            out[idx] = self.batch_logits(self.task.collate(data, idx, pad))
        return out


class OnnxTokenPredictor(_Session, TokenPredictor):
    """A token classifier (entities with offsets) from ``DIR/model.onnx``."""

    def __init__(self, path: str | Path, batch_size: int = 32, threads: int | None = None):
        self._open(path, batch_size, threads)

    @staticmethod
    def task_class():
        from tunewise.tasks.tokens.task import TokenTask

        return TokenTask


# the ONNX class of each task's predictor (the tasks ONNX export covers)
ONNX_CLASSES = {Predictor: OnnxPredictor, TokenPredictor: OnnxTokenPredictor}


def onnx_predictor(path: str | Path, batch_size: int = 32, threads: int | None = None):
    """The ONNX predictor of an export folder, for the task its ``tunewise.json`` names."""
    from tunewise.tasks import get_task

    path = Path(path)
    if not (path / META_FILE).is_file():
        raise UserError(f"{path}: not an ONNX export (needs {ONNX_FILE} and {META_FILE})")
    task = get_task(read_meta(path).task)
    cls = ONNX_CLASSES.get(task.predictor_class)
    if cls is None:
        raise UserError(f"{path}: a {task.name} export; ONNX runs classification and tokens")
    return cls(path, batch_size=batch_size, threads=threads)
