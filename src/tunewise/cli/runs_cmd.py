"""`tunewise runs ls|show|compare|rm`: the run registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option
app = typer.Typer(no_args_is_help=True, help="List, show, compare and remove recorded runs.")
RegistryOpt = Annotated[
    Path | None, Opt("--registry", help="Registry file [$TUNEWISE_REGISTRY or ~/.tunewise/runs.db]")
]


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 1e4 else f"{v:.4g}"
    return str(v)


def _table(header: list[str], rows: list[list[str]]) -> str:
    """A plain aligned table; nothing is cut (paths stay whole when piped)."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = [
        "  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip() for r in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@app.command("ls")
def ls(
    status: Annotated[
        str | None, Opt(help="Only runs with this status (running, completed, failed, interrupted)")
    ] = None,
    contains: Annotated[
        str | None, Opt("--filter", help="Only runs whose path contains this")
    ] = None,
    model: Annotated[str | None, Opt(help="Only runs of this model")] = None,
    study: Annotated[str | None, Opt(help="Only trials of this tuning study")] = None,
    sort: Annotated[
        str, Opt(help="Sort key: id, started, status, name, or a metric such as test.accuracy")
    ] = "id",
    desc: Annotated[bool, Opt("--desc/--asc", help="Descending order")] = False,
    limit: Annotated[int | None, Opt(help="Show at most N runs")] = None,
    registry: RegistryOpt = None,
) -> None:
    """List recorded runs (a run whose process died reads as interrupted)."""
    from tunewise.errors import UserError
    from tunewise.registry import Registry

    reg = Registry(registry)
    runs = reg.runs()
    if status:
        runs = [r for r in runs if r["status"] == status]
    if contains:
        runs = [r for r in runs if contains in r["path"]]
    if model:
        runs = [r for r in runs if r["model"] == model]
    if study:
        runs = [r for r in runs if r["study"] == study]
    if sort in ("id", "started", "status", "name", "model", "updated"):
        key = lambda r: (r[sort] is None, r[sort] or "")  # noqa: E731
    elif any(sort in r["metrics"] for r in runs) or not runs:
        key = lambda r: (sort not in r["metrics"], r["metrics"].get(sort, 0))  # noqa: E731
    else:
        known = sorted({k for r in runs for k in r["metrics"]})
        raise UserError(
            f"--sort {sort}: not a column or recorded metric; metrics: {', '.join(known)}"
        )
    runs.sort(key=key, reverse=desc)
    if desc and sort not in ("id", "started", "status", "name", "model", "updated"):
        runs.sort(key=lambda r: sort not in r["metrics"])  # runs without the metric go last
    if limit:
        runs = runs[:limit]
    if not runs:
        print(f"no runs recorded in {reg.path}")
        return
    metric_cols = ["dev.accuracy", "test.accuracy", "test.macro_f1"]
    if sort not in metric_cols and sort not in (
        "id",
        "started",
        "status",
        "name",
        "model",
        "updated",
    ):
        metric_cols.append(sort)
    rows = [
        [str(r["id"]), r["status"], r["started"] or "-", r["model"] or "-"]
        + [_fmt(r["metrics"].get(c)) for c in metric_cols]
        + [r["path"]]
        for r in runs
    ]
    print(_table(["id", "status", "started", "model", *metric_cols, "path"], rows))
    print(f"\n{len(runs)} run(s) in {reg.path}")


@app.command("show")
def show(
    run: Annotated[str, typer.Argument(help="Run id, path or name")],
    registry: RegistryOpt = None,
) -> None:
    """Everything recorded about one run: status, paths, config and metrics."""
    from tunewise.registry import Registry

    r = Registry(registry).get(run)
    for k in ("id", "name", "path", "status", "started", "updated", "finished", "model", "study"):
        print(f"{k:9} {_fmt(r[k])}")
    if r["error"]:
        print(f"error     {r['error']}")
    for what, rel in (("model", "model"), ("report", "report.html"), ("metrics", "metrics.json")):
        if (Path(r["path"]) / rel).exists():
            print(f"{what:9} {Path(r['path']) / rel}")
    print("\nmetrics")
    for k, v in r["metrics"].items():
        print(f"  {k:28} {_fmt(v)}")
    print("\nconfig")
    for k, v in r["config"].items():
        print(f"  {k:28} {_fmt(v)}")


@app.command("compare")
def compare(
    run_a: Annotated[str, typer.Argument(help="Run id, path or name (the reference)")],
    run_b: Annotated[str, typer.Argument(help="Run id, path or name (the challenger)")],
    all_config: Annotated[
        bool, Opt("--all", help="Show every config key, not only those that differ")
    ] = False,
    n_boot: Annotated[int, Opt(help="Bootstrap resamples of the significance test")] = 10000,
    registry: RegistryOpt = None,
) -> None:
    """Configs and metrics side by side, then the paired significance test on the test rows."""
    from tunewise.errors import UserError
    from tunewise.registry import Registry

    reg = Registry(registry)
    a, b = reg.get(run_a), reg.get(run_b)
    keys = list(dict.fromkeys([*a["config"], *b["config"]]))
    diff = [k for k in keys if a["config"].get(k) != b["config"].get(k)]
    shown = keys if all_config else diff
    print(f"A = run {a['id']} ({a['path']}, {a['status']})")
    print(f"B = run {b['id']} ({b['path']}, {b['status']})\n")
    if shown:
        rows = [[k, _fmt(a["config"].get(k)), _fmt(b["config"].get(k))] for k in shown]
        print(_table(["config" + ("" if all_config else " (differs)"), "A", "B"], rows))
    else:
        print("configs: identical")
    mkeys = list(dict.fromkeys([*a["metrics"], *b["metrics"]]))
    rows = []
    for k in mkeys:
        va, vb = a["metrics"].get(k), b["metrics"].get(k)
        num = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (va, vb))
        rows.append([k, _fmt(va), _fmt(vb), f"{vb - va:+.4f}" if num else ""])
    print()
    print(_table(["metric", "A", "B", "B - A"], rows))
    print()
    pa, pb = Path(a["path"]), Path(b["path"])
    if not (
        (pa / "predictions" / "test.jsonl").is_file()
        and (pb / "predictions" / "test.jsonl").is_file()
    ):
        print("significance test: skipped (both runs need predictions/test.jsonl)")
        return
    from tunewise.cli.compare_cmd import compare as compare_predictions

    try:
        compare_predictions(pa, pb, json_out=None, n_boot=n_boot, seed=0)
    except UserError as e:
        print(f"significance test: skipped ({e})")


@app.command("rm")
def rm(
    runs: Annotated[list[str], typer.Argument(help="Run ids, paths or names")],
    files: Annotated[bool, Opt("--files", help="Also delete the run directories")] = False,
    registry: RegistryOpt = None,
) -> None:
    """Remove runs from the registry (and with --files, their directories)."""
    import shutil

    from tunewise.errors import UserError
    from tunewise.registry import Registry

    reg = Registry(registry)
    found = [reg.get(r) for r in runs]
    running = [r for r in found if r["status"] == "running"]
    if running:
        raise UserError(
            f"run {running[0]['id']} is still running ({running[0]['path']}); stop it first"
        )
    reg.remove([r["id"] for r in found])
    for r in found:
        if files and Path(r["path"]).is_dir():
            shutil.rmtree(r["path"])
        print(f"removed run {r['id']} ({r['path']}){' and its directory' if files else ''}")
