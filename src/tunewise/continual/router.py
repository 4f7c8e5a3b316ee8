"""The lora-per-task router: which task an input belongs to, when the task is not given.
A multinomial logistic regression (scikit-learn) on the frozen base model's mean-pooled
embeddings, fitted on a class-balanced sample of each task's training rows; saved as JSON
(coefficients, no pickle) with the run."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

ROWS_PER_TASK = 400


@lru_cache(maxsize=2)
def _encoder(base_path: str):
    from transformers import AutoModel, AutoTokenizer

    from tunewise.models.loading import quiet_transformers

    with quiet_transformers():
        return AutoTokenizer.from_pretrained(base_path), AutoModel.from_pretrained(base_path).eval()


def embed(base_path: str, texts: list[str], max_length: int = 128, batch: int = 64) -> np.ndarray:
    """Mean-pooled last hidden states of the base encoder, L2-normalised."""
    import torch

    tok, model = _encoder(base_path)
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch):
            enc = tok(
                texts[i : i + batch],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            h = model(**enc).last_hidden_state
            m = enc["attention_mask"].unsqueeze(-1).float()
            v = (h * m).sum(1) / m.sum(1).clamp(min=1)
            out.append(torch.nn.functional.normalize(v, dim=-1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 1), dtype=np.float32)


class Router:
    def __init__(self, base_path: str, coef, intercept, tasks: list[str]):
        self.base_path = base_path
        self.coef = np.asarray(coef, dtype=np.float32)
        self.intercept = np.asarray(intercept, dtype=np.float32)
        self.tasks = list(tasks)

    @classmethod
    def fit(cls, base_path: str, texts_per_task: list[list[str]], tasks: list[str], seed: int):
        from sklearn.linear_model import LogisticRegression

        texts = [t for ts in texts_per_task for t in ts]
        y = np.array([k for k, ts in enumerate(texts_per_task) for _ in ts])
        x = embed(base_path, texts)
        clf = LogisticRegression(max_iter=2000, C=10.0, random_state=seed).fit(x, y)
        coef, intercept = clf.coef_, clf.intercept_
        if len(tasks) == 2:  # binary sklearn keeps one row: make it two for one argmax rule
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        return cls(base_path, coef, intercept, tasks)

    def route(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, dtype=np.int64)
        x = embed(self.base_path, texts)
        return (x @ self.coef.T + self.intercept).argmax(axis=1)

    def save(self, path: Path) -> None:
        from tunewise.rundir import write_json

        write_json(
            path,
            {
                "base_model_path": self.base_path,
                "tasks": self.tasks,
                "coef": self.coef.tolist(),
                "intercept": self.intercept.tolist(),
            },
        )

    @classmethod
    def load(cls, path: Path) -> Router:
        d = json.loads(Path(path).read_text())
        return cls(d["base_model_path"], d["coef"], d["intercept"], d["tasks"])
