"""What the studio shows about runs, read from the registry and the run directories.

The registry lists runs; each run's ``metrics.json`` gives its headline (the task's own
figure), the test interval and the baselines. Files are read through a small cache keyed by
modification time, so a list of hundreds of runs costs one ``stat`` per run once warm.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from tunewise.evaluation.report_data import is_num
from tunewise.registry import Registry
from tunewise.rundir import METRICS_FILE, RunDir

SORT_KEYS = ("id", "name", "status", "task", "model", "method", "started", "headline")


class _FileCache:
    """JSON files parsed once per modification time."""

    def __init__(self):
        self._data: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def json(self, path: Path):
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        key = str(path)
        with self._lock:
            hit = self._data.get(key)
            if hit and hit[0] == mtime:
                return hit[1]
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            value = None
        with self._lock:
            self._data[key] = (mtime, value)
        return value


CACHE = _FileCache()


def headline(metrics: dict | None) -> dict | None:
    """The run's headline figure: ``metric``, ``name``, ``value``, ``ci`` (95% bootstrap on
    test, when recorded), ``lower_is_better`` and ``baselines`` ({name: value}); None when the
    run has no final test metrics."""
    if not metrics:
        return None
    head = metrics.get("headline")
    key, what = head if isinstance(head, list) and len(head) == 2 else ("accuracy", "accuracy")
    test = metrics.get("test") or {}
    if not is_num(test.get(key)):
        return None
    ci = (test.get("ci") or {}).get(key)
    ci = ci if isinstance(ci, list) and len(ci) == 2 and all(is_num(x) for x in ci) else None
    baselines = {
        name: b[key]
        for name, b in (metrics.get("baselines") or {}).items()
        if isinstance(b, dict) and is_num(b.get(key))
    }
    seeds = ((metrics.get("seeds") or {}).get("summary") or {}).get("test", {}).get(key) or {}
    return {
        "metric": key,
        "name": what,
        "value": test[key],
        "ci": ci,
        "baselines": baselines,
        "seeds": seeds.get("n") or 1,
        "std": seeds.get("std"),
    }


def _method(row: dict) -> str:
    return row["config"].get("method.name") or "full"


def _data(row: dict) -> str:
    train = row["config"].get("data.train")
    return Path(str(train)).name if train else "-"


def summarize(row: dict) -> dict:
    """One registry row as the runs page and ``/api/runs`` show it."""
    metrics = CACHE.json(Path(row["path"]) / METRICS_FILE) if row["status"] == "completed" else None
    return {
        "id": row["id"],
        "name": row["name"],
        "path": row["path"],
        "status": row["status"],
        "task": row["task"] or "classification",
        "model": row["model"] or "-",
        "method": _method(row),
        "data": _data(row),
        "started": row["started"],
        "finished": row["finished"],
        "study": row["study"],
        "error": row["error"],
        "headline": headline(metrics),
    }


def list_runs(
    registry: Registry,
    status: str | None = None,
    q: str | None = None,
    sort: str = "id",
    desc: bool = True,
) -> list[dict]:
    """Every recorded run, filtered (status, text in name/path/model/task/method/data) and sorted.

    Raises:
        ValueError: an unknown sort key.
    """
    if sort not in SORT_KEYS:
        raise ValueError(f"sort: one of {', '.join(SORT_KEYS)}, not {sort!r}")
    runs = [summarize(r) for r in registry.runs()]
    if status:
        runs = [r for r in runs if r["status"] == status]
    if q:
        ql = q.lower()
        fields = ("name", "path", "model", "task", "method", "data")
        runs = [r for r in runs if any(ql in str(r[f]).lower() for f in fields)]
    if sort == "headline":
        with_value = [r for r in runs if r["headline"]]
        with_value.sort(key=lambda r: r["headline"]["value"], reverse=desc)
        return with_value + [r for r in runs if not r["headline"]]
    runs.sort(key=lambda r: (r[sort] is None, r[sort] if r[sort] is not None else ""), reverse=desc)
    return runs


def curve_points(path: Path, offset: int = 0) -> tuple[list[dict], int]:
    """Records of ``train_log.jsonl`` from byte ``offset`` on (whole lines only) and the offset
    after the last whole line: what the live curve streams, never the whole file again."""
    log = RunDir(path).log
    try:
        with open(log, "rb") as f:
            f.seek(offset)
            chunk = f.read()
    except OSError:
        return [], offset
    end = chunk.rfind(b"\n") + 1
    records = []
    for line in chunk[:end].splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            records.append(rec)
    return records, offset + end
