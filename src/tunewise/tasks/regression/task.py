"""Text regression: predict a number from a text (a review's star rating, a score).

The head is a one-output ``...ForSequenceClassification`` (transformers' regression head).
Targets are standardized with train's mean and standard deviation (recorded in the model's
``tunewise.json``, so predictions come back in the data's units); the loss is MSE or Huber on
the standardized targets; metrics are RMSE, MAE, Pearson and Spearman over whole splits, with
bootstrap intervals, next to the train-mean and TF-IDF + ridge baselines.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from tunewise.errors import UserError
from tunewise.tasks.base import Task, TaskData
from tunewise.tasks.text import Encoded, collate_texts, encode_texts


class RegressionOptions(BaseModel):
    """``task.options`` of a regression run."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    loss: Literal["mse", "huber"] = "mse"
    """Training loss on standardized targets: mse, or huber (robust to outlying targets)."""
    huber_delta: float = Field(1.0, gt=0)
    """Huber's delta, in standard deviations of the train targets."""
    standardize: bool = True
    """Train on (y - mean) / std of train (recorded; predictions are mapped back)."""


class RegressionTask(Task):
    """A number per text (or sentence pair)."""

    name = "regression"
    summary = "a number per text (a rating, a score): MSE/Huber, RMSE/MAE/Pearson/Spearman"
    options = RegressionOptions
    peft_task_type = "SEQ_CLS"
    reads_first_position = True
    lower_is_better = ("rmse", "mae")
    log_keys = ("rmse", "mae", "pearson", "spearman")
    headline = ("rmse", "RMSE")
    doctor_checks = (
        "duplicates",
        "cross_split_overlap",
        "same_splits",
        "near_duplicates",
        "regression_targets",
        "target_conflicts",
        "short_texts",
        "length",
        "unknown_tokens",
    )

    def __init__(self, mean: float = 0.0, std: float = 1.0, opts: RegressionOptions | None = None):
        self.opts = opts or RegressionOptions()
        self.mean, self.std = float(mean), float(std)
        self.labels: list[str] = []

    # -- configuration and data -------------------------------------------------------------
    @classmethod
    def configure(cls, cfg) -> None:
        if cfg.task.multi_label or cfg.task.class_weights != "none":
            raise UserError(
                "invalid config: task.multi_label and task.class_weights are for classification"
            )

    @classmethod
    def read_data(cls, cfg) -> TaskData:
        from tunewise.tasks.regression.data import read_data

        return read_data(cfg.data)

    @classmethod
    def group_key(cls, example):
        from tunewise.data.examples import dedup_key

        return dedup_key(example)

    @classmethod
    def from_data(cls, cfg, data: TaskData, tokenizer) -> RegressionTask:
        opts = RegressionOptions.model_validate(cfg.task.options or {})
        y = np.array([e.label for e in data.train], dtype=np.float64)
        std = float(y.std())
        if not opts.standardize or std == 0:
            return cls(0.0, 1.0, opts)
        return cls(float(y.mean()), std, opts)

    @classmethod
    def from_meta(cls, meta) -> RegressionTask:
        scale = meta.get("target_scaling") or {}
        opts = RegressionOptions.model_validate(meta.get("options") or {})
        return cls(scale.get("mean", 0.0), scale.get("std", 1.0), opts)

    def meta(self) -> dict:
        return {
            "target_scaling": {"mean": self.mean, "std": self.std},
            "options": self.opts.model_dump(mode="json"),
        }

    def data_record(self, data: TaskData) -> dict:
        out = {}
        for name in ("train", "dev", "test"):
            y = np.array([e.label for e in getattr(data, name) or []], dtype=np.float64)
            if len(y):
                out[name] = {
                    "mean": float(y.mean()),
                    "std": float(y.std()),
                    "min": float(y.min()),
                    "max": float(y.max()),
                }
        return {"targets": out, "target_scaling": {"mean": self.mean, "std": self.std}}

    # -- model ------------------------------------------------------------------------------
    def auto_model(self):
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification

    def model_kwargs(self) -> dict:
        return {"num_labels": 1, "problem_type": "regression"}

    # -- training ---------------------------------------------------------------------------
    def encode(self, examples, tokenizer, max_length: int, with_labels: bool = True) -> Encoded:
        y = None
        if with_labels:
            y = (np.array([e.label for e in examples], dtype=np.float64) - self.mean) / self.std
            y = y.astype(np.float32)
        return encode_texts(examples, tokenizer, max_length, y)

    def collate(self, data: Encoded, idx: list[int], pad_id: int) -> dict:
        return collate_texts(data, idx, pad_id)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        pred = logits.float().reshape(-1)
        if self.opts.loss == "huber":
            return torch.nn.functional.huber_loss(pred, labels.float(), delta=self.opts.huber_delta)
        return torch.nn.functional.mse_loss(pred, labels.float())

    def values(self, logits: np.ndarray) -> np.ndarray:
        """Predictions in the data's units."""
        return np.asarray(logits, dtype=np.float64).reshape(-1) * self.std + self.mean

    def metrics(self, logits, labels, threshold=None) -> dict:
        from tunewise.tasks.regression.metrics import regression_metrics

        y = np.asarray(labels, dtype=np.float64) * self.std + self.mean
        return regression_metrics(y, self.values(logits))

    def default_metric(self) -> str:
        return "rmse"

    # -- after training and in use ----------------------------------------------------------
    def evaluate(self, fitted) -> dict:
        from tunewise.tasks.regression.evaluate import evaluate

        return evaluate(self, fitted)

    def collapse_check(self, logits, split: str) -> dict:
        pred = self.values(logits)
        spread = float(pred.std()) / max(self.std, 1e-12)
        ok = spread >= 0.05 or len(pred) < 2
        return {
            "ok": ok,
            "prediction_std_over_target_std": round(spread, 4),
            "message": f"predictions on {split} spread {spread:.0%} of the targets' std"
            if ok
            else f"predictions on {split} are nearly constant ({spread:.1%} of the targets' "
            "std): the model learned little beyond the mean",
        }

    @classmethod
    def print_summary(cls, metrics: dict, console) -> None:
        from tunewise.tasks.regression.summary import print_metrics

        print_metrics(metrics, console)

    @classmethod
    def report_sections(cls, run_data) -> list:
        from tunewise.tasks.regression.summary import report_sections

        return report_sections(run_data)
