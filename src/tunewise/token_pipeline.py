"""The token-classification flow of ``tunewise.train`` (``task.type: tokens``).

Same run directory, loop, checkpoints and resume as classification (via
:func:`tunewise.run_steps.fit_best` and :func:`tunewise.run_steps.finish`); what differs is the
data (tagged words), the head (AutoModelForTokenClassification) and the evaluation (entities).
"""

from __future__ import annotations

import json

from tunewise.config import Config
from tunewise.predictor import META_FILE
from tunewise.rundir import RunDir, atomic_write, write_json

SPLITS = ("train", "dev", "test")


def _gold_tags(splits) -> list[str]:
    return sorted({t for part in (splits.dev, splits.test) for ex in part for t in ex.tags})


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


def _checks(task, model, raw, run, enc, logits, state, metric, pad_id, load, saved) -> dict:
    from tunewise.evaluation import checks

    out = {}
    split = "test" if "test" in logits else "dev" if "dev" in logits else None
    if split:
        idx = list(range(min(32, len(enc[split]))))
        batch = task.collate(enc[split], idx, pad_id)
        batch.pop("labels", None)
        out["eval_mode"] = checks.eval_mode(raw, batch)
        out["reload_parity"] = checks.reload_parity(
            raw, run.model, batch, load=load, expected=saved
        )
        n_ent = sum(t[:2] == "B-" for tags in task.predict_tags(logits[split]) for t in tags)
        out["collapse"] = {
            "ok": n_ent > 0,
            "predicted_entities": n_ent,
            "message": f"{n_ent} entities predicted on {split}"
            if n_ent
            else f"no entity predicted on {split}: every word got O",
        }
    out["padding"] = checks.padding(state.real_tokens / max(state.total_tokens, 1))
    out["overfitting"] = checks.overfitting(state.evals, metric)
    out["selection"] = checks.selection(metric, state.best_step, "dev" in logits)
    return out


def train_tokens(
    cfg: Config,
    run: RunDir,
    accelerator,
    resume: bool,
    echo,
    tracker=None,
    evaluate_test=True,
    on_log=None,
):
    """Read tagged data, fine-tune a token-classification head, score entities, write the run."""
    import torch

    from tunewise.data.token_splits import load_token_splits, require_valid
    from tunewise.evaluation import entities as ent
    from tunewise.models.loading import load_pretrained, load_tokenizer
    from tunewise.pipeline import RunResult
    from tunewise.run_steps import data_record, finish, fit_best, log_sinks, training_summary
    from tunewise.tasks.tokens import TokenTask
    from tunewise.training.loop import predict_logits

    main = accelerator.is_main_process
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    splits = load_token_splits(cfg.data)
    task = TokenTask(splits.labels, _gold_tags(splits))
    resolved, tokenizer = load_pretrained(cfg.model.name, lambda p: load_tokenizer(p))
    if cfg.doctor.enabled:
        from tunewise.doctor import preflight

        preflight(cfg, splits, tokenizer, run.path if main else None, echo)
    elif "tag_scheme" not in cfg.doctor.allow:
        require_valid(splits)
    parts = {n: getattr(splits, n) for n in SPLITS}
    enc = {
        n: task.encode(exs, tokenizer, cfg.model.max_length) if exs else None
        for n, exs in parts.items()
    }
    if not evaluate_test:
        enc["test"] = None
    for name, e in enc.items():
        if e is not None and e.truncated:
            echo(
                f"{name}: {e.truncated} of {len(e)} sentences ({e.stats['truncated_share']:.1%}) "
                f"truncated at max_length {cfg.model.max_length}; their cut words count as O"
            )
    types = splits.info["entity_types"]
    if main:
        write_json(
            run.labels,
            {
                "labels": task.labels,
                "multi_label": False,
                "task": "tokens",
                "scheme": "BIO",
                "entity_types": types,
            },
        )
        write_json(run.data, data_record(splits.info, resolved, enc))
    meta = {
        "task": task.name,
        "labels": task.labels,
        "multi_label": False,
        "scheme": "BIO",
        "max_length": cfg.model.max_length,
        "base_model": resolved.name,
    }
    describe = (
        f"model {resolved.name} ({resolved.source}: {resolved.path}); "
        f"{len(splits.train)} train / {len(splits.dev)} dev / {len(splits.test)} test sentences; "
        f"entity types: {', '.join(types)} (tags read as {splits.info['tag_schemes']}, "
        "trained as BIO)"
    )
    model, raw, state, metric, pad_id, fitted = fit_best(
        cfg,
        run,
        accelerator,
        resume,
        echo,
        task,
        enc,
        tokenizer,
        meta,
        describe,
        task.auto_model(),
        on_log=log_sinks(tracker, on_log),
    )
    metrics: dict = {"task": "tokens", "metric_for_best": metric, "best_step": state.best_step}
    logits = {}
    for name in ("dev", "test"):
        if enc[name] is not None:
            logits[name] = predict_logits(
                model, task, enc[name], cfg.train.batch_size * 2, accelerator, pad_id
            )
            metrics[name] = task.metrics(logits[name], enc[name].labels)
    if "test" in metrics:
        gold = [ex.tags for ex in splits.test]
        metrics["test"]["ci"] = ent.bootstrap_f1(gold, task.predict_tags(logits["test"]))
        metrics["baselines"] = ent.baselines(
            [ex.words for ex in splits.train],
            [ex.tags for ex in splits.train],
            gold,
            [ex.words for ex in splits.test],
        )
    raw.to("cpu")  # the checks compare with a fresh CPU copy of the saved model
    metrics["checks"] = _checks(
        task, model, raw, run, enc, logits, state, metric, pad_id, fitted["load"], fitted["saved"]
    )
    if "test" in metrics:
        metrics["checks"]["baselines"] = ent.compare_to_baselines(
            metrics["test"], metrics["baselines"]
        )
    for name, c in metrics["checks"].items():
        if not c["ok"]:
            echo(f"warning [{name}]: {c['message']}")
    metrics["seeds"] = {
        "values": [cfg.train.seed],
        "single_seed": True,
        "note": "single seed: the spread across seeds is unknown; use --seeds K",
    }
    metrics["method"] = fitted["method"]
    metrics["training"] = training_summary(state, accelerator)
    if main:
        (run.model / META_FILE).write_text(json.dumps(meta, indent=2))
        for name, lg in logits.items():
            write_token_predictions(run.predictions / f"{name}.jsonl", parts[name], lg, task)
        finish(run, metrics, echo, tracker)
    accelerator.wait_for_everyone()
    return RunResult(run.path, metrics, main)


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

    for line in headline(metrics):
        console.print(escape(line), highlight=False)
    seeds = metrics.get("seeds", {})
    if seeds.get("single_seed"):
        console.print(f"[yellow]{seeds['note']}[/yellow]")
    for name, c in metrics.get("checks", {}).items():
        if not c.get("ok", True):
            console.print(f"[yellow]warning [{name}]: {escape(c['message'])}[/yellow]")
    tr = metrics.get("training")
    if tr:
        console.print(
            f"training: {tr['steps']} steps, {tr['train_seconds']} s, "
            f"{tr['examples_per_s']} sentences/s, {tr['real_token_share']:.0%} of processed "
            "tokens real"
        )
