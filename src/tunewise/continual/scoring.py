"""Accuracy of a stage's model on each test set of its lineage, two ways: with the task not
given (every label the model knows competes: what a deployed model faces) and with the task
given (only that test set's own labels compete). Each cell keeps its per-row correctness so
that the forgetting measures get bootstrap intervals over the same rows."""

from __future__ import annotations

import numpy as np

from tunewise.data.examples import Example
from tunewise.data.readers import read_examples
from tunewise.tasks.text import columns


def read_test(entry: dict) -> list[Example]:
    """The stage's test rows; an abstaining stage's out-of-scope rows (``held_out_label``,
    a label none of its classes is) left out, as its own run left them out of accuracy."""
    rows = read_examples(entry["test"], require_label=True, **columns(entry["data"]))
    held = entry.get("held_out_label")
    return rows if held is None else [x for x in rows if x.label != held]


def read_train(entry: dict) -> list[Example]:
    from tunewise.errors import UserError

    if not entry.get("train"):
        raise UserError(f"{entry['run']}: the stage records no training file")
    try:
        return read_examples(entry["train"], require_label=True, **columns(entry["data"]))
    except FileNotFoundError:
        raise UserError(
            f"{entry['train']}: the training file of stage {entry['task']} ({entry['run']}) "
            "is gone; replay/ewc/joint need it (or a parent that saved a replay memory)"
        ) from None


def predictions(logits: np.ndarray, labels: list[str], allowed: list[str] | None) -> list:
    """Label names predicted from ``logits`` (columns = ``labels``); with ``allowed`` only
    those labels compete (None where the model knows none of them)."""
    if allowed is None:
        return [labels[i] for i in logits.argmax(axis=1)]
    keep = [i for i, label in enumerate(labels) if label in set(allowed)]
    if not keep:
        return [None] * len(logits)
    sub = logits[:, keep]
    return [labels[keep[i]] for i in sub.argmax(axis=1)]


def cell(gold: list, pred: list, pred_given: list, entry: dict) -> dict:
    c = np.array([g == p for g, p in zip(gold, pred)], dtype=np.int8)
    cg = np.array([g == p for g, p in zip(gold, pred_given)], dtype=np.int8)
    return {
        "task": entry["task"],
        "test": entry["test"],
        "n": int(len(c)),
        "accuracy": float(c.mean()) if len(c) else 0.0,
        "accuracy_task_given": float(cg.mean()) if len(cg) else 0.0,
        "correct": "".join(map(str, c.tolist())),
        "correct_task_given": "".join(map(str, cg.tolist())),
    }


def score_model(run_path, entries: list[dict]) -> list[dict]:
    """One model (a run's predictor) on each entry's test set."""
    from tunewise.run.api import load

    predictor = load(run_path)
    out = []
    for e in entries:
        examples = read_test(e)
        logits = predictor.logits(examples)
        gold = [x.label for x in examples]
        out.append(
            cell(
                gold,
                predictions(logits, predictor.labels, None),
                predictions(logits, predictor.labels, e["labels"]),
                e,
            )
        )
    return out


def score_experts(experts: list[dict], router, entries: list[dict]) -> tuple[list[dict], dict]:
    """lora-per-task: task given -> that task's model, its task's labels competing; task not
    given -> the task the router picks for each row, answered the same way. Returns (cells,
    the router's accuracy per test set and overall)."""
    from tunewise.run.api import load

    cache: dict = {}
    predictors = [
        cache.setdefault(x["run"], cache.get(x["run"]) or load(x["run"])) for x in experts
    ]
    out, hits, total, per = [], 0, 0, {}
    for j, e in enumerate(entries):
        examples = read_test(e)
        gold = [x.label for x in examples]
        own = predictors[j]
        given = predictions(own.logits(examples), own.labels, e["labels"])
        route = router.route([x.text for x in examples])
        pred: list = [None] * len(examples)
        for k in sorted(set(route.tolist())):
            rows = [i for i, r in enumerate(route) if r == k]
            sub = [examples[i] for i in rows]
            p = predictions(predictors[k].logits(sub), predictors[k].labels, entries[k]["labels"])
            for i, label in zip(rows, p):
                pred[i] = label
        right = int((route == j).sum())
        per[e["task"]] = right / max(len(route), 1)
        hits, total = hits + right, total + len(route)
        out.append(cell(gold, pred, given, e))
    return out, {"accuracy": hits / max(total, 1), "per_test": per, "rows": total}
