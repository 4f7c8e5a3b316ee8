"""A task registered only here, in the test folder: the proof that a new task is one folder.

``toy_sign`` reads texts with a +1/-1 label and trains a one-output head with a hinge loss
(not cross-entropy: the loop calls the task's ``step``). Its predictor answers
``{"score": s, "sign": +1|-1}`` and its route is ``/v1/sign``. Nothing in ``src/`` knows it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel

from tunewise.errors import UserError
from tunewise.rundir import model_dir_of, read_meta
from tunewise.tasks import Task, TaskData, register_task
from tunewise.tasks.text import collate_texts, encode_for_inference, encode_texts, texts_route


class SignTask(Task):
    name = "toy_sign"
    summary = "a +1/-1 sign per text, hinge loss (a test-only task)"
    lower_is_better = ("hinge",)
    log_keys = ("accuracy", "hinge")
    headline = ("accuracy", "accuracy")
    doctor_checks = ("duplicates", "cross_split_overlap", "length")

    @classmethod
    def read_data(cls, cfg) -> TaskData:
        from tunewise.data.readers import read_examples

        def read(p):
            exs = read_examples(p, require_label=True)
            for e in exs:
                if e.label not in ("1", "-1"):
                    raise UserError(f"{e.where}: label must be 1 or -1")
                e.label = int(e.label)
            return exs

        d = cfg.data
        return TaskData(
            read(d.train),
            read(d.dev) if d.dev else None,
            read(d.test) if d.test else None,
            {},
        )

    @classmethod
    def group_key(cls, example):
        return example.text.lower()

    @classmethod
    def from_data(cls, cfg, data, tokenizer):
        return cls()

    @classmethod
    def from_meta(cls, meta):
        return cls()

    def auto_model(self):
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification

    def model_kwargs(self) -> dict:
        return {"num_labels": 1, "problem_type": "regression"}

    def encode(self, examples, tokenizer, max_length, with_labels=True):
        y = np.array([e.label for e in examples], dtype=np.float32) if with_labels else None
        return encode_texts(examples, tokenizer, max_length, y)

    def collate(self, data, idx, pad_id):
        return collate_texts(data, idx, pad_id)

    def step(self, model, batch):
        y = batch.pop("labels").float()
        score = self.forward(model, batch).float().reshape(-1)
        return torch.clamp(1 - y * score, min=0).mean()

    def metrics(self, logits, labels, threshold=None) -> dict:
        s = np.asarray(logits, dtype=np.float64).reshape(-1)
        y = np.asarray(labels, dtype=np.float64)
        return {
            "n": int(len(y)),
            "accuracy": float(np.mean(np.sign(s + 1e-12) == y)),
            "hinge": float(np.mean(np.maximum(0, 1 - y * s))),
        }

    def evaluate(self, f) -> dict:
        from tunewise.training.loop import predict_logits

        out, outputs = {}, {}
        for name in ("dev", "test"):
            if f.enc[name] is not None:
                outputs[name] = predict_logits(
                    f.model, self, f.enc[name], f.eval_batch_size, f.accelerator, f.pad_id
                )
                out[name] = self.metrics(outputs[name], f.enc[name].labels)
        out["_outputs"] = outputs
        return out


class SignPredictor:
    def __init__(self, path, batch_size: int = 32, loader=None):
        from tunewise.models.loading import load_tokenizer

        self.run, model_dir = model_dir_of(path)
        self.meta = read_meta(model_dir)
        self.task = SignTask.from_meta(self.meta)
        self.tokenizer = load_tokenizer(str(model_dir))
        self.max_length = self.meta.max_length
        self.model = self.task.load_saved(model_dir, self.meta.to_dict(), loader)
        self.labels = None

    def predict(self, texts):
        data = encode_for_inference(self.tokenizer, list(texts), None, self.max_length)
        with torch.inference_mode():
            s = self.task.forward(self.model, collate_texts(data, list(range(len(data))), 0))
        return [{"score": round(float(v), 6), "sign": 1 if v >= 0 else -1} for v in s.reshape(-1)]

    def read_inputs(self, path: Path, require_label: bool = False):
        from tunewise.data.readers import read_examples

        return read_examples(path, require_label=require_label)

    def predict_rows(self, examples):
        return [
            {"text": e.text, **r}
            for e, r in zip(examples, self.predict([e.text for e in examples]))
        ]

    def evaluate_file(self, path):
        exs = self.read_inputs(path, True)
        pred = self.predict([e.text for e in exs])
        y = np.array([int(e.label) for e in exs])
        s = np.array([p["score"] for p in pred])
        return {"test": self.task.metrics(s, y)}

    def predict_batch(self, items):
        return self.predict(list(items))


class SignResult(BaseModel):
    score: float
    sign: int


class SignResponse(BaseModel):
    model: str
    results: list[SignResult]


SignTask.route = texts_route("/v1/sign", "A +1/-1 sign per text.", SignResponse)
SignTask.predictor_class = SignPredictor
register_task(SignTask)
