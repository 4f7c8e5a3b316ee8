"""Sequence classification: single-label, multi-label and sentence pairs.

The task owns the head (via transformers' ...ForSequenceClassification), how examples become
tensors, the loss, how logits become predictions, and the metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class Encoded:
    """A tokenized split: unpadded token ids per example, labels, and truncation stats."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None
    labels: np.ndarray | None
    """int64 [n] for single-label, float32 [n, C] for multi-label."""
    truncated: int = 0
    stats: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def lengths(self) -> list[int]:
        return [len(x) for x in self.input_ids]

    def subset(self, idx) -> Encoded:
        """The rows ``idx`` of this split."""
        idx = list(idx)
        return Encoded(
            [self.input_ids[i] for i in idx],
            None if self.token_type_ids is None else [self.token_type_ids[i] for i in idx],
            None if self.labels is None else self.labels[idx],
        )


class ClassificationTask:
    """Classification over a fixed label set (``labels`` in id order)."""

    name = "classification"
    peft_task_type = "SEQ_CLS"
    """What peft calls this task (methods read it; see tunewise.methods.base)."""

    def __init__(self, labels: list[str], multi_label: bool = False, class_weights=None):
        self.labels = list(labels)
        self.multi_label = multi_label
        self.label2id = {l: i for i, l in enumerate(self.labels)}
        self._class_weights = class_weights  # torch tensor or None

    # -- model ------------------------------------------------------------------------------
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

    def head_modules(self, model) -> list[str]:
        """The freshly initialised head (``classifier``; ``score`` on decoders): trained and
        saved with every parameter-efficient method."""
        from tunewise.methods.targets import new_head_modules

        return new_head_modules(model)

    # -- data -------------------------------------------------------------------------------
    def encode(self, examples, tokenizer, max_length: int, with_labels: bool = True) -> Encoded:
        """Tokenize once, without padding (batches are padded to their own longest)."""
        texts = [e.text for e in examples]
        pairs = [e.text_pair for e in examples]
        has_pair = any(p is not None for p in pairs)
        if has_pair:
            pairs = [p if p is not None else "" for p in pairs]
            full = tokenizer(texts, pairs, truncation=False, add_special_tokens=True)
            enc = tokenizer(texts, pairs, truncation=True, max_length=max_length)
        else:
            full = tokenizer(texts, truncation=False, add_special_tokens=True)
            enc = tokenizer(texts, truncation=True, max_length=max_length)
        full_lens = [len(x) for x in full["input_ids"]]
        truncated = sum(1 for n in full_lens if n > max_length)
        labels = self.encode_labels(examples) if with_labels else None
        ttype = enc.get("token_type_ids") if has_pair else None
        n = max(len(texts), 1)
        stats = {
            "rows": len(texts),
            "truncated": truncated,
            "truncated_share": truncated / n,
            "max_length": max_length,
            "mean_tokens": float(np.mean(full_lens)) if full_lens else 0.0,
            "p95_tokens": float(np.percentile(full_lens, 95)) if full_lens else 0.0,
        }
        return Encoded(list(enc["input_ids"]), ttype, labels, truncated, stats)

    def encode_labels(self, examples) -> np.ndarray:
        if self.multi_label:
            y = np.zeros((len(examples), len(self.labels)), dtype=np.float32)
            for i, e in enumerate(examples):
                for l in e.label:
                    y[i, self.label2id[l]] = 1.0
            return y
        return np.array([self.label2id[e.label] for e in examples], dtype=np.int64)

    def collate(self, data: Encoded, idx: list[int], pad_id: int) -> dict[str, torch.Tensor]:
        """Pad the examples ``idx`` to the longest among them (dynamic padding)."""
        seqs = [data.input_ids[i] for i in idx]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for r, s in enumerate(seqs):
            ids[r, : len(s)] = torch.tensor(s, dtype=torch.long)
            mask[r, : len(s)] = 1
        batch = {"input_ids": ids, "attention_mask": mask}
        if data.token_type_ids is not None:
            tt = torch.zeros((len(seqs), width), dtype=torch.long)
            for r, i in enumerate(idx):
                t = data.token_type_ids[i]
                tt[r, : len(t)] = torch.tensor(t, dtype=torch.long)
            batch["token_type_ids"] = tt
        if data.labels is not None:
            batch["labels"] = torch.from_numpy(data.labels[idx])
        return batch

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


def class_weight_tensor(setting, labels: list[str], train_y: np.ndarray, multi_label: bool):
    """Loss weights from the config: None, 'balanced' (inverse frequency) or a list."""
    if setting in (None, "none"):
        return None
    c = len(labels)
    if isinstance(setting, list):
        if len(setting) != c:
            from tunewise.errors import UserError

            raise UserError(
                f"task.class_weights: {len(setting)} weights for {c} classes ({', '.join(labels)})"
            )
        return torch.tensor(setting, dtype=torch.float32)
    if multi_label:
        pos = train_y.sum(axis=0)
        neg = len(train_y) - pos
        return torch.tensor(np.where(pos > 0, neg / np.maximum(pos, 1), 1.0), dtype=torch.float32)
    counts = np.bincount(train_y, minlength=c).astype(np.float64)
    w = np.where(counts > 0, len(train_y) / (c * np.maximum(counts, 1)), 0.0)
    return torch.tensor(w, dtype=torch.float32)
