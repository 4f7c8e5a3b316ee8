"""`tunewise tune`: hyperparameter search with Optuna (selection on dev, test once at the end)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option


def tune(
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="Dotted overrides of the base config, e.g. model.max_length=64"),
    ] = None,
    config: Annotated[
        Path | None, Opt("--config", "-c", help="YAML config (base of every trial)")
    ] = None,
    space: Annotated[
        str | None,
        Opt(help="Search space, e.g. lr=1e-5..1e-4:log,epochs=2..4,batch_size=16|32 [tune.space]"),
    ] = None,
    trials: Annotated[int | None, Opt(help="Number of trials [tune.trials: 20]")] = None,
    pruning: Annotated[
        bool | None, Opt("--pruning/--no-pruning", help="Prune trials trailing on dev [on]")
    ] = None,
    seed: Annotated[int, Opt(help="Seed of the sampler")] = 0,
    out: Annotated[Path | None, Opt(help="Study directory [runs/tune-<timestamp>]")] = None,
) -> None:
    """Search hyperparameters: each trial a run in the registry, the best config saved."""
    import sys
    import time

    from tunewise.config import build_config, load_yaml
    from tunewise.tuning import parse_space
    from tunewise.tuning import tune as run_tune

    base = build_config(load_yaml(config) if config else {}, None, overrides)
    params = parse_space(space if space is not None else base.tune.space)
    n = trials if trials is not None else base.tune.trials
    if n < 1:
        from tunewise.errors import UserError

        raise UserError(f"--trials {n}: at least one trial")
    study_dir = out or Path("runs") / time.strftime("tune-%Y%m%d-%H%M%S")
    if base.train.lr is None and not any(p.key == "train.lr" for p in params):
        from tunewise.models.registry import recommended_lr

        base.train.lr = recommended_lr(base.model.name)

    def echo(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    s = run_tune(
        base, params, study_dir, n, base.tune.pruning if pruning is None else pruning, seed, echo
    )
    t = s["trials"]
    print(f"study {s['study']}: {t['complete']} complete, {t['pruned']} pruned, {t['fail']} failed")
    print(f"best trial {s['best']['trial']}: {s['metric']} {s['best']['value']:.4f}")
    for k, v in s["best"]["params"].items():
        print(f"  {k} = {v}")
    print(f"best config: {s['best_config']}")
    if "final" in s and s["final"]["test"]:
        m = s["final"]["test"]
        print(
            f"final run {s['final']['run']}: test accuracy {m['accuracy']:.4f}, "
            f"macro-F1 {m['macro_f1']:.4f} (the one test evaluation of this study)"
        )
    print(f"trials: tunewise runs ls --study {s['study']}")
