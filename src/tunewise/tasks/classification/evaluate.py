"""A classification run's final evaluation: metrics over whole splits, the multi-label
threshold tuned on dev, baselines (majority, TF-IDF + logistic regression), bootstrap
intervals, calibration, label issues in train, and the per-row predictions files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tunewise.rundir import atomic_write


def write_predictions(path: Path, examples, encoded, logits, task, threshold: float) -> None:
    """One JSON line per row of a split, in file order: gold, prediction, logits.

    Later stages (compare, calibration, the report) read these instead of re-running the model.
    """
    pred = task.predict(logits, threshold)
    lines = []
    for i, ex in enumerate(examples):
        gold = encoded.labels[i]
        rec = {
            "row": i,
            "where": ex.where,
            "gold": gold.tolist() if task.multi_label else int(gold),
            "pred": pred[i].tolist() if task.multi_label else int(pred[i]),
            "logits": [round(float(x), 6) for x in logits[i]],
        }
        lines.append(json.dumps(rec))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "\n".join(lines) + "\n")


def evaluate(task, f) -> dict:
    """Final metrics of the best model (``f``: the runner's :class:`~tunewise.tasks.base.Fitted`)."""
    from tunewise.data.saved import save_split
    from tunewise.evaluation.calibration import apply_temperature
    from tunewise.evaluation.checks import collapse, compare_to_baselines, tfidf_baseline
    from tunewise.evaluation.honest import add_intervals, calibration, find_label_issues
    from tunewise.evaluation.metrics import majority_baseline
    from tunewise.training.loop import predict_logits

    enc, data = f.enc, f.data
    metrics: dict = {}
    checks: dict = {}
    logits_by_split = {}
    threshold = 0.5
    if enc["dev"] is not None:
        dev_logits = predict_logits(
            f.model, task, enc["dev"], f.eval_batch_size, f.accelerator, f.pad_id
        )
        if task.multi_label:
            threshold = task.tune_threshold(dev_logits, enc["dev"].labels)
            metrics["threshold"] = threshold
        metrics["dev"] = task.metrics(dev_logits, enc["dev"].labels, threshold)
        logits_by_split["dev"] = dev_logits
    task.threshold = threshold
    if enc["test"] is not None:
        test_logits = predict_logits(
            f.model, task, enc["test"], f.eval_batch_size, f.accelerator, f.pad_id
        )
        metrics["test"] = task.metrics(test_logits, enc["test"].labels, threshold)
        logits_by_split["test"] = test_logits
        metrics["baselines"] = {
            "majority": majority_baseline(
                enc["train"].labels, enc["test"].labels, task.labels, task.multi_label
            )
        }
        tfidf = tfidf_baseline(data.train, data.dev, data.test, task.labels, task.multi_label)
        if tfidf is not None:
            metrics["baselines"]["tfidf_logreg"] = tfidf
        add_intervals(metrics["test"], task, enc["test"].labels, test_logits, threshold)
        if "dev" in logits_by_split:
            metrics["calibration"] = calibration(
                task, enc["dev"].labels, logits_by_split["dev"], enc["test"].labels, test_logits
            )
            # applied by default where it lowers dev NLL; --no-calibrate turns it off
            t = apply_temperature(metrics["calibration"], f.cfg.task.calibrate)
            if t is not None:
                task.temperature = t
        checks["baselines"] = compare_to_baselines(metrics["test"], metrics["baselines"])
    if f.cfg.task.abstain and "dev" in logits_by_split:
        metrics["abstain"] = abstention(task, f, logits_by_split)
    if f.main:
        save_split(f.run.path, "dev", data.dev)  # an int8 export's probe: never test
        if f.cfg.task.label_issues:
            checks["label_issues"] = find_label_issues(
                f.raw, task, enc["train"], data.train, f.pad_id, f.run.label_issues
            )
        else:
            checks["label_issues"] = {
                "ok": True,
                "count": 0,
                "skipped": True,
                "message": "label-issue search skipped (--no-label-issues)",
            }
        for name, logits in logits_by_split.items():
            write_predictions(
                f.run.predictions / f"{name}.jsonl",
                getattr(data, name),
                enc[name],
                logits,
                task,
                threshold,
            )
    split = "test" if "test" in logits_by_split else "dev" if "dev" in logits_by_split else None
    if split is not None:  # against the true label distribution, not only "all one class"
        checks["collapse"] = collapse(
            task.predict(logits_by_split[split], threshold), task.labels, enc[split].labels
        )
    metrics["checks"] = checks
    metrics["_outputs"] = logits_by_split
    return metrics


def _embed(f, task, data) -> np.ndarray:
    """L2-normalised [CLS] embeddings of the last layer for an encoded split."""
    import torch

    from tunewise.tasks.classification.abstain import normalise
    from tunewise.training.batching import INFER_MAX_PAD, eval_batches

    model = f.raw
    model.eval()
    out = np.zeros((len(data), model.config.hidden_size), dtype=np.float32)
    device = next(model.parameters()).device
    with torch.inference_mode():
        for idx in eval_batches(data.lengths, f.eval_batch_size, INFER_MAX_PAD):
            batch = {k: v.to(device) for k, v in task.collate(data, idx, f.pad_id).items()}
            batch.pop("labels", None)
            hidden = model(**batch, output_hidden_states=True).hidden_states[-1]
            out[idx] = hidden[:, 0].float().cpu().numpy()
    return normalise(out)


def abstention(task, f, logits_by_split: dict) -> dict:
    """Choose the out-of-scope score and its threshold on dev; score dev and test with it.

    Sets ``task.abstain`` (saved with the model) and returns ``metrics["abstain"]``.
    """
    from tunewise.tasks.classification import abstain as ab
    from tunewise.training.loop import predict_logits

    cfg = f.cfg.task
    target = ab.parse_target(cfg.abstain_target)
    oos_class = task.oos_class
    k = 10
    want_knn = cfg.abstain_score in ("auto", "knn")
    bank = _embed(f, task, f.enc["train"]) if want_knn else None
    if bank is not None and oos_class is not None:  # the bank holds in-scope training rows
        bank = bank[f.enc["train"].labels != oos_class]

    def split(name: str) -> dict | None:
        enc = f.enc.get(name)
        held = f.data.held_out.get(name) or []
        parts_logits, parts_emb, gold = [], [], []
        for e in [enc] + (
            [task.encode(held, f.tokenizer, f.cfg.model.max_length, False)] if held else []
        ):
            if e is None or not len(e):
                continue
            lg = (
                logits_by_split[name]
                if e is enc
                else predict_logits(f.model, task, e, f.eval_batch_size, f.accelerator, f.pad_id)
            )
            parts_logits.append(lg)
            gold.append(e.labels if e is enc else np.full(len(e), ab.OOS))
            if want_knn:
                parts_emb.append(_embed(f, task, e))
        if not parts_logits:
            return None
        logits, y = np.concatenate(parts_logits), np.concatenate(gold)
        is_oos = y == ab.OOS if oos_class is None else (y == ab.OOS) | (y == oos_class)
        scores = ab.logit_scores(logits, task.temperature, oos_class)
        if want_knn:
            scores["knn"] = ab.knn_score(np.concatenate(parts_emb), bank, k)
        pred = task.predict(logits)
        if oos_class is not None:  # predicting the out-of-scope class is an abstention
            for v in scores.values():
                v[pred == oos_class] = ab.PREDICTED_OOS
        return {"scores": scores, "is_oos": is_oos, "correct": (pred == y) & ~is_oos}

    dev, test = split("dev"), split("test")
    by_score = {
        name: {
            s: ab.auroc(part["scores"][name], part["is_oos"])
            for s, part in (("dev_auroc", dev), ("test_auroc", test))
            if part is not None
        }
        for name in dev["scores"]
    }
    if cfg.abstain_score != "auto":
        chosen = cfg.abstain_score
    elif dev["is_oos"].any():
        chosen = max(by_score, key=lambda n: by_score[n].get("dev_auroc") or 0.0)
    else:
        chosen = "msp"
    threshold = ab.threshold_for(dev["scores"][chosen], dev["is_oos"], target)
    task.abstain = {
        "score": chosen,
        "threshold": threshold,
        "temperature": task.temperature,
        "k": k,
        "oos_label": cfg.oos_label,
        "target": cfg.abstain_target,
    }
    if chosen == "knn" and f.main:
        np.save(f.run.model / "abstain_bank.npy", bank.astype(np.float16))
    out: dict = {
        "score": chosen,
        "threshold": threshold,
        "target": cfg.abstain_target,
        "oos_label": cfg.oos_label,
        "oos_in_train": oos_class is not None,
        "chosen_by": "explicit"
        if cfg.abstain_score != "auto"
        else (
            "best dev AUROC" if dev["is_oos"].any() else "default (dev has no out-of-scope rows)"
        ),
        "by_score": by_score,
    }
    for name, part in (("dev", dev), ("test", test)):
        if part is not None:
            out[name] = ab.abstain_metrics(
                part["scores"][chosen], part["is_oos"], part["correct"], threshold
            )
    return out
