"""A regression run in use: ``tunewise.load(run).predict(texts)`` -> a number per text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tunewise.rundir import model_dir_of, read_meta


class RegressionPredictor:
    """A fine-tuned text regressor loaded from a run directory (or its ``model/`` directory)."""

    def __init__(self, path: str | Path, batch_size: int = 64, loader=None):
        from tunewise.models.loading import load_tokenizer
        from tunewise.tasks.regression.task import RegressionTask

        self.run, model_dir = model_dir_of(path)
        self.meta = read_meta(model_dir)
        self.task = RegressionTask.from_meta(self.meta)
        self.max_length = int(self.meta.max_length)
        self.tokenizer = load_tokenizer(str(model_dir))
        self.batch_size = batch_size
        self.model = self.task.load_saved(model_dir, self.meta.to_dict(), loader)
        from tunewise.models.attention import for_inference

        for_inference(self.model, batch_size)  # [CLS]-only last layer; attention kernel measured
        self.labels = None

    def values_encoded(self, data) -> np.ndarray:
        from tunewise.training.batching import INFER_MAX_PAD, eval_batches

        out = np.zeros(len(data), dtype=np.float64)
        pad = self.tokenizer.pad_token_id or 0
        with torch.inference_mode():
            for idx in eval_batches(data.lengths, self.batch_size, INFER_MAX_PAD):
                logits = self.task.forward(self.model, self.task.collate(data, idx, pad))
                out[idx] = self.task.values(logits.float().numpy())
        return out

    def _encode(self, texts: list[str], pairs: list[str] | None):
        from tunewise.tasks.text import encode_for_inference

        return encode_for_inference(self.tokenizer, texts, pairs, self.max_length)

    def predict(self, inputs, pairs: list[str] | None = None) -> list[dict]:
        """One ``{"prediction": number}`` per text (in the training data's units)."""
        if isinstance(inputs, str):
            inputs = [inputs]
        if not inputs:
            return []
        values = self.values_encoded(self._encode(list(inputs), pairs))
        return [{"prediction": round(float(v), 6)} for v in values]

    # -- the predictor protocol (tunewise.tasks.base.Predictor) ------------------------------
    def read_inputs(self, path: Path, require_label: bool = False) -> list:
        from tunewise.tasks.regression.data import read_file
        from tunewise.tasks.text import read_lines

        if Path(path).suffix.lower() == ".txt" and not require_label:
            return read_lines(Path(path))
        data = self.run.data_settings() if self.run is not None else {}
        return read_file(Path(path), data, require_label=require_label)

    def predict_rows(self, examples: list) -> list[dict]:
        if not examples:
            return []
        pairs = [e.text_pair for e in examples]
        has_pair = any(p is not None for p in pairs)
        results = self.predict(
            [e.text for e in examples], [p or "" for p in pairs] if has_pair else None
        )
        return [
            {"text": e.text, **({"text_pair": e.text_pair} if e.text_pair else {}), **r}
            for e, r in zip(examples, results)
        ]

    def evaluate_file(self, path: Path) -> dict:
        from tunewise.tasks.regression.metrics import bootstrap_intervals, regression_metrics

        exs = self.read_inputs(path, require_label=True)
        pred = [r["prediction"] for r in self.predict_rows(exs)]
        y = [e.label for e in exs]
        out = regression_metrics(np.array(y), np.array(pred))
        out["ci"] = bootstrap_intervals(y, pred)
        return {"test": out}

    def parity_outputs(self, texts: list[str]) -> np.ndarray:
        return self.values_encoded(self._encode(list(texts), None)).reshape(-1, 1)

    def predict_batch(self, items: list) -> list:
        return self.predict(list(items))
