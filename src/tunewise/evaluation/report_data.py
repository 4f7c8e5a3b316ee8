"""What the report shows, read from the run directory and shaped once for HTML and Markdown.

Every file except ``run.json`` and ``config.yaml`` is optional: a missing or unreadable one
leaves its section out (and notes why), it never stops the report.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tunewise.rundir import RunDir

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
HEADLINE_METRICS = ("accuracy", "macro_f1", "micro_f1", "mcc")
LABEL_ISSUES_SHOWN = 20


@dataclass
class RunData:
    """The parsed files of one run directory; ``None``/empty where a file is absent."""

    path: Path
    status: str
    info: dict
    config_text: str
    config: dict
    labels: dict | None = None
    data: dict | None = None
    metrics: dict | None = None
    doctor: dict | None = None
    log: list[dict] = field(default_factory=list)
    label_issues: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # files that exist but could not be read

    @property
    def test(self) -> dict:
        return (self.metrics or {}).get("test") or {}


def _json(path: Path, notes: list[str]):
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        notes.append(f"{path.name}: could not be read ({type(e).__name__}: {e})")
        return None
    if not isinstance(value, dict):
        notes.append(f"{path.name}: expected a JSON object, found {type(value).__name__}")
        return None
    return value


def _jsonl(path: Path, notes: list[str]) -> list[dict]:
    if not path.is_file():
        return []
    rows, bad = [], 0
    # newlines only: a row's text may hold U+2028 raw (written with ensure_ascii=False)
    for line in path.read_text(encoding="utf-8", errors="replace").split("\n"):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            bad += 1  # e.g. the half-written last line of an interrupted run
            continue
        if isinstance(rec, dict):
            rows.append(rec)
        else:
            bad += 1
    if bad:
        notes.append(f"{path.name}: skipped {bad} unreadable line(s)")
    return rows


def load_run(path: str | Path) -> RunData:
    """Read everything the report can use from ``path`` (a run directory with run.json)."""
    run = RunDir(path)
    notes: list[str] = []
    config_text = run.config.read_text(encoding="utf-8") if run.config.is_file() else ""
    try:
        config = yaml.safe_load(config_text) or {}
    except yaml.YAMLError as e:
        notes.append(f"config.yaml: could not be parsed ({e})")
        config = {}
    issues = _jsonl(run.path / "label_issues.jsonl", notes)
    issues.sort(key=lambda r: r.get("self_confidence") if is_num(r.get("self_confidence")) else 2)
    return RunData(
        path=run.path,
        status=run.status(),
        info=_json(run.run_file, notes) or {},
        config_text=config_text,
        config=config if isinstance(config, dict) else {},
        labels=_json(run.labels, notes),
        data=_json(run.data, notes),
        metrics=_json(run.metrics, notes),
        doctor=_json(run.doctor, notes),
        log=_jsonl(run.log, notes),
        label_issues=issues[:LABEL_ISSUES_SHOWN],
        notes=notes,
    )


# -- formatting ------------------------------------------------------------------------------
def is_num(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def fmt(v, digits: int = 4) -> str:
    """A number to ``digits`` decimals; anything else as text; missing as an en dash."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if is_num(v):
        return f"{v:.{digits}f}"
    if isinstance(v, list | tuple) and len(v) == 2 and all(is_num(x) for x in v):
        return f"[{v[0]:.{digits}f}, {v[1]:.{digits}f}]"
    return str(v)


def signed(v) -> str:
    return f"{v:+.4f}" if is_num(v) else "–"


# -- facts shown in several places -----------------------------------------------------------
def label_names(r: RunData) -> list[str]:
    for src in ((r.labels or {}).get("labels"), r.test.get("labels")):
        if isinstance(src, list):
            return [str(x) for x in src]
    return []


def model_name(r: RunData) -> str:
    m = (r.data or {}).get("model") or {}
    return str(m.get("name") or (r.config.get("model") or {}).get("name") or "unknown")


def task_name(r: RunData) -> str:
    task = r.config.get("task") or {}
    name = str(task.get("type", "classification"))
    multi = (r.labels or {}).get("multi_label", task.get("multi_label"))
    return name + (" (multi-label)" if multi else "")


def seed_summary(r: RunData) -> tuple[list, dict]:
    """(seed values, {split: {metric: {mean, std, min, max, n, values}}}) from metrics.json."""
    seeds = (r.metrics or {}).get("seeds") or {}
    values = seeds.get("values") if isinstance(seeds.get("values"), list) else []
    summary = seeds.get("summary") if isinstance(seeds.get("summary"), dict) else {}
    return values, summary


def seed_line(r: RunData) -> str:
    """Which seeds the run used, or that the spread across seeds is unknown."""
    values, summary = seed_summary(r)
    if summary and len(values) != 1:
        return f"seeds: {', '.join(map(str, values))}" if values else "several seeds"
    seed = f" ({values[0]})" if values else ""
    return (
        f"single seed{seed}: spread across seeds unknown (train with several seeds to measure it)"
    )


def headline(r: RunData) -> str:
    """One line: test accuracy, its interval, the baselines it beats or not, seed count."""
    if not r.metrics:
        return "no metrics.json: the run has no final evaluation (not available)"
    test = r.test
    # the run's task names its headline figure (entity F1 for NER, RMSE for regression ...)
    head = r.metrics.get("headline")
    key, what = head if isinstance(head, list) and len(head) == 2 else ("accuracy", "accuracy")
    if not is_num(test.get(key)):
        return f"no test-set {what} in metrics.json (not available)"
    parts = [f"test {what} {test[key]:.4f}"]
    ci = (test.get("ci") or {}).get(key)
    if isinstance(ci, list) and len(ci) == 2 and all(is_num(x) for x in ci):
        parts[0] += f" (95% CI {ci[0]:.4f}–{ci[1]:.4f})"
    base = []
    for name, b in (r.metrics.get("baselines") or {}).items():
        if isinstance(b, dict) and is_num(b.get(key)):
            base.append(f"{name} {b[key]:.4f} ({test[key] - b[key]:+.4f})")
    parts.append("vs " + ", ".join(base) if base else "no baselines recorded")
    values, summary = seed_summary(r)
    acc = ((summary.get("test") or {}).get(key)) or {}
    n = acc.get("n") or len(values)
    if n and n > 1 and is_num(acc.get("mean")) and is_num(acc.get("std")):
        parts.append(f"{n} seeds: {acc['mean']:.4f} ± {acc['std']:.4f} (mean ± std)")
    elif n and n > 1:
        parts.append(f"{n} seeds")
    else:
        parts.append("single seed: spread across seeds unknown")
    return "; ".join(parts)


def curves(r: RunData) -> dict:
    """Learning-curve points: train loss per step; eval metrics per step, by split."""
    loss = [
        (rec["step"], rec["loss"])
        for rec in r.log
        if rec.get("type") == "train" and is_num(rec.get("step")) and is_num(rec.get("loss"))
    ]
    evals: dict[str, dict[str, list]] = {}
    for rec in r.log:
        if rec.get("type") != "eval" or not is_num(rec.get("step")):
            continue
        split = str(rec.get("split") or "dev")
        for k in ("accuracy", "macro_f1", "micro_f1"):
            if is_num(rec.get(k)):
                evals.setdefault(split, {}).setdefault(k, []).append((rec["step"], rec[k]))
    return {"loss": loss, "evals": evals}


def length_info(r: RunData) -> dict:
    """Token lengths: doctor histograms and per-split statistics, else data.json's ``tokens``.

    Returns a dict with ``histograms`` {split: {edges, counts}} ("all" when not per split),
    ``splits`` {split: {stat: number}}, ``max_length``, ``other`` (scalar doctor details) and
    ``tokens`` (data.json statistics per split).
    """
    hists: dict = {}
    splits: dict = {}
    other: dict = {}
    for f in (r.doctor or {}).get("findings") or []:
        if not isinstance(f, dict) or f.get("check") != "length":
            continue
        for k, v in (f.get("details") or {}).items():
            if k == "histogram" and _is_hist(v):
                hists["all"] = v
            elif k == "histogram" and isinstance(v, dict):
                hists.update({str(s): h for s, h in v.items() if _is_hist(h)})
            elif isinstance(v, dict):
                if _is_hist(v.get("histogram")):
                    hists[str(k)] = v["histogram"]
                splits[str(k)] = {a: b for a, b in v.items() if is_num(b)}
            elif not isinstance(v, list):
                other[k] = v
    tokens = (r.data or {}).get("tokens") or {}
    max_length = other.pop("max_length", None)
    if not is_num(max_length):
        max_length = (r.config.get("model") or {}).get("max_length")
    return {
        "histograms": hists,
        "splits": splits,
        "max_length": max_length if is_num(max_length) else None,
        "other": other,
        "tokens": tokens if isinstance(tokens, dict) else {},
    }


def length_bars(li: dict) -> list[tuple[str, float]]:
    """(label, tokens) bars summarising lengths per split when no histogram was recorded."""
    if li["splits"]:
        keys, source = ("median", "p95", "max"), li["splits"]
    else:
        keys, source = ("mean_tokens", "p95_tokens"), li["tokens"]
    return [
        (f"{split} {k.removesuffix('_tokens')}", st[k])
        for split, st in source.items()
        if isinstance(st, dict)
        for k in keys
        if is_num(st.get(k))
    ]


def _is_hist(h) -> bool:
    return (
        isinstance(h, dict)
        and isinstance(h.get("edges"), list)
        and isinstance(h.get("counts"), list)
        and len(h["edges"]) == len(h["counts"]) + 1
        and len(h["counts"]) > 0
    )


def findings(r: RunData) -> list[dict]:
    """Doctor findings, errors first; each gets ``allowed`` when the user allowed that check."""
    doc = r.doctor or {}
    allowed = {str(a) for key in ("allowed", "allowed_errors") for a in doc.get(key) or []}
    rows = [dict(f) for f in doc.get("findings") or [] if isinstance(f, dict)]
    for f in rows:
        f["allowed"] = str(f.get("check")) in allowed and f.get("severity") == "error"
    rows.sort(key=lambda f: (bool(f.get("ok")), SEVERITY_ORDER.get(f.get("severity"), 3)))
    return rows


def baseline_rows(r: RunData) -> list[tuple[str, dict]]:
    """(name, metrics) for the model on test and every baseline with numbers."""
    out = [("this model (test)", r.test)] if r.test else []
    for name, b in ((r.metrics or {}).get("baselines") or {}).items():
        if isinstance(b, dict):
            predicts = f", always {b['predicts']!r}" if "predicts" in b else ""
            out.append((f"{name} baseline{predicts}", b))
    return out


def margin(test: dict, base: dict, key: str):
    """test[key] - base[key] when both are numbers, else None."""
    a, b = test.get(key), base.get(key)
    return a - b if is_num(a) and is_num(b) else None


def issue_columns(r: RunData) -> list[str]:
    """Columns of the label-issue table; ``suggested_confidence`` only when recorded."""
    keys = ["row", "where", "text", "given", "suggested", "self_confidence"]
    if any("suggested_confidence" in i for i in r.label_issues):
        keys.append("suggested_confidence")
    return keys
