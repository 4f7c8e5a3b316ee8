"""``--shots K --draws N``: the whole run repeated over N K-shot draws, summarized across draws.

Layout of ``OUT``::

    shots/draw-<i>/train.jsonl, dev.jsonl   the rows of each draw (their source lines recorded)
    shots/test.jsonl                        only when test was carved from train (no --test)
    draw-<i>/                               a complete run on that draw (any method)
    draws.json                              seeds, rows and class counts of every draw
    metrics.json                            mean of every metric across draws (the headline),
                                            with std and a 95% interval, and each draw's figures
    model/, predictions/                    the draw chosen on dev (never on test): tunewise.load
    summary.md                              the table and the sentence about between-draw spread
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

from tunewise.config import Config, config_to_dict
from tunewise.errors import UserError
from tunewise.fewshot.sampling import make_draws
from tunewise.rundir import MODEL_DIR, PREDICTIONS_DIR, RunDir, prepare_out, write_json

KEYS = ("accuracy", "macro_f1", "micro_f1", "mcc")
BOUNDS = {"mcc": (-1.0, 1.0)}  # the others are shares in [0, 1]
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def t_quantile(df: int) -> float:
    """Student's t 0.975 quantile (the 95% interval of a mean over few draws)."""
    if df < 1:
        return float("nan")
    if df in T975:
        return T975[df]
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def across(values: list[float], bounds: tuple[float, float] | None = (0.0, 1.0)) -> dict:
    """Mean, sample std and the t-based 95% interval of the mean of ``values``, the interval
    clipped to ``bounds`` (a share cannot leave [0, 1]; None: not clipped). The t interval is
    symmetric: with 3 draws and a large spread it would otherwise claim accuracies above 1."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    half = t_quantile(n - 1) * std / math.sqrt(n) if n > 1 else float("nan")
    lo, hi = mean - half, mean + half
    if bounds is not None and n > 1:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return {
        "mean": round(mean, 6),
        "std": round(std, 6),
        "ci95": [round(lo, 6), round(hi, 6)] if n > 1 else None,
        "n": n,
        "values": [round(v, 6) for v in values],
    }


def write_rows(path: Path, examples, data_cfg) -> None:
    """Examples as JSONL under the user's column names (the sub-run reads them as given)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for e in examples:
        row = {data_cfg.text_column: e.text, data_cfg.label_column: e.label}
        if e.text_pair is not None and data_cfg.text_pair_column:
            row[data_cfg.text_pair_column] = e.text_pair
        lines.append(json.dumps(row, ensure_ascii=False))
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")


def read_pool(cfg: Config):
    """(task class, train rows, dev rows or None, the test file) for drawing: test is the
    user's file, or carved from train here (grouped, seeded) before any draw."""
    from tunewise.run.runner import resolve_config

    task_cls = resolve_config(cfg)
    if not task_cls.classifies_texts:
        raise UserError(f"--shots: few-shot draws are for classification, not {task_cls.name}")
    data = task_cls.read_data(cfg)
    test_rows = None
    if data.test is None:
        from tunewise.data.splits import grouped_split

        share = cfg.data.split.test or 0.1
        data.train, _, test_rows = grouped_split(
            data.train,
            key=task_cls.group_key,
            stratum=task_cls.stratum,
            dev=0.0,
            test=share,
            seed=cfg.data.split.seed,
        )
    return task_cls, data, test_rows


def sub_config(cfg: Config, train_file: Path, dev_file: Path | None, test_file, out: Path):
    """The config of one draw's run: its own files, no further draws or carving."""
    sub = cfg.model_copy(deep=True)
    sub.fewshot = type(sub.fewshot)()
    sub.data.train, sub.data.dev, sub.data.test = train_file, dev_file, test_file
    sub.data.split.dev = 0.0  # a draw without dev trains on all its shots (never carved)
    sub.out = out
    return sub


def sentence(summary: dict, shots: int, metric: str = "accuracy") -> str:
    """What the spread across draws means, in words."""
    s = summary.get("test", {}).get(metric)
    if not s or s["n"] < 2:
        return (
            f"One draw of {shots} examples per class: the spread between draws, the dominant "
            "uncertainty at few shots, is unknown; use --draws 5."
        )
    within = summary.get("within_draw_se", {}).get(metric)
    lo, hi = s["ci95"]
    head = (
        f"Across {s['n']} draws of {shots} examples per class, test {metric} is "
        f"{s['mean']:.3f} (std {s['std']:.3f}; 95% interval of the mean {lo:.3f} to {hi:.3f})."
    )
    if within is None:
        return head + " At few shots the variance between draws is the dominant uncertainty."
    if s["std"] >= within:
        return head + (
            f" The variance between draws dominates: the std between draws ({s['std']:.3f}) "
            f"exceeds the test-set sampling error of one draw (about {within:.3f}); which "
            "examples were labeled matters more than test noise."
        )
    return head + (
        f" Here the std between draws ({s['std']:.3f}) is below the test-set sampling error of "
        f"one draw (about {within:.3f}): the test set is too small to tell draws apart; at "
        "few shots the variance between draws is usually the dominant uncertainty."
    )


def _within_se(metrics: list[dict], metric: str) -> float | None:
    """Mean over draws of the bootstrap standard error of one draw's test metric (the
    95% interval's half width / 1.96)."""
    halves = []
    for m in metrics:
        ci = (m.get("test", {}).get("ci") or {}).get(metric)
        if isinstance(ci, (list, tuple)) and len(ci) == 2:
            halves.append((ci[1] - ci[0]) / 2 / 1.96)
        elif isinstance(ci, dict) and "low" in ci:
            halves.append((ci["high"] - ci["low"]) / 2 / 1.96)
    return round(sum(halves) / len(halves), 6) if halves else None


def summarize(results: list, shots: int) -> dict:
    """The across-draws section: every metric's mean/std/interval on dev and test."""
    metrics = [r.metrics for r in results]
    out: dict = {}
    for split in ("dev", "test"):
        if all(split in m for m in metrics):
            out[split] = {
                k: across([float(m[split][k]) for m in metrics], BOUNDS.get(k, (0.0, 1.0)))
                for k in KEYS
                if all(isinstance(m[split].get(k), (int, float)) for m in metrics)
            }
    out["within_draw_se"] = {k: _within_se(metrics, k) for k in ("accuracy", "macro_f1")}
    out["sentence"] = sentence(out, shots)
    return out


def train_draws(cfg: Config, overwrite: bool = False, echo=None, run_draw=None):
    """Train ``cfg.fewshot.draws`` runs on K-shot draws and write the summary at ``cfg.out``.

    Args:
        run_draw: trains one draw's config (default: the runner; icl runs its own).
    Returns:
        the top-level RunResult (metrics: means across draws).
    """
    from tunewise.doctor.fewshot import fewshot_doctor
    from tunewise.run.result import RunResult
    from tunewise.run.runner import train as run_train

    echo = echo or (lambda line: None)
    run_draw = run_draw or (lambda sub: run_train(sub, overwrite=False, echo=echo))
    fs = cfg.fewshot
    if cfg.train.seeds > 1:
        raise UserError("--shots with --seeds: use --draws N (the draw is the larger variance)")
    task_cls, data, test_rows = read_pool(cfg)
    if cfg.out is None:
        cfg.out = Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    draws = make_draws(data.train, data.dev, fs.shots, fs.dev_shots, fs.draws, fs.seed)
    test = data.test if data.test is not None else test_rows
    doctor = fewshot_doctor(data.train, draws, test, fs.shots, cfg.doctor)
    blocking = [
        f
        for f in doctor["findings"]
        if f["severity"] == "error" and f["check"] not in cfg.doctor.allow
    ]
    if blocking:  # before anything is written: no half-made run folder
        raise UserError(
            f"fewshot doctor: {blocking[0]['message']} "
            f"(let it through with --allow {blocking[0]['check']})"
        )
    for f in doctor["findings"]:
        echo(f"fewshot doctor [{f['severity']}] {f['check']}: {f['message']}")
    top = RunDir(cfg.out)
    prepare_out(top.path, overwrite)
    top.start(config_to_dict(cfg), resume=False)
    try:
        test_file = cfg.data.test
        if test_rows is not None:
            test_file = top.path / "shots" / "test.jsonl"
            write_rows(test_file, test_rows, cfg.data)
        write_json(
            top.path / "draws.json",
            {"shots": fs.shots, "draws": [d.record for d in draws], "doctor": doctor},
        )
        results = []
        for d in draws:
            folder = top.path / "shots" / f"draw-{d.index}"
            write_rows(folder / "train.jsonl", d.train, cfg.data)
            dev_file = None
            if d.dev:
                dev_file = folder / "dev.jsonl"
                write_rows(dev_file, d.dev, cfg.data)
            sub = sub_config(
                cfg, folder / "train.jsonl", dev_file, test_file, top.path / f"draw-{d.index}"
            )
            echo(
                f"--- draw {d.index} of {len(draws)} (seed {d.seed}, {len(d.train)} train rows) -> {sub.out}"
            )
            results.append(run_draw(sub))
    except BaseException as e:
        top.set_status(
            "interrupted" if isinstance(e, KeyboardInterrupt) else "failed", error=str(e)[:500]
        )
        raise
    metrics = finish_draws(top, results, fs.shots, doctor)
    return RunResult(top.path, metrics)


def finish_draws(top: RunDir, results: list, shots: int, doctor: dict) -> dict:
    """metrics.json (means across draws), the chosen draw's model, summary.md, completed."""
    summary = summarize(results, shots)
    first = results[0].metrics
    metric = first.get("metric_for_best", "accuracy")
    with_dev = [r for r in results if metric in r.metrics.get("dev", {})]
    chosen = max(with_dev, key=lambda r: r.metrics["dev"][metric]) if with_dev else results[0]
    metrics = {
        "task": first["task"],
        "headline": first.get("headline", ["accuracy", "accuracy"]),
        "metric_for_best": metric,
        "method": first.get("method", {}),
        **{
            s: {k: v["mean"] for k, v in summary[s].items()}
            for s in ("dev", "test")
            if s in summary
        },
        "draws": {
            "shots": shots,
            "n": len(results),
            "runs": [r.path.name for r in results],
            "summary": summary,
            "per_draw": [
                {"run": r.path.name, "test": r.metrics.get("test", {}).get("accuracy")}
                for r in results
            ],
            "selected": chosen.path.name,
            "selected_on": f"dev {metric}" if with_dev else "first draw (no dev set)",
            "sentence": summary["sentence"],
            "note": "top-level dev/test are means across draws; model/ is the draw chosen on dev",
        },
        "doctor": doctor,
    }
    for name in (MODEL_DIR, PREDICTIONS_DIR):
        src = chosen.path / name
        if src.exists():
            shutil.copytree(src, top.path / name, dirs_exist_ok=True)
    for name in ("data.json", "labels.json"):
        if (chosen.path / name).exists():
            shutil.copy2(chosen.path / name, top.path / name)
    write_json(top.metrics, metrics)
    (top.path / "summary.md").write_text(summary_md(metrics), encoding="utf-8")
    top.set_status("completed", finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    return metrics


def summary_md(metrics: dict) -> str:
    d = metrics["draws"]
    lines = [
        f"# {d['n']} draws of {d['shots']} examples per class ({metrics['method'].get('name', '?')})",
        "",
        d["sentence"],
        "",
        "| split | metric | mean | std | 95% interval | per draw |",
        "|---|---|---|---|---|---|",
    ]
    for split in ("dev", "test"):
        for k, s in d["summary"].get(split, {}).items():
            ci = f"{s['ci95'][0]:.3f} to {s['ci95'][1]:.3f}" if s["ci95"] else "-"
            vals = ", ".join(f"{v:.3f}" for v in s["values"])
            lines.append(f"| {split} | {k} | {s['mean']:.3f} | {s['std']:.3f} | {ci} | {vals} |")
    lines += ["", f"model/: {d['selected']} (chosen on {d['selected_on']}; never on test)", ""]
    return "\n".join(lines)
