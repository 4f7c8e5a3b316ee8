"""``tunewise continual --tasks tasks.yaml``: a whole task sequence, for several strategies and
seeds, in one command, with progress and resume.

Layout under ``--out``: ``seed-S/<first task>/`` (trained once per seed from the base model and
shared by every strategy), ``seed-S/<strategy>/<k>-<task>/`` for each later stage, and
``summary.json`` / ``summary.md`` (each strategy's measures, mean and spread over seeds). A
rerun skips every stage that completed and retrains one that did not (resume)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from tunewise.continual.continuation import STRATEGIES, check_strategy
from tunewise.errors import UserError
from tunewise.rundir import RunDir, atomic_write, write_json

TASK_KEYS = ("name", "train", "dev", "test")


def read_tasks(path: str | Path) -> dict:
    """The sequence file: ``tasks: [{name, train, test, dev?}, ...]`` (paths relative to the
    file), optional ``model`` and ``config`` (a nested config every stage starts from)."""
    from tunewise.config import load_yaml

    p = Path(path)
    spec = load_yaml(p)
    tasks = spec.get("tasks")
    if not isinstance(tasks, list) or len(tasks) < 2:
        raise UserError(f"{p}: 'tasks' must list at least two tasks ({{name, train, test}})")
    out = []
    for i, t in enumerate(tasks):
        if not isinstance(t, dict) or not t.get("train") or not t.get("test"):
            raise UserError(f"{p}: tasks[{i}] needs train and test files")
        extra = set(t) - set(TASK_KEYS)
        if extra:
            raise UserError(f"{p}: tasks[{i}]: unknown key(s) {', '.join(sorted(extra))}")
        item = {"name": str(t.get("name") or f"task{i + 1}")}
        for k in ("train", "dev", "test"):
            if t.get(k):
                f = (p.parent / str(t[k])).resolve()
                if not f.is_file():
                    raise UserError(f"{p}: tasks[{i}].{k}: {f} not found")
                item[k] = str(f)
        out.append(item)
    names = [t["name"] for t in out]
    if len(set(names)) != len(names):
        raise UserError(f"{p}: task names repeat ({', '.join(names)})")
    return {"tasks": out, "model": spec.get("model"), "config": spec.get("config") or {}}


def parse_seeds(spec: str | int, base: int = 42) -> list[int]:
    """``3`` -> [42, 43, 44]; ``1,2,3`` -> [1, 2, 3]."""
    s = str(spec).strip()
    try:
        if "," in s:
            return [int(x) for x in s.split(",") if x.strip()]
        n = int(s)
        if n < 1:
            raise ValueError
        return list(range(base, base + n))
    except ValueError:
        raise UserError(f"--seeds {s!r}: a count (3) or a comma-separated list (1,2,3)") from None


def parse_strategies(spec: str) -> list[str]:
    out = [check_strategy(s.strip()) for s in str(spec).split(",") if s.strip()]
    if not out:
        raise UserError(f"--strategies: name at least one of {', '.join(STRATEGIES)}")
    return out


def _stage_config(seq: dict, task: dict, seed: int, out: Path):
    from tunewise.config import build_config

    flags = {
        "data.train": task["train"],
        "data.test": task["test"],
        "train.seed": seed,
        "out": str(out),
    }
    if task.get("dev"):
        flags["data.dev"] = task["dev"]
    if seq.get("model"):
        flags["model.name"] = seq["model"]
    return build_config(seq["config"], flags)


def _done(path: Path, continued: bool) -> bool:
    if RunDir(path).status() != "completed":
        return False
    return not continued or (path / "continual" / "stage.json").is_file()


def run_sequence(
    tasks_file, strategies, seeds, out, replay=None, ewc_lambda=None, echo=None, replay_mix=None
) -> dict:
    """Train the sequence for every strategy and seed (skipping what completed); return and
    write the summary."""
    from tunewise.continual.continuation import continue_train
    from tunewise.run.runner import train

    echo = echo or (lambda line: None)
    seq = read_tasks(tasks_file)
    strategies = parse_strategies(strategies) if isinstance(strategies, str) else list(strategies)
    seeds = parse_seeds(seeds) if not isinstance(seeds, list) else seeds
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tasks = seq["tasks"]
    later = len(tasks) - 1
    total = len(seeds) * (1 + len(strategies) * later)
    done_n, t0, trained = 0, time.time(), 0
    finals: dict = {s: {} for s in strategies}

    def step(label: str, path: Path, continued: bool, fn) -> None:
        nonlocal done_n, trained
        done_n += 1
        if _done(path, continued):
            echo(f"[{done_n}/{total}] {label}: done, skipped ({path})")
            return
        spent = time.time() - t0
        eta = f", ETA {spent / trained * (total - done_n + 1):.0f}s" if trained else ""
        echo(f"[{done_n}/{total}] {label}{eta}")
        fn()
        trained += 1

    for seed in seeds:
        base = out / f"seed-{seed}"
        root = base / tasks[0]["name"]
        step(
            f"seed {seed}: {tasks[0]['name']} from the base model",
            root,
            False,
            lambda seed=seed, root=root: train(
                _stage_config(seq, tasks[0], seed, root), overwrite=True
            ),
        )
        for strategy in strategies:
            prev = root
            for k, task in enumerate(tasks[1:], start=1):
                path = base / strategy / f"{k}-{task['name']}"

                def fit(prev=prev, task=task, path=path, strategy=strategy, seed=seed):
                    cfg = _stage_config(seq, task, seed, path)
                    continue_train(
                        cfg,
                        prev,
                        strategy,
                        replay if strategy == "replay" else None,
                        ewc_lambda if strategy == "ewc" else None,
                        overwrite=True,
                        replay_mix=replay_mix if strategy == "replay" else None,
                    )

                step(f"seed {seed}: {strategy} stage {k}/{later} {task['name']}", path, True, fit)
                prev = path
            finals[strategy][seed] = str(prev)
    summary = summarise(finals)
    write_json(out / "summary.json", summary)
    atomic_write(out / "summary.md", summary_markdown(summary, [t["name"] for t in tasks]))
    echo(f"summary: {out / 'summary.json'}, {out / 'summary.md'}")
    return summary


def mean_sd(values: list[float]) -> dict:
    """Mean, sample sd (0 for one value) and the values themselves."""
    return {
        "mean": statistics.fmean(values),
        "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
        "values": values,
    }


def summarise(finals: dict) -> dict:
    """Per strategy: each measure (task not given and task given) and the final accuracy on each
    task, mean and sd over seeds; the runs they come from."""
    from tunewise.continual.forgetting import forgetting

    out: dict = {}
    for strategy, by_seed in finals.items():
        per = {seed: forgetting(run, n_boot=200) for seed, run in by_seed.items()}
        if not per:
            continue
        first = next(iter(per.values()))
        rec: dict = {"runs": by_seed, "tests": first["tests"]}
        for key in ("average_accuracy", "bwt", "forgetting", "fwt"):
            if key in first:
                rec[key] = mean_sd([f[key]["value"] for f in per.values()])
                rec[key + "_task_given"] = mean_sd(
                    [f["task_given"][key]["value"] for f in per.values()]
                )
        rec["final"] = {
            t: mean_sd([f["matrix"][-1][j] for f in per.values()])
            for j, t in enumerate(first["tests"])
        }
        rec["final_task_given"] = {
            t: mean_sd([f["matrix_task_given"][-1][j] for f in per.values()])
            for j, t in enumerate(first["tests"])
        }
        rec["diagonal_task_given"] = {
            t: mean_sd([f["matrix_task_given"][j][j] for f in per.values()])
            for j, t in enumerate(first["tests"])
        }
        if "router" in first:
            rec["router_accuracy"] = mean_sd([f["router"]["accuracy"] for f in per.values()])
        out[strategy] = rec
    return out


def summary_markdown(summary: dict, tasks: list[str]) -> str:
    def ms(d):
        return f"{d['mean']:.3f} ± {d['sd']:.3f}"

    lines = [
        "| strategy | avg acc | BWT | FWT | avg acc (task given) | BWT (task given) | "
        + " | ".join(f"final {t}" for t in tasks)
        + " | router |",
        "|---" * (7 + len(tasks)) + "|",
    ]
    for s, r in summary.items():
        lines.append(
            f"| {s} | {ms(r['average_accuracy'])} | {ms(r['bwt'])} | {ms(r['fwt'])} | "
            f"{ms(r['average_accuracy_task_given'])} | {ms(r['bwt_task_given'])} | "
            + " | ".join(ms(r["final"][t]) for t in tasks)
            + f" | {ms(r['router_accuracy']) if 'router_accuracy' in r else '-'} |"
        )
    return "\n".join(lines) + "\n"
