"""One run's page: the files of its directory shaped for the studio (and ``/api/runs/{id}``)."""

from __future__ import annotations

import json
from pathlib import Path

from tunewise.evaluation.report_data import curves, findings, load_run, seed_line
from tunewise.studio.runs import headline

PREDICTIONS_SHOWN = 200


def _line_reader():
    """``where`` ("FILE line N") -> the raw line, each file read once per call."""
    files: dict[str, list[str]] = {}

    def read(where: str) -> str | None:
        path, sep, n = str(where).rpartition(" line ")
        if not sep or not n.isdigit():
            return None
        if path not in files:
            try:
                files[path] = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                files[path] = []
        lines = files[path]
        i = int(n) - 1
        return lines[i][:500] if 0 <= i < len(lines) else None

    return read


def predictions(path: Path, split: str = "test", errors_only: bool = True) -> dict:
    """Rows of ``predictions/<split>.jsonl`` (the model's mistakes first when the task has
    classes), each with the source line it came from; at most ``PREDICTIONS_SHOWN``."""
    file = Path(path) / "predictions" / f"{split}.jsonl"
    if not file.is_file():
        return {"split": split, "rows": [], "total": 0, "errors": 0, "shown": "none"}
    labels = []
    lab_file = Path(path) / "labels.json"
    if lab_file.is_file():
        labels = json.loads(lab_file.read_text(encoding="utf-8")).get("labels") or []
    name = lambda i: labels[i] if isinstance(i, int) and 0 <= i < len(labels) else i  # noqa: E731
    read = _line_reader()
    rows, total, wrong = [], 0, 0
    with open(file, encoding="utf-8") as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            total += 1
            has_classes = "gold" in r and "pred" in r
            error = has_classes and r["gold"] != r["pred"]
            wrong += bool(error)
            if errors_only and has_classes and not error:
                continue
            if len(rows) >= PREDICTIONS_SHOWN:
                continue
            row = {k: v for k, v in r.items() if k != "logits"}
            if has_classes and isinstance(r["gold"], int):
                row["gold"], row["pred"] = name(r["gold"]), name(r["pred"])
            if "text" not in row and "prompt" not in row and "where" in row:
                row["source_line"] = read(row["where"])
            row["error"] = error
            rows.append(row)
    return {
        "split": split,
        "rows": rows,
        "total": total,
        "errors": wrong,
        "shown": "errors" if errors_only else "all",
    }


def run_detail(row: dict, job: dict | None = None) -> dict:
    """Everything the run page shows: status, headline, doctor findings, config, curves,
    calibration, checks, label issues; predictions come from their own endpoint."""
    path = Path(row["path"])
    data = load_run(path) if (path / "run.json").is_file() else None
    metrics = (data.metrics if data else None) or {}
    calib = metrics.get("calibration") or {}
    return {
        "id": row["id"],
        "name": row["name"],
        "path": row["path"],
        "status": data.status if data else row["status"],
        "task": row["task"] or "classification",
        "model": row["model"],
        "error": (data.info.get("error") if data else None) or row["error"],
        "headline": headline(metrics) if metrics else None,
        "seeds": seed_line(data) if data else None,
        "findings": findings(data) if data else [],
        "config": data.config_text if data else "",
        "curves": curves(data) if data else {"loss": [], "evals": {}},
        "calibration": {
            k: calib.get(k) for k in ("temperature", "applied", "decision", "test", "test_scaled")
        }
        if calib
        else None,
        "checks": metrics.get("checks") or {},
        "label_issues": data.label_issues if data else [],
        "report": (path / "report.html").is_file(),
        "exports": _exports(path),
        "job": job,
        "command": (data.info.get("command") if data else None),
    }


def _exports(path: Path) -> list[dict]:
    out = []
    for f in sorted((path / "exports").glob("*.json")):
        try:
            d = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        out.append({"name": f.stem, **{k: d.get(k) for k in ("format", "merged", "parity", "out")}})
    return out
