"""Sequence classification: single-label, multi-label and sentence pairs.

The task owns the head (via transformers' ...ForSequenceClassification), how examples become
tensors, the loss, how logits become predictions, and the metrics.
"""

from __future__ import annotations

import numpy as np
import torch

from tunewise.errors import UserError
from tunewise.tasks.base import Task, TaskData
from tunewise.tasks.text import Encoded, collate_texts, encode_texts

TEXT_CHECKS = (
    "duplicates",
    "cross_split_overlap",
    "same_splits",
    "label_conflicts",
    "near_duplicates",
)
"""The doctor's checks on texts and their labels, shared by tasks whose examples are texts."""


class ClassificationTask(Task):
    """Classification over a fixed label set (``labels`` in id order)."""

    name = "classification"
    summary = "one label per text (or several, multi-label; sentence pairs too)"
    peft_task_type = "SEQ_CLS"
    reads_first_position = True
    classifies_texts = True
    abstains = True
    log_keys = ("accuracy", "macro_f1", "micro_f1", "mcc")
    headline = ("accuracy", "accuracy")
    doctor_checks = (
        *TEXT_CHECKS,
        "unseen_labels",
        "rare_classes",
        "imbalance",
        "token_tags",
        "short_texts",
        "test_size",
        "length",
        "unknown_tokens",
    )
    hf_architectures = ("ForSequenceClassification",)

    def __init__(self, labels: list[str], multi_label: bool = False, class_weights=None):
        self.labels = list(labels)
        self.multi_label = multi_label
        self.label2id = {l: i for i, l in enumerate(self.labels)}
        self._class_weights = class_weights  # torch tensor or None
        self.threshold = 0.5
        self.temperature = 1.0
        self.oos_label: str | None = None
        self.abstain: dict | None = None
        """Settled on dev after training: score, threshold, temperature, k (None: never)."""

    # -- configuration and data -------------------------------------------------------------
    @classmethod
    def configure(cls, cfg) -> None:
        if cfg.task.oos_label is not None:
            cfg.task.abstain = True
        if cfg.task.abstain:
            from tunewise.tasks.classification.abstain import parse_target

            parse_target(cfg.task.abstain_target)
            if cfg.task.multi_label:
                raise UserError("--abstain is for single-label classification, not --multi-label")

    @classmethod
    def read_data(cls, cfg) -> TaskData:
        from tunewise.tasks.classification.data import read_data

        return read_data(cfg.data, multi_label=cfg.task.multi_label, oos_label=cfg.task.oos_label)

    @classmethod
    def group_key(cls, example):
        from tunewise.data.examples import dedup_key

        return dedup_key(example)

    @classmethod
    def stratum(cls, example):
        from tunewise.data.labels import labels_of

        first = labels_of(example)
        return first[0] if first else None

    @classmethod
    def from_data(cls, cfg, data: TaskData, tokenizer) -> ClassificationTask:
        task = cls(data.info["labels"], cfg.task.multi_label)
        task.oos_label = cfg.task.oos_label
        task._class_weights = class_weight_tensor(
            cfg.task.class_weights,
            task.labels,
            task.encode_labels(data.train),
            task.multi_label,
        )
        return task

    @classmethod
    def from_meta(cls, meta) -> ClassificationTask:
        task = cls(meta.get("labels"), bool(meta.get("multi_label", False)))
        task.threshold = float(meta.get("threshold", 0.5))
        task.temperature = float(meta.get("temperature", 1.0))
        task.abstain = meta.get("abstain")
        task.oos_label = (task.abstain or {}).get("oos_label")
        return task

    @property
    def oos_class(self) -> int | None:
        """The id of an explicit out-of-scope class in train (None: none)."""
        return self.label2id.get(self.oos_label) if self.oos_label is not None else None

    def meta(self) -> dict:
        out = {"labels": self.labels, "multi_label": self.multi_label, "threshold": self.threshold}
        if self.temperature != 1.0:
            out["temperature"] = self.temperature
        if self.abstain is not None:
            out["abstain"] = self.abstain
        return out

    def labels_record(self) -> dict:
        return {"labels": self.labels, "multi_label": self.multi_label, "threshold": self.threshold}

    def data_record(self, data: TaskData) -> dict:
        return {}

    # -- model ------------------------------------------------------------------------------
    def auto_model(self):
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification

    def model_kwargs(self) -> dict:
        """Arguments for ``AutoModelForSequenceClassification.from_pretrained``."""
        return {
            "num_labels": len(self.labels),
            "id2label": dict(enumerate(self.labels)),
            "label2id": dict(self.label2id),
            "problem_type": (
                "multi_label_classification" if self.multi_label else "single_label_classification"
            ),
        }

    # -- data -------------------------------------------------------------------------------
    def encode(self, examples, tokenizer, max_length: int, with_labels: bool = True) -> Encoded:
        """Tokenize once, without padding (batches are padded to their own longest)."""
        labels = self.encode_labels(examples) if with_labels else None
        return encode_texts(examples, tokenizer, max_length, labels)

    def encode_labels(self, examples) -> np.ndarray:
        if self.multi_label:
            y = np.zeros((len(examples), len(self.labels)), dtype=np.float32)
            for i, e in enumerate(examples):
                for l in e.label:
                    y[i, self.label2id[l]] = 1.0
            return y
        return np.array([self.label2id[e.label] for e in examples], dtype=np.int64)

    def collate(self, data: Encoded, idx: list[int], pad_id: int) -> dict[str, torch.Tensor]:
        return collate_texts(data, idx, pad_id)

    # -- loss and decoding ------------------------------------------------------------------
    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        w = self._class_weights
        if self.multi_label:
            return torch.nn.functional.binary_cross_entropy_with_logits(
                logits, labels.float(), pos_weight=w
            )
        return torch.nn.functional.cross_entropy(logits, labels, weight=w)

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        logits = logits.astype(np.float64)
        if self.multi_label:
            return 1.0 / (1.0 + np.exp(-logits))
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, logits: np.ndarray, threshold: float = 0.5) -> np.ndarray:
        """Class ids [n] (single-label) or a 0/1 matrix [n, C] (multi-label)."""
        if self.multi_label:
            return (self.probabilities(logits) >= threshold).astype(np.int64)
        return logits.argmax(axis=1)

    def metrics(self, logits: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict:
        """Metrics over the whole split at once (never averaged over batches)."""
        from tunewise.evaluation.metrics import classification_metrics, multilabel_metrics

        if threshold is None:
            threshold = 0.5
        if len(logits) != len(labels):
            raise RuntimeError(f"{len(logits)} predictions for {len(labels)} rows")
        pred = self.predict(logits, threshold)
        if self.multi_label:
            return multilabel_metrics(labels.astype(np.int64), pred, self.labels)
        return classification_metrics(labels, pred, self.labels)

    def tune_threshold(self, logits: np.ndarray, labels: np.ndarray) -> float:
        """Multi-label: the threshold in 0.05..0.95 with the best micro-F1 on dev."""
        from tunewise.evaluation.metrics import multilabel_metrics

        best_t, best_f = 0.5, -1.0
        for t in np.arange(0.05, 0.951, 0.05):
            f = multilabel_metrics(labels.astype(np.int64), self.predict(logits, t), self.labels)[
                "micro_f1"
            ]
            if f > best_f + 1e-12:
                best_t, best_f = float(round(t, 2)), f
        return best_t

    def default_metric(self) -> str:
        return "macro_f1" if self.multi_label else "accuracy"

    # -- after training and in use ----------------------------------------------------------
    def before_training(self, model, enc, data, cfg, accelerator, pad_id, tokenizer, echo) -> dict:
        from tunewise.tasks.classification.head_init import choose, probe_head

        mode, why = choose(cfg.task.head_init, len(self.labels), enc["train"].labels)
        if mode != "probe" or self.multi_label or cfg.method.name == "setfit":  # setfit: its own
            return {}
        done = probe_head(model, self, enc["train"], pad_id, 64, cfg.train.seed, echo)
        return {"head_init": {**done, "why": why}} if done else {}

    def evaluate(self, fitted) -> dict:
        from tunewise.tasks.classification.evaluate import evaluate

        out = evaluate(self, fitted)
        if (fitted.extras or {}).get("head_init"):
            out["head_init"] = fitted.extras["head_init"]
        return out

    def collapse_check(self, logits, split: str) -> dict:
        from tunewise.evaluation.checks import collapse

        return collapse(self.predict(logits, self.threshold), self.labels)

    @classmethod
    def print_summary(cls, metrics: dict, console) -> None:
        from tunewise.tasks.classification.summary import print_metrics

        print_metrics(metrics, console)

    @classmethod
    def report_sections(cls, run_data) -> list:
        from tunewise.tasks.classification.summary import report_sections

        return report_sections(run_data)


def class_weight_tensor(setting, labels: list[str], train_y: np.ndarray, multi_label: bool):
    """Loss weights from the config: None, 'balanced' (inverse frequency) or a list.

    'balanced' is scikit-learn's ``compute_class_weight("balanced")`` (n / (C * count)); a
    class absent from train gets weight 0 (sklearn refuses classes it does not see).
    """
    if setting in (None, "none"):
        return None
    c = len(labels)
    if isinstance(setting, list):
        if len(setting) != c:
            raise UserError(
                f"task.class_weights: {len(setting)} weights for {c} classes ({', '.join(labels)})"
            )
        return torch.tensor(setting, dtype=torch.float32)
    if multi_label:
        pos = train_y.sum(axis=0)
        neg = len(train_y) - pos
        return torch.tensor(np.where(pos > 0, neg / np.maximum(pos, 1), 1.0), dtype=torch.float32)
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(train_y)
    w = np.zeros(c, dtype=np.float64)
    w[present] = compute_class_weight("balanced", classes=present, y=train_y) * len(present) / c
    return torch.tensor(w, dtype=torch.float32)
