"""After training: intervals on test metrics, calibration, and label issues for review."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from tunewise.evaluation.calibration import calibration_report
from tunewise.evaluation.noise import label_issues, out_of_fold_probs
from tunewise.evaluation.stats import metric_intervals
from tunewise.progress import current_ticker, timed


@timed("bootstrap 95% intervals", "1,000 resamples of the test rows")
def add_intervals(metrics: dict, task, y: np.ndarray, logits: np.ndarray, threshold: float) -> None:
    """Attach bootstrap 95% intervals (1,000 resamples of the rows) to a split's metrics."""
    if task.multi_label:
        return
    metrics["ci"] = metric_intervals(y, task.predict(logits, threshold), len(task.labels))
    metrics["ci_method"] = "percentile bootstrap over rows, 1000 resamples, 95%"


@timed("calibration: temperature fitted on dev")
def calibration(task, dev_y, dev_logits, test_y, test_logits) -> dict | None:
    """ECE, Brier, NLL and reliability bins on test, before and after a dev-fitted temperature."""
    if task.multi_label:
        return None
    return calibration_report(dev_logits, dev_y, test_logits, test_y)


@torch.inference_mode()
def _embeddings(model, task, data, pad_id: int, batch_size: int = 64) -> np.ndarray:
    """The first-token hidden state of the last layer for every row (fixed features)."""
    from tunewise.training.batching import eval_batches

    model.eval()
    out = None
    plan = eval_batches(data.lengths, batch_size)
    ticker = current_ticker()
    for i, idx in enumerate(plan):
        if ticker:
            ticker.tick(i, len(plan), "embedding batches")
        batch = task.collate(data, idx, pad_id)
        batch.pop("labels", None)
        h = model(**batch, output_hidden_states=True).hidden_states[-1][:, 0].float().numpy()
        if out is None:
            out = np.zeros((len(data), h.shape[1]), dtype=np.float32)
        out[idx] = h
    return out


@timed("label issues", "train embeddings once, then 5-fold logistic regression on them")
def find_label_issues(
    model, task, train_enc, train_examples, pad_id: int, path: Path, top: int = 50
) -> dict:
    """Rows of train whose label the model disagrees with most confidently.

    Features are the fine-tuned encoder's embeddings; probabilities come from 5-fold
    cross-validated logistic regression on them (each row scored by a model that never saw it),
    ranked by confident learning. Writes ``label_issues.jsonl`` for a person to review.
    """
    if task.multi_label or len(train_enc) < 20:
        return {
            "ok": True,
            "count": 0,
            "message": "label-issue search skipped (multi-label or tiny train set)",
        }
    feats = _embeddings(model, task, train_enc, pad_id)
    probs = out_of_fold_probs(feats, train_enc.labels, folds=5, seed=0, n_labels=len(task.labels))
    issues = label_issues(probs, train_enc.labels, top=top)
    lines = []
    for it in issues:
        ex = train_examples[it["row"]]
        lines.append(
            json.dumps(
                {
                    "row": it["row"],
                    "where": ex.where,
                    "text": ex.text,
                    "given": task.labels[it["given"]],
                    "suggested": task.labels[it["suggested"]],
                    "self_confidence": round(float(it["self_confidence"]), 4),
                    "suggested_confidence": round(float(it["suggested_confidence"]), 4),
                },
                ensure_ascii=False,
            )
        )
    from tunewise.rundir import atomic_write

    atomic_write(path, "\n".join(lines) + ("\n" if lines else ""))
    return {
        "ok": True,
        "count": len(lines),
        "file": path.name,
        "message": f"{len(lines)} train rows whose label the model doubts most are listed in {path.name} for review",
    }
