"""Domain shift over time: one task whose rows arrive in time order (financial texts by month).
The stream is cut into consecutive time slices, each split into train and test; then

- ``once``: a model trained on the first slice and never updated, scored on every slice;
- ``continued``: that model continued on each new slice in turn (``--strategy``, naive by
  default), scored on the slice it is about to meet (before it trains on it: what a deployed
  model faces), on the slice it just trained on, and at the end on every slice.

Layout under ``--out``: ``slices/`` (each slice's train/test CSV), ``once/`` (= stage 0),
``continued/<k>-<slice>/``, and ``drift.json`` / ``drift.md``."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from pathlib import Path

from tunewise.errors import UserError
from tunewise.rundir import atomic_write, write_json

GRAINS = ("day", "week", "month", "quarter", "year")


def _open(path: Path):
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8", newline="")


def read_stream(path, text_column="text", label_column="label", time_column="date") -> list[dict]:
    """Rows (text, label, time) of a CSV/TSV (optionally .gz) or JSONL file, in file order."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: stream file not found")
    name = p.name.removesuffix(".gz")
    rows = []
    with _open(p) as f:
        if name.endswith((".jsonl", ".json")):
            for i, line in enumerate(f, start=1):
                if line.strip():
                    try:
                        rows.append((i, json.loads(line)))
                    except json.JSONDecodeError as e:
                        raise UserError(f"{p} line {i}: not valid JSON ({e.msg})") from None
        else:
            reader = csv.DictReader(f, delimiter="\t" if name.endswith(".tsv") else ",")
            rows = [(i, r) for i, r in enumerate(reader, start=2)]
    out = []
    for line, r in rows:
        for col in (text_column, label_column, time_column):
            if col not in r:
                raise UserError(f"{p} line {line}: no column {col!r}")
        text, label, when = r[text_column], r[label_column], str(r[time_column] or "")
        if not text or label in (None, "") or not when:
            continue
        out.append({"text": str(text), "label": str(label), "time": when})
    if not out:
        raise UserError(f"{p}: no row with a text, a label and a time")
    return out


def slice_key(when: str, grain: str) -> str:
    """The slice an ISO date/time falls in: ``2015-03-07`` -> ``2015-03`` (month)."""
    from datetime import date

    try:
        d = date.fromisoformat(when[:10])
    except ValueError:
        raise UserError(f"time {when!r}: expected an ISO date (YYYY-MM-DD...)") from None
    if grain == "day":
        return d.isoformat()
    if grain == "week":
        y, w, _ = d.isocalendar()
        return f"{y}-W{w:02d}"
    if grain == "month":
        return f"{d.year}-{d.month:02d}"
    if grain == "quarter":
        return f"{d.year}-Q{(d.month - 1) // 3 + 1}"
    return str(d.year)


def make_slices(
    rows, grain: str, test_share: float, seed: int, min_rows: int, max_rows: int | None
):
    """{slice: (train rows, test rows)} in time order; slices with fewer than ``min_rows`` rows
    join the next one; at most ``max_rows`` rows per slice (seeded sample)."""
    if grain not in GRAINS:
        raise UserError(f"--slice {grain!r}: choose one of {', '.join(GRAINS)}")
    if not 0 < test_share < 1:
        raise UserError("--test-share must be between 0 and 1")
    by: dict[str, list] = {}
    for r in sorted(rows, key=lambda r: r["time"]):
        by.setdefault(slice_key(r["time"], grain), []).append(r)
    merged: list[tuple[str, list]] = []
    carry: list = []
    first = None
    for key in sorted(by):
        first = first or key
        carry += by[key]
        if len(carry) >= min_rows:
            merged.append((key if first == key else f"{first}..{key}", carry))
            carry, first = [], None
    if carry and merged:
        name, rs = merged[-1]
        merged[-1] = (f"{name.split('..')[0]}..{sorted(by)[-1]}", rs + carry)
    if len(merged) < 2:
        raise UserError(
            f"the stream gives {len(merged)} slice(s) of >= {min_rows} rows; need 2 or more"
        )
    rng = random.Random(seed)
    out = {}
    for key, rs in merged:
        rs = list(rs)
        rng.shuffle(rs)
        if max_rows is not None:
            rs = rs[:max_rows]
        n_test = max(1, round(len(rs) * test_share))
        out[key] = (rs[n_test:], rs[:n_test])
    return out


def _write_csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["text", "label", "time"])
    w.writerows((r["text"], r["label"], r["time"]) for r in rows)
    atomic_write(path, buf.getvalue())


def run_time_slices(
    stream,
    out,
    *,
    grain="month",
    text_column="text",
    label_column="label",
    time_column="date",
    strategy="naive",
    test_share=0.2,
    min_rows=50,
    max_rows=None,
    seed=42,
    config=None,
    echo=None,
) -> dict:
    """Train once vs continue with each slice; accuracy on each slice. Returns the record
    written to ``drift.json`` (resumes: completed stages are skipped)."""
    from tunewise.config import build_config
    from tunewise.continual.continuation import continue_train
    from tunewise.continual.lineage import lineage_of
    from tunewise.continual.scoring import score_model
    from tunewise.run.runner import train
    from tunewise.rundir import RunDir

    echo = echo or (lambda line: None)
    out = Path(out)
    rows = read_stream(stream, text_column, label_column, time_column)
    slices = make_slices(rows, grain, test_share, seed, min_rows, max_rows)
    names = list(slices)
    sdir = out / "slices"
    sdir.mkdir(parents=True, exist_ok=True)
    files = []
    for i, name in enumerate(names):
        tr, te = slices[name]
        safe = name.replace("..", "_to_")
        f_tr, f_te = sdir / f"{i:02d}-{safe}_train.csv", sdir / f"{i:02d}-{safe}_test.csv"
        _write_csv(f_tr, tr)
        _write_csv(f_te, te)
        files.append(
            {"name": name, "train": str(f_tr), "test": str(f_te), "rows": [len(tr), len(te)]}
        )
        echo(f"slice {name}: {len(tr)} train / {len(te)} test rows")

    def cfg_for(k, path):
        flags = {
            "data.train": files[k]["train"],
            "data.test": files[k]["test"],
            "train.seed": seed,
            "out": str(path),
        }
        return build_config(config or {}, flags)

    once = out / "once"
    if RunDir(once).status() != "completed":
        echo(f"[1/{len(names)}] training once on {names[0]}")
        train(cfg_for(0, once), overwrite=True)
    prev = once
    for k in range(1, len(names)):
        path = out / "continued" / f"{k:02d}-{names[k].replace('..', '_to_')}"
        if (
            RunDir(path).status() != "completed"
            or not (path / "continual" / "stage.json").is_file()
        ):
            echo(f"[{k + 1}/{len(names)}] continuing ({strategy}) with {names[k]}")
            cfg = cfg_for(k, path)
            continue_train(cfg, prev, strategy, overwrite=True)
        else:
            echo(f"[{k + 1}/{len(names)}] {names[k]}: done, skipped")
        prev = path
    # "once": the first model on every slice; "continued": from the forgetting matrix
    once_cells = score_model(once, lineage_of(prev))
    from tunewise.continual.forgetting import forgetting

    f = forgetting(prev, n_boot=200)
    m = f["matrix"]
    table = []
    for k, name in enumerate(names):
        table.append(
            {
                "slice": name,
                "train_rows": files[k]["rows"][0],
                "test_rows": files[k]["rows"][1],
                "once": once_cells[k]["accuracy"],
                "continued_before": m[k - 1][k] if k else None,
                "continued_after": m[k][k],
                "continued_final": m[-1][k],
            }
        )
    later = table[1:]
    record = {
        "stream": str(Path(stream).resolve()),
        "grain": grain,
        "strategy": strategy,
        "seed": seed,
        "slices": table,
        "mean_over_later_slices": {
            "once": sum(r["once"] for r in later) / len(later),
            "continued_before": sum(r["continued_before"] for r in later) / len(later),
            "continued_after": sum(r["continued_after"] for r in later) / len(later),
        },
        "note": "once: trained on the first slice only; continued_before: the model continued "
        "through the earlier slices, on a slice before it trains on it (what a deployed model "
        "meets); continued_after: after it trained on that slice; continued_final: the last "
        "model on every slice",
        "final_run": str(prev),
    }
    write_json(out / "drift.json", record)
    atomic_write(out / "drift.md", drift_markdown(record))
    return record


def drift_markdown(rec: dict) -> str:
    lines = [
        "| slice | train | test | once | continued (before) | continued (after) | continued (final) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rec["slices"]:
        b = "-" if r["continued_before"] is None else f"{r['continued_before']:.3f}"
        lines.append(
            f"| {r['slice']} | {r['train_rows']} | {r['test_rows']} | {r['once']:.3f} | {b} | "
            f"{r['continued_after']:.3f} | {r['continued_final']:.3f} |"
        )
    m = rec["mean_over_later_slices"]
    lines.append(
        f"\nmean over the later slices: once {m['once']:.3f}, continued before {m['continued_before']:.3f}, "
        f"after {m['continued_after']:.3f}\n"
    )
    return "\n".join(lines)
