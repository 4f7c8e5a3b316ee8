"""Checks during and after training, recorded in ``metrics.json`` under ``checks``.

Each returns a dict with ``ok`` (bool) and a one-line ``message``; a failed check is a warning
shown to the user, never silent.
"""

from __future__ import annotations

import numpy as np
import torch


def tfidf_baseline(train, dev, test, labels: list[str], multi_label: bool) -> dict | None:
    """TF-IDF (word 1-2 grams) + logistic regression on the same splits; C picked on dev.

    Args:
        train, dev, test: lists of Example; dev may be empty (then C=1).
    Returns:
        the test metrics of the baseline, plus the chosen ``C``; None for multi-label data.
    """
    if multi_label:
        return None
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from tunewise.evaluation.metrics import classification_metrics

    def text(e):
        return e.text if e.text_pair is None else f"{e.text} [SEP] {e.text_pair}"

    ids = {l: i for i, l in enumerate(labels)}
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    x = vec.fit_transform([text(e) for e in train])
    y = np.array([ids[e.label] for e in train])
    grid = (0.25, 1.0, 4.0, 16.0) if dev else (1.0,)
    fits = {c: LogisticRegression(C=c, max_iter=2000).fit(x, y) for c in grid}
    if dev:
        xd, yd = vec.transform([text(e) for e in dev]), np.array([ids[e.label] for e in dev])
        best = max(grid, key=lambda c: (fits[c].predict(xd) == yd).mean())
    else:
        best = 1.0
    yt = np.array([ids[e.label] for e in test])
    out = classification_metrics(
        yt, fits[best].predict(vec.transform([text(e) for e in test])), labels
    )
    out["C"] = best
    return out


def compare_to_baselines(test: dict, baselines: dict, metric: str = "accuracy") -> dict:
    """How far the model is above each baseline; not ok when it does not beat one."""
    margins = {name: test[metric] - b[metric] for name, b in baselines.items() if b}
    behind = [n for n, m in margins.items() if m <= 0]
    if behind:
        msg = f"the model does not beat the {' and '.join(behind)} baseline(s) on test {metric}"
    else:
        msg = "beats " + ", ".join(f"{n} by {m * 100:+.1f} points" for n, m in margins.items())
    return {"ok": not behind, "metric": metric, "margins": margins, "message": msg}


def collapse(pred: np.ndarray, labels: list[str]) -> dict:
    """All predictions one class: the model learned nothing but the prior."""
    if pred.ndim > 1:  # multi-label: every row the same label set
        same = bool(len(pred) > 1 and (pred == pred[0]).all())
        return {
            "ok": not same,
            "message": "every test row got the same label set" if same else "predictions vary",
        }
    counts = np.bincount(pred, minlength=len(labels))
    top = int(counts.argmax())
    share = float(counts[top] / max(len(pred), 1))
    ok = share < 1.0 or len(pred) < 2
    msg = (
        f"all {len(pred)} test predictions are {labels[top]!r}"
        if not ok
        else f"largest predicted class {labels[top]!r} = {share:.0%}"
    )
    return {"ok": ok, "largest_class_share": share, "message": msg}


@torch.inference_mode()
def _on_device(batch: dict, model) -> dict:
    """``batch`` on the device of ``model``'s parameters (a GPU run checks a CPU-built batch)."""
    param = next(model.parameters(), None)
    return batch if param is None else {k: v.to(param.device) for k, v in batch.items()}


def _logits(model, batch: dict):
    return model(**batch).logits


def eval_mode(model, batch: dict, forward=None) -> dict:
    """Two forward passes on the same batch in eval mode give the same outputs (dropout off).

    Args:
        forward: ``forward(model, batch) -> tensor`` (the task's; default ``.logits``).
    """
    forward = forward or _logits
    model.eval()
    batch = _on_device(batch, model)
    with torch.inference_mode():
        a = forward(model, batch).float()
        b = forward(model, batch).float()
    diff = float((a - b).abs().max())
    ok = diff == 0.0
    return {
        "ok": ok,
        "max_abs_diff": diff,
        "message": "deterministic in eval mode"
        if ok
        else f"two eval passes differ by {diff:.3g}: dropout still on?",
    }


@torch.inference_mode()
def reload_parity(
    model, model_dir, batch: dict, atol: float = 1e-4, load=None, expected=None, forward=None
) -> dict:
    """The saved model, loaded fresh, gives the logits of the in-memory one.

    Args:
        load: builds the fresh model from ``model_dir`` (base + adapter for PEFT methods);
            default: a plain transformers sequence classifier.
        expected: logits the trained model gave on ``batch`` when it was saved (compared
            instead of ``model``'s, so the check spans save and reload).
        forward: ``forward(model, batch) -> tensor`` (the task's; default ``.logits``).
    """
    forward = forward or _logits
    from transformers import AutoModelForSequenceClassification

    from tunewise.models.loading import quiet_transformers

    with quiet_transformers():
        if load is not None:
            fresh = load(model_dir).eval()
        else:
            fresh = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()
    model.eval()
    a = (
        expected.float().cpu()
        if expected is not None
        else forward(model, _on_device(batch, model)).float().cpu()
    )
    fresh = fresh.cpu()
    b = forward(fresh, _on_device(batch, fresh)).float()
    diff = float((a - b).abs().max())
    ok = diff <= atol
    return {
        "ok": ok,
        "max_abs_diff": diff,
        "rows": int(a.shape[0]),
        "message": f"reloaded model matches (max |diff| {diff:.2g})"
        if ok
        else f"reloaded model differs by {diff:.3g} (> {atol}): the saved model is not the trained one",
    }


def padding(real_share: float) -> dict:
    ok = real_share >= 0.7
    return {
        "ok": ok,
        "real_token_share": real_share,
        "message": f"{real_share:.0%} of processed tokens were real"
        + ("" if ok else "; batches are mostly padding"),
    }


def overfitting(evals: list[dict], metric: str, lower_is_better=()) -> dict:
    """Gap between train-subset and dev metric over time (from the evaluation records).

    Args:
        lower_is_better: metrics where lower is better (loss, perplexity, RMSE): the gap is
            then dev minus train, and "falling" means rising above the best.
    """
    sign = -1.0 if metric in lower_is_better else 1.0
    dev = {r["step"]: r[metric] for r in evals if r.get("split") == "dev" and metric in r}
    train = {r["step"]: r[metric] for r in evals if r.get("split") == "train" and metric in r}
    steps = sorted(set(dev) & set(train))
    if not steps:
        return {"ok": True, "message": "no train-set evaluations recorded", "gaps": []}
    gaps = [
        {"step": s, "train": train[s], "dev": dev[s], "gap": sign * (train[s] - dev[s])}
        for s in steps
    ]
    last = gaps[-1]["gap"]
    best_dev = max(sign * v for v in dev.values())
    falling = sign * dev[steps[-1]] < best_dev - 0.01 * (1 if sign > 0 else abs(best_dev))
    # higher-is-better metrics are shares (10 points); a loss-like one is judged relative to
    # its best value (10%)
    ok = last <= (0.1 if sign > 0 else 0.1 * abs(best_dev)) and not falling
    msg = (
        f"train-dev {metric} gap {last * 100:+.1f} points at the end"
        if sign > 0
        else f"dev {metric} above train by {last:+.4f} at the end"
    )
    if falling:
        msg += f"; dev {metric} moved away from its best {sign * best_dev:.4f} (the best checkpoint is kept)"
    return {"ok": ok, "final_gap": last, "gaps": gaps, "message": msg}


def selection(metric: str, best_step, has_dev: bool) -> dict:
    """Record how the model was chosen: on dev only; test evaluated once, after selection."""
    if not has_dev:
        return {
            "ok": True,
            "selected_on": None,
            "test_evaluations": 1,
            "message": "no dev set: the final weights are the model; test evaluated once",
        }
    return {
        "ok": True,
        "selected_on": "dev",
        "metric": metric,
        "best_step": best_step,
        "test_evaluations": 1,
        "message": f"checkpoint chosen on dev {metric} (step {best_step}); test evaluated once, after selection",
    }
