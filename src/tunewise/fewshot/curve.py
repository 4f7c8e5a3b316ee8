"""``tunewise curve``: methods x label budgets x draws on the same test rows, in one command.

Every method sees the same draws (``OUT/shots/k<K>/draw-<i>``) and the same test file. Each
cell (method, budget, draw) is a complete run under ``OUT/runs/<method>/k<K>/draw-<i>`` (or,
for ``tfidf``, a ``result.json``): a cell that finished is not run again, so a stopped curve
resumes where it stopped. ``curve.json`` holds every cell and the summary; ``curve.html`` the
plot (accuracy and macro-F1 with 95% intervals vs training labels, log x axis), the sentence
and the learning-curve fits; ``curve.md`` the same in text.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from tunewise.config import Config
from tunewise.errors import UserError
from tunewise.fewshot.draws import across, read_pool, sub_config, write_rows
from tunewise.fewshot.sampling import make_draws
from tunewise.rundir import RunDir, read_json, write_json

ALL = "all"
NON_RUN_METHODS = ("tfidf",)
"""Methods a curve computes without a run: TF-IDF + logistic regression."""


def parse_budgets(text: str) -> list:
    """``8,16,all`` -> [8, 16, "all"]; one clear line for anything else."""
    out: list = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part.lower() == ALL:
            out.append(ALL)
            continue
        try:
            k = int(part)
        except ValueError:
            raise UserError(f"--shots: {part!r} is not a number of shots or 'all'") from None
        if k < 1:
            raise UserError(f"--shots: {k} shots per class; give 1 or more")
        out.append(k)
    if not out:
        raise UserError("--shots: give label budgets, e.g. --shots 8,16,32,all")
    return sorted(set(out), key=lambda b: (b == ALL, b if b != ALL else 0))


def parse_methods(text: str) -> list[str]:
    from tunewise.methods.base import all_methods

    names = [m.strip() for m in text.split(",") if m.strip()]
    known = set(all_methods()) | set(NON_RUN_METHODS)
    bad = [m for m in names if m not in known]
    if bad or not names:
        raise UserError(
            f"--methods: unknown {', '.join(bad) or '(none given)'}; choose from "
            f"{', '.join(sorted(known))}"
        )
    return list(dict.fromkeys(names))


def _tfidf_cell(train, dev, test, labels, multi_label) -> dict:
    from tunewise.evaluation.checks import tfidf_baseline

    result = tfidf_baseline(train, dev or [], test, labels, multi_label)
    if result is None:
        raise UserError("--methods tfidf: the TF-IDF baseline is single-label only")
    return {"test": result}


def run_curve(
    cfg: Config,
    budgets: list,
    methods: list[str],
    draws: int,
    out: Path,
    echo=None,
    method_options: dict | None = None,
    icl_model: str = "smollm2",
):
    """Run every cell not yet done and write curve.json, curve.html and curve.md.

    Args:
        method_options: ``{method key: {option: value}}`` for the cells of that method.
        icl_model: the decoder of the ``icl`` cells (the other methods use ``cfg.model``);
            ``icl`` puts the draw's shots in the prompt, so it skips the budget ``all``.

    Returns:
        the curve record (what curve.json holds).
    """
    from tunewise.run.runner import train as run_train

    echo = echo or (lambda line: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    task_cls, data, test_rows = read_pool(cfg)
    test_file = cfg.data.test
    if test_rows is not None:
        test_file = out / "shots" / "test.jsonl"
        if not test_file.exists():
            write_rows(test_file, test_rows, cfg.data)
    test = data.test if data.test is not None else test_rows
    labels = data.info["labels"]
    plan = []  # (budget, draw index, train rows, dev rows, files)
    for b in budgets:
        if b == ALL:
            plan.append((ALL, 1, data.train, data.dev or [], None))
            continue
        for d in make_draws(
            data.train, data.dev, b, cfg.fewshot.dev_shots, draws, cfg.fewshot.seed
        ):
            folder = out / "shots" / f"k{b}" / f"draw-{d.index}"
            if not (folder / "train.jsonl").exists():
                write_rows(folder / "train.jsonl", d.train, cfg.data)
                write_rows(folder / "dev.jsonl", d.dev, cfg.data)
                write_json(folder / "draw.json", d.record)
            plan.append((b, d.index, d.train, d.dev, folder))
    cells = [
        (m, b, i, tr, dv, f)
        for (b, i, tr, dv, f) in plan
        for m in methods
        if not (m == "icl" and b == ALL)
    ]
    if "icl" in methods and ALL in budgets:
        echo("icl: skips the budget 'all' (every train row in one prompt would not fit)")
    results, t_start, ran = [], time.perf_counter(), 0
    for n, (m, b, i, tr, dv, folder) in enumerate(cells, 1):
        where = out / "runs" / m / f"k{b}" / f"draw-{i}"
        tag = f"[{n}/{len(cells)}] {m} K={b} draw {i}"
        done = _finished(where, m)
        t0 = time.perf_counter()
        if done is None:
            if m in NON_RUN_METHODS:
                done = _tfidf_cell(tr, dv, test, labels, cfg.task.multi_label)
                where.mkdir(parents=True, exist_ok=True)
                write_json(where / "result.json", done)
            elif m == "icl":
                from tunewise.fewshot.icl import run_icl

                sub = _cell_config(cfg, m, b, folder, test_file, where, method_options or {})
                sub.model.name = icl_model
                done = run_icl(sub, overwrite=True, demonstrations=True).metrics
            else:
                sub = _cell_config(cfg, m, b, folder, test_file, where, method_options or {})
                done = run_train(sub, overwrite=True, echo=lambda line: None).metrics
            ran += 1
            spent = time.perf_counter() - t_start
            left = spent / ran * (len(cells) - n) if ran else 0
            echo(
                f"{tag}: test accuracy {done['test']['accuracy']:.3f} "
                f"({time.perf_counter() - t0:.0f} s; about {left / 60:.0f} min left)"
            )
        else:
            echo(f"{tag}: done before (resumed), test accuracy {done['test']['accuracy']:.3f}")
        results.append(
            {
                "method": m,
                "budget": b,
                "draw": i,
                "train_labels": len(tr),
                "dev_labels": len(dv),
                "test": {k: done["test"].get(k) for k in ("accuracy", "macro_f1")},
                "path": str(where.relative_to(out)),
            }
        )
    record = summarize_curve(results, methods, budgets, len(test), len(labels))
    record.update(
        {
            "test_rows": len(test),
            "test_file": str(test_file),
            "classes": labels,
            "draws": draws,
            "model": cfg.model.name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
    )
    write_json(out / "curve.json", record)
    from tunewise.fewshot.curve_page import curve_html, curve_md

    (out / "curve.html").write_text(curve_html(record), encoding="utf-8")
    (out / "curve.md").write_text(curve_md(record), encoding="utf-8")
    echo(record["sentence"])
    return record


def _finished(where: Path, method: str) -> dict | None:
    if method in NON_RUN_METHODS:
        f = where / "result.json"
        return read_json(f) if f.is_file() else None
    run = RunDir(where)
    if run.metrics.is_file() and run.status() == "completed":
        return read_json(run.metrics)
    return None


def _cell_config(cfg: Config, method: str, budget, folder, test_file, where: Path, options: dict):
    from tunewise.config import MethodConfig
    from tunewise.methods.base import get_method

    if budget == ALL:
        sub = cfg.model_copy(deep=True)
        sub.fewshot = type(sub.fewshot)()
        sub.data.test = test_file
        sub.out = where
    else:
        dev = folder / "dev.jsonl"
        dev_file = dev if dev.stat().st_size else None
        sub = sub_config(cfg, folder / "train.jsonl", dev_file, test_file, where)
    key = get_method(method).key
    sub.method = MethodConfig(name=method, **({key: options[key]} if key in options else {}))
    sub.train.lr = None  # each method's own default rate (the runner resolves it)
    return sub


def fit_log_linear(xs: list[float], ys: list[float]) -> dict | None:
    """Least squares ``y = a + b * log2(x)``: ``b`` is the predicted gain of doubling the
    labels; R^2 says how well the line fits (exact, and so meaningless, with two points)."""
    if len(xs) < 2:
        return None
    lx = [math.log2(x) for x in xs]
    mx, my = sum(lx) / len(lx), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in lx)
    if sxx == 0:
        return None
    b = sum((x - mx) * (y - my) for x, y in zip(lx, ys)) / sxx
    a = my - b * mx
    ss_res = sum((y - (a + b * x)) ** 2 for x, y in zip(lx, ys))
    ss_tot = sum((y - my) ** 2 for y in ys)
    r2 = 1 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return {
        "model": "accuracy = a + b * log2(training labels)",
        "a": round(a, 6),
        "b_gain_per_doubling": round(b, 6),
        "r2": round(r2, 4),
        "points": len(xs),
        "rmse": round(math.sqrt(ss_res / len(xs)), 6),
    }


def summarize_curve(results: list[dict], methods, budgets, test_rows: int, n_classes: int) -> dict:
    """Per method and budget: mean/std/interval across draws, the fits and the sentence."""
    from tunewise.doctor.fewshot import detectable_difference

    points: dict = {}
    for m in methods:
        points[m] = []
        for b in budgets:
            rows = [r for r in results if r["method"] == m and r["budget"] == b]
            if not rows:
                continue
            points[m].append(
                {
                    "budget": b,
                    "train_labels": round(sum(r["train_labels"] for r in rows) / len(rows)),
                    "accuracy": across([r["test"]["accuracy"] for r in rows]),
                    "macro_f1": across([r["test"]["macro_f1"] for r in rows]),
                }
            )
    fits = {
        m: fit_log_linear([p["train_labels"] for p in pts], [p["accuracy"]["mean"] for p in pts])
        for m, pts in points.items()
    }
    mde = detectable_difference(test_rows)
    return {
        "methods": list(methods),
        "budgets": list(budgets),
        "cells": results,
        "points": points,
        "fits": fits,
        "detectable_difference": round(mde, 4),
        "sentence": curve_sentence(points, fits, budgets, mde),
    }


def curve_sentence(points: dict, fits: dict, budgets, mde: float) -> str:
    """Which method wins at which budget, and what doubling the labels is predicted to give."""
    parts = []
    for b in budgets:
        at = sorted(
            ((m, p) for m, pts in points.items() for p in pts if p["budget"] == b),
            key=lambda mp: -mp[1]["accuracy"]["mean"],
        )
        if not at:
            continue
        win, wp = at[0]
        label = "all labels" if b == ALL else f"{b} per class"
        if len(at) == 1:
            parts.append(f"at {label} only {win} ran ({wp['accuracy']['mean']:.3f})")
            continue
        second, sp = at[1]
        gap = wp["accuracy"]["mean"] - sp["accuracy"]["mean"]
        noise = " (within the test set's noise)" if gap < mde else ""
        parts.append(
            f"at {label} {win} wins ({wp['accuracy']['mean']:.3f} vs {second} "
            f"{sp['accuracy']['mean']:.3f}){noise}"
        )
    text = "Test accuracy: " + "; ".join(parts) + "."
    best = max(
        (m for m in fits if fits[m]), key=lambda m: points[m][-1]["accuracy"]["mean"], default=None
    )
    if best:
        f = fits[best]
        quality = (
            "two budgets only, so the fit is exact and says nothing about its own quality"
            if f["points"] == 2
            else f"R^2 {f['r2']:.2f} over {f['points']} budgets"
        )
        text += (
            f" Doubling the labels is predicted to add {f['b_gain_per_doubling'] * 100:+.1f} "
            f"points of accuracy for {best} (log-linear fit, {quality})."
        )
    text += f" Differences below about {mde * 100:.0f} points are within the test set's noise."
    return text


def load_curve(out: Path) -> dict:
    p = Path(out) / "curve.json"
    if not p.is_file():
        raise UserError(f"{out}: no curve.json (run `tunewise curve` first)")
    return json.loads(p.read_text())
