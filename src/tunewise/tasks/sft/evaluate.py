"""An sft run's evaluation: the base model's dev loss and answers before training; after it,
dev/test loss and perplexity over every row, greedy answers to dev prompts before and after
(``samples.md``), and generation metrics over the whole test split (or a seeded sample whose
size ``sft.test_generations`` sets) with bootstrap intervals."""

from __future__ import annotations

import numpy as np

from tunewise.rundir import atomic_write
from tunewise.tasks.sft.generate import answers


def _dev_prompts(task, data, cfg) -> list:
    return [ex for ex in (data.dev or []) if ex.messages][: cfg.sft.eval_samples]


def before_training(task, model, enc, data, cfg, accelerator, pad_id, tokenizer, echo) -> dict:
    """The base model's dev loss and dev answers, for the before/after comparison."""
    before: dict = {"answers": None, "dev": None}
    model.to(accelerator.device)
    if enc.get("dev") is not None and len(enc["dev"]):
        before["dev"] = task.evaluate_loss(
            model, enc["dev"], cfg.train.batch_size * 2, accelerator, pad_id
        )
    prompts = _dev_prompts(task, data, cfg)
    if prompts and accelerator.is_main_process:
        echo(f"generating {len(prompts)} dev answers with the base model")
        before["answers"] = answers(
            model, tokenizer, prompts, cfg.sft.eval_max_new_tokens, task.stop_ids, pad_id
        )
    return before


def _test_sample(test: list, n: int | None, seed: int) -> tuple[list, dict]:
    """The test rows whose answers are generated: all of them, or a seeded sample of ``n``."""
    rows = [ex for ex in test if ex.messages and ex.reference is not None]
    if n is None or n >= len(rows):
        return rows, {"rows": len(rows), "of": len(rows), "sample": False}
    idx = np.sort(np.random.default_rng(seed).choice(len(rows), size=n, replace=False))
    return [rows[i] for i in idx], {"rows": n, "of": len(rows), "sample": True, "seed": seed}


def test_generation(task, model, tokenizer, test: list, cfg, pad_id: int, echo) -> dict | None:
    """Exact match, ROUGE-L and the stop rate over the test prompts, each with a percentile
    bootstrap 95% interval over rows; ``predictions/test.jsonl`` holds every answer."""
    from tunewise.evaluation.stats import bootstrap_mean
    from tunewise.tasks.sft.metrics import generation_scores

    rows, how = _test_sample(test, cfg.sft.test_generations, cfg.train.seed)
    if not rows:
        return None
    what = f"a seeded sample of {how['rows']} of {how['of']}" if how["sample"] else "all"
    echo(f"generating answers to {what} test prompts (max {cfg.sft.eval_max_new_tokens} tokens)")
    got = answers(model, tokenizer, rows, cfg.sft.eval_max_new_tokens, task.stop_ids, pad_id)
    scores = generation_scores(got, [ex.reference for ex in rows])
    out: dict = {**how, "max_new_tokens": cfg.sft.eval_max_new_tokens, "ci": {}}
    for key, values in scores.items():
        out[key] = float(np.mean(values)) if len(values) else None
        if len(values) > 1:
            out["ci"][key] = bootstrap_mean(values)
    out["ci_method"] = "percentile bootstrap over rows, 1000 resamples, 95%"
    out["_answers"] = (rows, got)
    return out


def write_test_answers(path, rows, got) -> None:
    import json

    lines = [
        json.dumps(
            {
                "row": i,
                "where": ex.where,
                "prompt": ex.prompt,
                "reference": ex.reference,
                "answer": a["text"],
                "finish": "stop" if a["stopped"] else "length",
            },
            ensure_ascii=False,
        )
        for i, (ex, a) in enumerate(zip(rows, got))
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "\n".join(lines) + ("\n" if lines else ""))


def evaluate(task, f) -> dict:
    """Final metrics of the saved (merged) model, reloaded as a user will load it."""
    from tunewise.tasks.sft.metrics import generation_metrics, write_samples

    cfg = f.cfg
    metrics: dict = {}
    for name in ("dev", "test"):
        if f.enc.get(name) is not None and len(f.enc[name]):
            metrics[name] = task.evaluate_loss(
                f.model, f.enc[name], f.eval_batch_size, f.accelerator, f.pad_id
            )
    before = f.extras or {}
    if before.get("dev") is not None:
        metrics["dev_before"] = before["dev"]
    prompts = _dev_prompts(task, f.data, cfg)
    if prompts and f.main:
        after = answers(
            f.model, f.tokenizer, prompts, cfg.sft.eval_max_new_tokens, task.stop_ids, f.pad_id
        )
        refs = [ex.reference for ex in prompts]
        b = before.get("answers") or []
        metrics["generation"] = {
            "before": generation_metrics(b, refs) if b else None,
            "after": generation_metrics(after, refs),
            "max_new_tokens": cfg.sft.eval_max_new_tokens,
        }
        if b:
            write_samples(f.run.path, prompts, b, after)
    if f.main and f.data.test:
        gen = test_generation(task, f.model, f.tokenizer, f.data.test, cfg, f.pad_id, f.echo)
        if gen is not None:
            rows, got = gen.pop("_answers")
            write_test_answers(f.run.predictions / "test.jsonl", rows, got)
            metrics.setdefault("test", {})["generation"] = gen
    metrics["training_extra"] = {
        "trained_tokens": f.enc["train"].stats["trained_tokens"],
        "packing": cfg.sft.packing,
    }
    return metrics
