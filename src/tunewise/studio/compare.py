"""Compare runs: metrics with intervals side by side, the paired test in words, curves."""

from __future__ import annotations

from pathlib import Path

from tunewise.errors import UserError
from tunewise.evaluation.report_data import curves, is_num, load_run
from tunewise.evaluation.stats import compare_runs
from tunewise.studio.runs import headline

N_BOOT = 2000


def _metric_rows(runs: list[dict], metrics: list[dict]) -> list[dict]:
    keys: list[str] = []
    for m in metrics:
        keys += [k for k, v in (m.get("test") or {}).items() if is_num(v) and k != "n"]
    rows = []
    for key in dict.fromkeys(keys):
        cells = []
        for m in metrics:
            test = m.get("test") or {}
            ci = (test.get("ci") or {}).get(key)
            cells.append(
                {
                    "value": test.get(key) if is_num(test.get(key)) else None,
                    "ci": ci if isinstance(ci, list) and len(ci) == 2 else None,
                }
            )
        rows.append({"metric": key, "cells": cells})
    return rows


def paired_test(a: dict, b: dict) -> dict:
    """`tunewise compare`'s paired bootstrap and McNemar test of run B against run A, with its
    verdict in words; ``available: False`` and why when the runs cannot be paired."""
    try:
        res = compare_runs(Path(a["path"]), Path(b["path"]), n_boot=N_BOOT, seed=0)
    except (UserError, OSError, KeyError, ValueError) as e:
        return {"a": a["id"], "b": b["id"], "available": False, "why": str(e)}
    acc = res["accuracy"]
    return {
        "a": a["id"],
        "b": b["id"],
        "available": True,
        "n": res["n"],
        "delta": acc["delta"],
        "ci": acc["ci"],
        "p_value": acc["p_value"],
        "mcnemar_p": res["mcnemar"]["p_value"],
        "verdict": res["verdict"],
        "command": f"tunewise compare {a['path']} {b['path']}",
    }


def compare(rows: list[dict]) -> dict:
    """Side by side for registry ``rows`` (the first is the reference): each run's headline,
    every test metric with its interval, the paired test of each run against the first, and
    the learning curves of every run."""
    data = [load_run(r["path"]) for r in rows]
    metrics = [d.metrics or {} for d in data]
    return {
        "runs": [
            {"id": r["id"], "name": r["name"], "path": r["path"], "headline": headline(m)}
            for r, m in zip(rows, metrics)
        ],
        "metrics": _metric_rows(rows, metrics),
        "tests": [paired_test(rows[0], r) for r in rows[1:]],
        "curves": [{"id": r["id"], "name": r["name"], **curves(d)} for r, d in zip(rows, data)],
        "command": " && ".join(f"tunewise compare {rows[0]['path']} {r['path']}" for r in rows[1:]),
    }
