"""Hyperparameter search with Optuna: trials selected on dev only, test evaluated once at the end.

``OUT/`` holds ``trial-NNN/`` run directories (every one also a row of the run registry, tagged
with the study), ``optuna.jsonl`` (Optuna's journal: rerunning the same command continues the
study), ``best_config.yaml`` and ``final/``, the best config trained once more with the test
split evaluated -- the only run of the study that sees test.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from tunewise.config import Config, build_config, config_to_dict
from tunewise.errors import UserError

SHORT = {
    "lr": "train.lr",
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "weight_decay": "train.weight_decay",
    "warmup_ratio": "train.warmup_ratio",
    "grad_accum": "train.grad_accum",
    "max_length": "model.max_length",
    "seed": "train.seed",
}
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"^({_NUM})\.\.({_NUM})(?::(log))?$")


@dataclass
class Param:
    """One searched setting: a float/int range (optionally log-scaled) or a list of choices."""

    key: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    integer: bool = False
    choices: list | None = None

    def suggest(self, trial):
        if self.choices is not None:
            return trial.suggest_categorical(self.key, self.choices)
        if self.integer:
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.key, float(self.low), float(self.high), log=self.log)


def parse_space(spec: dict[str, str] | str) -> list[Param]:
    """``lr=1e-5..1e-4:log,epochs=2..4,batch_size=16|32`` (or the config's dict) -> Params.

    ``LOW..HIGH`` of two integers searches integers; ``:log`` samples on a log scale;
    ``a|b|c`` picks among choices. Short keys (lr, epochs ...) mean their ``train.`` setting.
    """
    if isinstance(spec, str):
        items = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            if "=" not in part:
                raise UserError(f"--space {part!r}: expected KEY=LOW..HIGH[:log] or KEY=a|b|c")
            k, v = part.split("=", 1)
            items[k.strip()] = v.strip()
        spec = items
    params = []
    for key, raw in spec.items():
        full = SHORT.get(key, key)
        if "." not in full:
            raise UserError(f"space {key!r}: unknown short name; use a dotted key like train.lr")
        raw = str(raw)
        m = _RANGE.match(raw)
        if m:
            lo, hi, log = m.group(1), m.group(2), bool(m.group(3))
            integer = all(re.fullmatch(r"[-+]?\d+", x) for x in (lo, hi))
            low, high = (int(lo), int(hi)) if integer else (float(lo), float(hi))
            if not low < high:
                raise UserError(f"space {key}={raw}: LOW must be below HIGH")
            if log and low <= 0:
                raise UserError(f"space {key}={raw}: a log scale needs LOW > 0")
            params.append(Param(full, low, high, log, integer))
        elif "|" in raw:
            params.append(Param(full, choices=[yaml.safe_load(c) for c in raw.split("|")]))
        else:
            raise UserError(f"space {key}={raw!r}: expected LOW..HIGH, LOW..HIGH:log or a|b|c")
    if not params:
        raise UserError("empty search space: pass --space lr=1e-5..1e-4:log or set tune.space")
    return params


def _with(base: Config, values: dict, out: Path) -> Config:
    tree = config_to_dict(base)
    tree["out"] = str(out)
    return build_config(tree, values)


def tune(
    base: Config,
    space: list[Param],
    out: Path,
    trials: int,
    pruning: bool = True,
    seed: int = 0,
    echo=None,
) -> dict:
    """Run the study; returns {"best": {...}, "best_config": path, "final": metrics, ...}."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    import tunewise.run.runner as pipeline
    from tunewise.registry import record_run
    from tunewise.rundir import RunDir, atomic_write, write_json

    echo = echo or (lambda line: None)
    if base.train.seeds > 1:
        raise UserError("tune trains one seed per trial; set train.seeds to 1")
    from tunewise.tasks import get_task

    task = get_task(base.task.type)
    multi = base.task.multi_label
    metric = (
        base.train.metric
        if base.train.metric != "auto"
        else ("macro_f1" if multi else task.headline[0])
    )
    lower = metric in task.lower_is_better
    out.mkdir(parents=True, exist_ok=True)
    study_name = out.resolve().name
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=study_name,
        storage=JournalStorage(JournalFileBackend(str(out / "optuna.jsonl"))),
        direction="minimize" if lower else "maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2)
        if pruning
        else optuna.pruners.NopPruner(),
        load_if_exists=True,
    )

    def objective(trial):
        values = {p.key: p.suggest(trial) for p in space}
        path = out / f"trial-{trial.number:03d}"
        cfg = _with(base, values, path)
        trial.set_user_attr("run", str(path.resolve()))
        shown = ", ".join(
            f"{k.split('.')[-1]}={v:.3g}" if isinstance(v, float) else f"{k.split('.')[-1]}={v}"
            for k, v in values.items()
        )

        def report(rec: dict) -> None:
            if rec.get("type") == "eval" and rec.get("split") == "dev":
                trial.report(rec[metric], rec["step"])
                if trial.should_prune():
                    raise optuna.TrialPruned(
                        f"dev {metric} {rec[metric]:.4f} at step {rec['step']}"
                    )

        try:
            result = pipeline.train(cfg, overwrite=True, evaluate_test=False, on_log=report)
        except optuna.TrialPruned as e:
            RunDir(path).set_status("pruned", error=f"pruned by the median rule: {e}")
            record_run(path, study=study_name, warn=echo)
            echo(f"trial {trial.number}: {shown} -> pruned ({e})")
            raise
        except UserError:
            record_run(path, study=study_name, warn=echo)
            raise
        assert "test" not in result.metrics, "a trial must not see the test split"
        record_run(path, study=study_name, warn=echo)
        value = result.metrics["dev"][metric]
        echo(f"trial {trial.number}: {shown} -> dev {metric} {value:.4f}")
        return value

    done = len([t for t in study.trials if t.state.is_finished()])
    if done < trials:
        study.optimize(objective, n_trials=trials - done, catch=())
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise UserError(f"{out}: no trial completed; see the trial run directories")
    best = study.best_trial
    best_values = {p.key: best.params[p.key] for p in space}
    final_cfg = _with(base, best_values, out / "final")
    best_cfg_path = out / "best_config.yaml"
    saved = config_to_dict(final_cfg)
    saved["out"] = None
    atomic_write(best_cfg_path, yaml.safe_dump(saved, sort_keys=False))
    echo(f"best: trial {best.number}, dev {metric} {best.value:.4f}, {best_values}")
    summary = {
        "study": study_name,
        "metric": f"dev {metric}",
        "trials": {
            s: sum(t.state.name == s.upper() for t in study.trials)
            for s in ("complete", "pruned", "fail")
        },
        "best": {
            "trial": best.number,
            "value": best.value,
            "params": best_values,
            "run": best.user_attrs.get("run"),
        },
        "best_config": str(best_cfg_path),
    }
    if math.isfinite(best.value):
        echo("final: the best config trained once more; the test split is evaluated now, once")
        final = pipeline.train(final_cfg, overwrite=True, echo=echo)
        record_run(final.path, study=study_name, warn=echo)
        summary["final"] = {
            "run": str(final.path),
            "dev": final.metrics.get("dev"),
            "test": final.metrics.get("test"),
        }
    write_json(out / "tune.json", summary)
    return summary
