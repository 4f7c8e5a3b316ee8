"""Using a trained model: ``tunewise.load(run_dir).predict(texts)`` and evaluation on a file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from tunewise.errors import UserError
from tunewise.rundir import RunDir

META_FILE = "tunewise.json"


def resolve_model_dir(path: str | Path) -> tuple[RunDir | None, Path]:
    """(the finished run or None, its model directory) for a run or a model directory."""
    from tunewise.integrity import verify_model_dir

    path = Path(path)
    if (path / "run.json").is_file():
        RunDir(path).require_complete()
        return RunDir(path), verify_model_dir(path / "model")  # names a damaged file
    if (path / META_FILE).is_file():
        return None, verify_model_dir(path)
    raise UserError(f"{path}: not a tunewise run directory or model directory")


class Predictor:
    """A fine-tuned classifier loaded from a run directory (or its ``model/`` directory)."""

    def __init__(self, path: str | Path, batch_size: int = 64, loader=None):
        """Load the run (or model directory) ``path``.

        Args:
            loader: stands in for :func:`tunewise.methods.load_trained` (same arguments);
                the server passes one that attaches this run's adapter to a base shared by several.
        """
        from transformers import AutoModelForSequenceClassification

        from tunewise.models.loading import load_tokenizer, quiet_transformers
        from tunewise.tasks import ClassificationTask

        self.run, model_dir = resolve_model_dir(path)
        meta = json.loads((model_dir / META_FILE).read_text())
        self.meta = meta
        self.threshold = float(meta.get("threshold", 0.5))
        self.temperature = float(meta.get("temperature", 1.0))
        self.max_length = int(meta["max_length"])
        self.task = ClassificationTask(meta["labels"], meta.get("multi_label", False))
        self.tokenizer = load_tokenizer(str(model_dir))
        from tunewise.methods import load_trained

        loader = loader or load_trained
        task = self.task

        def load_fn(p):
            return AutoModelForSequenceClassification.from_pretrained(p, **task.model_kwargs())

        with quiet_transformers():
            # full fine-tuning: a plain transformers dir; other methods: base + saved adapter
            self.model = loader(model_dir, load_fn, task, meta)
        self.model.eval()
        self.batch_size = batch_size
        self.labels = self.task.labels

    def logits(self, examples) -> np.ndarray:
        """fp32 logits, one row per example, in input order."""
        data = self.task.encode(examples, self.tokenizer, self.max_length, with_labels=False)
        return self.logits_encoded(data)

    def logits_encoded(self, data) -> np.ndarray:
        """fp32 logits of already tokenized examples (``task.encode``), in length-sorted batches."""
        from tunewise.training.batching import INFER_MAX_PAD, eval_batches

        out = np.zeros((len(data), len(self.labels)), dtype=np.float32)
        pad = self.tokenizer.pad_token_id or 0
        with torch.inference_mode():
            for idx in eval_batches(data.lengths, self.batch_size, INFER_MAX_PAD):
                out[idx] = self.model(**self.task.collate(data, idx, pad)).logits.float().numpy()
        return out

    def predict(self, texts: list[str], pairs: list[str] | None = None) -> list[dict]:
        """Predict labels for raw texts (and optional second texts of pairs).

        Returns:
            One dict per text: ``label`` and ``score`` (single-label) or ``labels`` (multi-label),
            and ``scores`` with the probability of every class.
        """
        from tunewise.data import Example

        if isinstance(texts, str):
            texts = [texts]
        if pairs is not None and len(pairs) != len(texts):
            raise UserError(f"{len(pairs)} text pairs for {len(texts)} texts")
        exs = [Example(t, None, pairs[i] if pairs else None) for i, t in enumerate(texts)]
        return self.decode(self.logits(exs)) if exs else []

    def decode(self, logits: np.ndarray) -> list[dict]:
        # a temperature fitted on dev (task.calibrate) rescales probabilities, never the argmax
        probs = self.task.probabilities(logits / self.temperature)
        out = []
        for p in probs:
            scores = {l: round(float(s), 6) for l, s in zip(self.labels, p)}
            if self.task.multi_label:
                on = [l for l, s in zip(self.labels, p) if s >= self.threshold]
                out.append({"labels": on, "scores": scores})
            else:
                k = int(p.argmax())
                out.append(
                    {"label": self.labels[k], "score": round(float(p[k]), 6), "scores": scores}
                )
        return out

    def evaluate(self, examples, source: str | Path = "data") -> dict:
        """Metrics of this model on labeled examples (whole split at once).

        Args:
            source: the file the examples came from, named in errors (labels the model lacks).
        """
        from tunewise.data import check_labels

        check_labels(examples, self.labels, source)
        logits = self.logits(examples)
        y = self.task.encode_labels(examples)
        out = self.task.metrics(logits, y, self.threshold)
        from tunewise.evaluation.honest import add_intervals

        add_intervals(out, self.task, y, logits, self.threshold)  # the table promises them
        return out


def load(path: str | Path):
    """Load a finished run (or its model directory) for prediction: a :class:`Predictor` for
    classification, a :class:`tunewise.token_predictor.TokenPredictor` for a token-classification
    run, a :class:`tunewise.generation.Generator` for an sft run (``.generate``, ``.stream``)."""
    _, model_dir = resolve_model_dir(path)
    task = json.loads((model_dir / META_FILE).read_text()).get("task")
    if task == "tokens":
        from tunewise.token_predictor import TokenPredictor

        return TokenPredictor(path)
    if task == "sft":
        from tunewise.generation import Generator

        return Generator(path)
    return Predictor(path)
