"""A run's lineage: the stages it descends from (each stage's run, data and labels), read
from the run directories. ``RUN/continual/stage.json`` holds a continued run's record; a run
trained from scratch is a lineage of one, rebuilt from its ``config.yaml``, ``labels.json``
and ``data.json``."""

from __future__ import annotations

from pathlib import Path

import yaml

from tunewise.errors import UserError
from tunewise.rundir import RunDir, read_json

CONTINUAL_DIR = "continual"
STAGE_FILE = "stage.json"
MEMORY_FILE = "memory.jsonl"
FISHER_FILE = "fisher.safetensors"
ROUTER_FILE = "router.json"

DATA_KEYS = ("text_column", "text_pair_column", "label_column", "label_sep", "quoting")


def continual_dir(run: str | Path) -> Path:
    return Path(run) / CONTINUAL_DIR


def stage_record(run: str | Path) -> dict | None:
    """``RUN/continual/stage.json`` of a continued run; None for a run trained from scratch."""
    p = continual_dir(run) / STAGE_FILE
    return read_json(p) if p.is_file() else None


def _config(run: RunDir) -> dict:
    return yaml.safe_load(run.config.read_text(encoding="utf-8")) or {}


def root_entry(path: str | Path) -> dict:
    """The lineage entry of a run trained from scratch (its own stage 0)."""
    run = RunDir(path)
    cfg = _config(run)
    data = cfg.get("data") or {}
    from tunewise.tasks import get_task
    from tunewise.tasks.classification.task import ClassificationTask

    task = cfg.get("task") or {}
    if not issubclass(
        get_task(task.get("type") or ClassificationTask.name), ClassificationTask
    ) or (task.get("multi_label")):
        raise UserError(f"{path}: continuing a run needs a single-label classification run")
    if not data.get("test"):
        raise UserError(
            f"{path}: the run has no test file (its test rows were split from train); "
            "continual learning evaluates every stage on each earlier test file: retrain it with --test"
        )
    labels = read_json(run.labels)["labels"] if run.labels.is_file() else []
    rows = (read_json(run.data).get("rows") or {}).get("train") if run.data.is_file() else None
    return entry(path, data, labels, rows, strategy=None, oos_label=task.get("oos_label"))


def entry(
    path,
    data: dict,
    labels: list[str],
    rows: int | None,
    strategy: str | None,
    oos_label: str | None = None,
) -> dict:
    """One stage of a lineage: its run, files, columns, its own label set and train rows.

    ``oos_label``: the out-of-scope label of an abstaining stage (``--oos-label``); when it is
    not one of the stage's classes, its test rows are kept out of the accuracies (no model
    can predict a label it never had, as the stage's own run held them out too).
    """
    out = {
        "run": str(Path(path).resolve()),
        "task": task_name(data.get("train")),
        "train": str(Path(data["train"]).resolve()) if data.get("train") else None,
        "test": str(Path(data["test"]).resolve()),
        "data": {k: data.get(k) for k in DATA_KEYS if data.get(k) is not None},
        "labels": list(labels),
        "rows": rows,
        "strategy": strategy,
    }
    if oos_label is not None and oos_label not in labels:
        out["held_out_label"] = oos_label
    return out


def task_name(train) -> str:
    """A stage's name from its training file: ``data/yelp_train.csv`` -> ``yelp``."""
    p = Path(str(train or "task"))
    stem = p.name.split(".")[0]
    for suffix in ("_train", "-train", ".train"):
        stem = stem.removesuffix(suffix)
    return stem if stem and stem != "train" else (p.parent.name or "task")


def lineage_of(path: str | Path) -> list[dict]:
    """Every stage of the run at ``path``, oldest first, the run itself last."""
    rec = stage_record(path)
    if rec is not None:
        return rec["lineage"]
    return [root_entry(path)]


def require_parent(path: str | Path) -> RunDir:
    """The finished run to continue from; one line when it is not one."""
    run = RunDir(path)
    run.require_complete()
    return run


def model_labels(path: str | Path) -> list[str]:
    """The label map (id order) of the run's saved model."""
    from tunewise.rundir import read_meta

    return list(read_meta(RunDir(path).model).get("labels") or [])


def method_of(path: str | Path) -> str:
    from tunewise.rundir import read_meta

    return (read_meta(RunDir(path).model).get("method") or {}).get("name", "full")
