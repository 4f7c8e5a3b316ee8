"""Checks during and after training, recorded in ``metrics.json`` under ``checks``.

Each returns a dict with ``ok`` (bool) and a one-line ``message``; a failed check is a warning
shown to the user, never silent.
"""

from __future__ import annotations

import numpy as np
import torch

from tunewise.progress import current_ticker, timed


@timed("baseline: tf-idf + logistic regression", "4 fits, C chosen on dev")
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
    fits = {}
    ticker = current_ticker()
    for i, c in enumerate(grid):
        fits[c] = LogisticRegression(C=c, max_iter=2000).fit(x, y)
        if ticker:
            ticker.tick(i + 1, len(grid), "fits")
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


IMBALANCE_RATIO = 1.5
"""Largest over smallest class support above which a split counts as imbalanced (macro-F1 is
then a headline metric: accuracy alone rewards ignoring the rare classes)."""


def headline_metrics(test: dict) -> list[str]:
    """The metrics a verdict must hold on: accuracy, plus macro-F1 when the classes are
    imbalanced (multi-label: micro- and macro-F1)."""
    if "accuracy" not in test and "micro_f1" in test:
        return [m for m in ("micro_f1", "macro_f1") if m in test]
    out = ["accuracy"]
    support = [v.get("support", 0) for v in (test.get("per_class") or {}).values()]
    support = [s for s in support if s > 0]
    if (
        "macro_f1" in test
        and support
        and (
            len(support) < len(test.get("per_class") or {})
            or max(support) > IMBALANCE_RATIO * min(support)
        )
    ):
        out.append("macro_f1")
    return out


def given_up_classes(test: dict) -> list[str]:
    """Classes with test rows of which the model recalls none."""
    return [
        name
        for name, v in (test.get("per_class") or {}).items()
        if v.get("support", 0) > 0 and v.get("recall", 1.0) == 0.0
    ]


def compare_to_baselines(test: dict, baselines: dict, metric: str | None = None) -> dict:
    """The model against each baseline on every headline metric (see :func:`headline_metrics`;
    ``metric`` names one explicitly). Not ok when it loses or ties on any of them, or gives up
    on a class (support > 0, recall 0); the message says plainly which."""
    metrics = [metric] if metric else headline_metrics(test)
    margins_by: dict = {}
    losses, wins = [], []
    for name, b in baselines.items():
        if not b:
            continue
        for m in metrics:
            if m not in b or m not in test:
                continue
            diff = test[m] - b[m]
            margins_by.setdefault(m, {})[name] = diff
            (losses if diff <= 0 else wins).append((name, m, diff, b[m]))
    gave_up = given_up_classes(test)
    parts = []
    if losses:
        parts.append(
            "the model does not beat "
            + "; ".join(
                f"the {n} baseline on test {m} ({test[m]:.3f} vs {bv:.3f}, {d * 100:+.1f} points)"
                for n, m, d, bv in losses
            )
        )
    if wins:
        parts.append(
            ("it beats " if losses else "beats ")
            + ", ".join(f"{n} on {m} by {d * 100:+.1f} points" for n, m, d, _ in wins)
        )
    if gave_up:
        support = {n: test["per_class"][n]["support"] for n in gave_up}
        parts.append(
            "it gives up on "
            + ", ".join(f"{n!r} (0 of {support[n]} test rows recalled)" for n in gave_up)
        )
    first = metrics[0]
    return {
        "ok": not losses and not gave_up,
        "metric": first,
        "metrics": metrics,
        "margins": margins_by.get(first, {}),
        "margins_by_metric": margins_by,
        "given_up_classes": gave_up,
        "message": "; ".join(parts) or "no baseline to compare with",
    }


COLLAPSE_TV = 0.25
"""Total-variation distance between the predicted and the true label distribution above which
the predictions are called collapsed toward a few classes."""


def collapse(pred: np.ndarray, labels: list[str], gold: np.ndarray | None = None) -> dict:
    """Predictions collapsed onto few classes: all one class, or (with ``gold``) a predicted
    label distribution far from the true one (total-variation distance) or a class with rows
    of which none is predicted right."""
    if pred.ndim > 1:  # multi-label: every row the same label set
        same = bool(len(pred) > 1 and (pred == pred[0]).all())
        return {
            "ok": not same,
            "message": "every test row got the same label set" if same else "predictions vary",
        }
    counts = np.bincount(pred, minlength=len(labels))
    top = int(counts.argmax())
    share = float(counts[top] / max(len(pred), 1))
    out = {"largest_class_share": share}
    if share >= 1.0 and len(pred) >= 2:
        return out | {
            "ok": False,
            "message": f"all {len(pred)} test predictions are {labels[top]!r}",
        }
    msg = f"largest predicted class {labels[top]!r} = {share:.0%}"
    if gold is None or len(gold) == 0:
        return out | {"ok": True, "message": msg}
    gold = np.asarray(gold)
    true = np.bincount(gold, minlength=len(labels)) / len(gold)
    predicted = counts / max(len(pred), 1)
    tv = float(0.5 * np.abs(predicted - true).sum())
    zero = [
        labels[k]
        for k in range(len(labels))
        if (gold == k).any() and not (pred[gold == k] == k).any()
    ]
    out |= {
        "total_variation": round(tv, 4),
        "predicted_share": {l: round(float(x), 4) for l, x in zip(labels, predicted)},
        "true_share": {l: round(float(x), 4) for l, x in zip(labels, true)},
        "zero_recall_classes": zero,
    }
    bad = []
    if tv >= COLLAPSE_TV:
        bad.append(
            f"predicted labels are far from the true ones (total variation {tv:.2f}): "
            f"{labels[top]!r} is {share:.0%} of predictions but {true[top]:.0%} of the rows"
        )
    if zero:
        bad.append(f"no row of {', '.join(repr(z) for z in zero)} is predicted right")
    return out | {"ok": not bad, "message": "; ".join(bad) or f"{msg} (true {true[top]:.0%})"}


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


@timed("reload check: the saved model loaded fresh from disk")
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
