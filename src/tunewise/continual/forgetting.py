"""The forgetting matrix of a continued run and what it measures.

``R[k][j]`` is the accuracy on stage j's test set after stage k (rows = stages, columns =
test sets, both in lineage order). Below and on the diagonal every cell is measured; above
it only ``R[k-1][k]`` is (the model before it trained on stage k: forward transfer).
Average accuracy ``mean_j R[T][j]``; backward transfer ``BWT = mean_{j<T} R[T][j] - R[j][j]``
(negative = forgetting); forgetting ``mean_{j<T} max_{k<T} R[k][j] - R[T][j]`` (Chaudhry et al.
2018); forward transfer ``FWT = mean_{j>=1} R[j-1][j] - 1/|labels_j|`` against chance (Lopez-Paz
& Ranzato 2017 use a random model's accuracy). 95% intervals: a paired bootstrap over each
test set's rows (the same resampled rows in every stage)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tunewise.continual.lineage import stage_record
from tunewise.errors import UserError

N_BOOT = 1000


def _bits(s: str) -> np.ndarray:
    return np.frombuffer(s.encode("ascii"), dtype=np.uint8) - ord("0")


def _chain(run) -> tuple[dict, list[dict]]:
    rec = stage_record(run)
    if rec is None:
        raise UserError(
            f"{run}: not a continued run (no continual/stage.json); "
            "continue a run with `tunewise train --continue-from RUN`"
        )
    stages = []
    for e in rec["lineage"][1:]:
        s = stage_record(e["run"]) if Path(e["run"]).resolve() != Path(run).resolve() else rec
        if s is None:
            raise UserError(f"{e['run']}: a stage of this lineage is missing or unfinished")
        stages.append(s)
    return rec, stages


def cells(run, key: str = "correct") -> tuple[list[dict], list[list]]:
    """(lineage, T+1 x T+1 matrix of per-row correctness arrays or None)."""
    rec, stages = _chain(run)
    lineage = rec["lineage"]
    t = len(lineage)
    m: list[list] = [[None] * t for _ in range(t)]
    for j, c in enumerate(stages[0]["parent_row"]):
        m[0][j] = _bits(c[key])
    for k, s in enumerate(stages, start=1):
        for j, c in enumerate(s["row"][: k + 1]):
            m[k][j] = _bits(c[key])
        m[k - 1][k] = _bits(s["before"][key])
    return lineage, m


def measures(m: list[list], chance: list[float]) -> dict:
    t = len(m)
    last = [float(m[t - 1][j].mean()) for j in range(t)]
    out = {"average_accuracy": float(np.mean(last))}
    if t > 1:
        out["bwt"] = float(np.mean([last[j] - m[j][j].mean() for j in range(t - 1)]))
        out["forgetting"] = float(
            np.mean([max(m[k][j].mean() for k in range(j, t - 1)) - last[j] for j in range(t - 1)])
        )
        out["fwt"] = float(np.mean([m[j - 1][j].mean() - chance[j] for j in range(1, t)]))
    return out


def _bootstrap(m: list[list], chance: list[float], n_boot: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    t = len(m)
    sizes = [len(m[j][j]) for j in range(t)]
    draws: dict[str, list] = {}
    for _ in range(n_boot):
        idx = [rng.integers(0, n, n) for n in sizes]
        mb = [[None if c is None else c[idx[j]] for j, c in enumerate(row)] for row in m]
        for k, v in measures(mb, chance).items():
            draws.setdefault(k, []).append(v)
    return {
        k: [float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))] for k, v in draws.items()
    }


def _summary(m, chance, n_boot, seed) -> dict:
    point = measures(m, chance)
    ci = _bootstrap(m, chance, n_boot, seed)
    return {k: {"value": v, "low": ci[k][0], "high": ci[k][1]} for k, v in point.items()}


def forgetting(run, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """The forgetting matrix of ``run`` (task not given and task given) with average accuracy,
    BWT, forgetting and FWT, each with a 95% bootstrap interval."""
    lineage, m = cells(run, "correct")
    _, mg = cells(run, "correct_task_given")
    chance = [1.0 / max(len(e["labels"]), 1) for e in lineage]

    def matrix(mm):
        return [[None if c is None else round(float(c.mean()), 4) for c in row] for row in mm]

    rec = stage_record(run)
    out = {
        "run": str(Path(run).resolve()),
        "stages": [
            {
                "task": e["task"],
                "run": e["run"],
                "strategy": e.get("strategy"),
                "test_rows": len(m[j][j]),
            }
            for j, e in enumerate(lineage)
        ],
        "tests": [e["task"] for e in lineage],
        "matrix": matrix(m),
        "matrix_task_given": matrix(mg),
        "scoring": "matrix: the task not given (every label the model knows competes); "
        "matrix_task_given: only the test set's own labels compete",
        "n_bootstrap": n_boot,
        "chance": chance,
        **_summary(m, chance, n_boot, seed),
        "task_given": _summary(mg, chance, n_boot, seed),
    }
    if "router" in rec:
        out["router"] = rec["router"]
    return out


def print_table(f: dict, echo=print) -> None:
    tests = f["tests"]
    width = max(8, *(len(t) for t in tests)) + 1
    echo("accuracy (task not given) after each stage; columns: test sets, lineage order")
    echo(" " * 22 + "".join(t.rjust(width) for t in tests))
    for stage, row in zip(f["stages"], f["matrix"]):
        name = f"{stage['task']} ({stage['strategy'] or 'from scratch'})"[:21].ljust(22)
        echo(name + "".join(("-" if v is None else f"{v:.3f}").rjust(width) for v in row))
    for key in ("average_accuracy", "bwt", "forgetting", "fwt"):
        if key in f:
            v, g = f[key], f["task_given"][key]
            echo(
                f"{key:17s} {v['value']:+.3f} [{v['low']:+.3f}, {v['high']:+.3f}]   "
                f"task given {g['value']:+.3f} [{g['low']:+.3f}, {g['high']:+.3f}]"
            )
    if "router" in f:
        echo(f"router accuracy (which task an input is): {f['router']['accuracy']:.3f}")
