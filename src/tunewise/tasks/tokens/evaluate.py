"""A token run's final evaluation (entities), its predictions file and its terminal summary."""

from __future__ import annotations

import json

from tunewise.rundir import atomic_write


def write_token_predictions(path, examples, logits, task) -> None:
    """One JSON line per sentence in file order: words, gold and predicted tags, entities."""
    lines = []
    for i, (ex, wl) in enumerate(zip(examples, logits)):
        pred, _ = task.decode_tags(wl)
        rec = {
            "row": i,
            "where": ex.where,
            "text": ex.text,
            "gold": ex.tags,
            "pred": pred,
            "entities": task.entities(ex.text, ex.offsets, wl),
        }
        lines.append(json.dumps(rec, ensure_ascii=False))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "\n".join(lines) + "\n")


def evaluate(task, f) -> dict:
    """Entity metrics of the best model on dev and test, the test interval, the baselines
    (word memory, all-O) and ``predictions/`` (``f``: the runner's Fitted)."""
    from tunewise.tasks.tokens import metrics as ent
    from tunewise.training.loop import predict_logits

    metrics: dict = {"task": task.name}
    logits = {}
    for name in ("dev", "test"):
        if f.enc[name] is not None:
            logits[name] = predict_logits(
                f.model, task, f.enc[name], f.eval_batch_size, f.accelerator, f.pad_id
            )
            metrics[name] = task.metrics(logits[name], f.enc[name].labels)
    checks = {}
    if "test" in metrics:
        gold = [ex.tags for ex in f.data.test]
        metrics["test"]["ci"] = ent.bootstrap_f1(gold, task.predict_tags(logits["test"]))
        metrics["baselines"] = ent.baselines(
            [ex.words for ex in f.data.train],
            [ex.tags for ex in f.data.train],
            gold,
            [ex.words for ex in f.data.test],
        )
        checks["baselines"] = ent.compare_to_baselines(metrics["test"], metrics["baselines"])
    if f.main:
        from tunewise.tasks.tokens.data import save_tagged_split

        save_tagged_split(f.run.path, "dev", f.data.dev)  # an int8 export's probe: never test
        for name, lg in logits.items():
            write_token_predictions(
                f.run.predictions / f"{name}.jsonl", getattr(f.data, name), lg, task
            )
    metrics["checks"] = checks
    metrics["_outputs"] = logits
    return metrics


def headline(metrics: dict) -> list[str]:
    """Lines for the terminal: entity F1 per split, baselines, per-type F1 of test."""
    lines = []
    for split in ("dev", "test"):
        m = metrics.get(split)
        if m:
            ci = m.get("ci", {}).get("micro_f1")
            lines.append(
                f"{split}: entity F1 {m['micro_f1']:.4f}"
                + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
                + f" (P {m['micro_precision']:.4f}, R {m['micro_recall']:.4f}; macro F1 "
                f"{m['macro_f1']:.4f}; token accuracy {m['token_accuracy']:.4f}; "
                f"{m['n']} sentences, {m['gold_entities']} entities)"
            )
    for name, b in metrics.get("baselines", {}).items():
        lines.append(
            f"baseline {name} (test): entity F1 {b['micro_f1']:.4f}, token accuracy "
            f"{b['token_accuracy']:.4f}"
        )
    test = metrics.get("test") or metrics.get("dev") or {}
    for t, v in (test.get("per_type") or {}).items():
        lines.append(
            f"  {t:<16} P {v['precision']:.4f}  R {v['recall']:.4f}  F1 {v['f1']:.4f}"
            f"  support {v['support']}"
        )
    return lines


def print_token_metrics(metrics: dict, console) -> None:
    """The terminal summary of a token run (or evaluation): entity scores first."""
    from rich.markup import escape

    from tunewise.tasks.summary import print_checks_and_training, print_seeds

    for line in headline(metrics):
        console.print(escape(line), highlight=False)
    print_seeds(metrics, console, ("micro_f1", "macro_f1", "token_accuracy"))
    print_checks_and_training(metrics, console, unit="sentences", shown=())
