"""[continual] point 4 on real data: domain shift over time with ``tunewise continual --stream``.

The one labeled, timestamped text task here is StockNet's (``stocknet_stream``): a tweet about
one ticker, labeled with that ticker's price movement (up / down / flat, the dataset's
thresholds) on the tweet's UTC date. Kept: original tweets (no retweets) naming exactly one
cashtag, on a trading day, each tweet once. Cut by quarter (2014-Q1 .. 2015-Q4), at most
``--max-rows`` per quarter (a seeded sample, 20% of it the quarter's test set).

For each seed: a model trained once on the first quarter vs that model continued with each new
quarter (``naive``), scored on every quarter (``drift.json`` per seed). Beside them, the
text-free baselines every figure needs: the first quarter's majority label on each quarter
(what "once" knows of the prior) and each quarter's own training majority.

    .venv/bin/python benchmarks/bench_drift.py --seeds 42,43,44 --out benchmarks/out/drift

Seeds can run as separate processes over one ``--out``; a last run with all seeds skips every
finished stage and writes ``bench_drift.json`` with mean +- sd over seeds.
"""

from __future__ import annotations

import argparse
import collections
import csv
import gzip
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

SHARED = Path(
    os.environ.get("SHARED_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets")
)


def write_stream(out: Path) -> Path:
    src = SHARED / "stocknet_stream"
    if not (src / "tweets.csv.gz").is_file():
        sys.exit(f"{src}/tweets.csv.gz not found (set SHARED_DATASETS)")
    with open(src / "prices.csv", newline="") as f:
        move = {(r["ticker"], r["date"]): r["movement"] for r in csv.DictReader(f)}
    seen, rows = set(), []
    with io.TextIOWrapper(gzip.open(src / "tweets.csv.gz"), encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["is_retweet"] == "1" or len(r["cashtags"].split()) != 1:
                continue
            m = move.get((r["ticker"], r["date"]))
            if m is None or r["tweet_id"] in seen:
                continue
            seen.add(r["tweet_id"])
            rows.append((r["text"], m, r["date"]))
    out.mkdir(parents=True, exist_ok=True)
    p = out / "stocknet_movement.csv"
    tmp = out / f".stocknet_movement.{os.getpid()}.csv"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label", "date"])
        w.writerows(rows)
    os.replace(tmp, p)
    return p


def _labels(path: str) -> list[str]:
    with open(path, newline="") as f:
        return [r["label"] for r in csv.DictReader(f)]


def baselines(rec: dict, out: Path) -> list[dict]:
    """Text-free accuracy on each slice's test set: the first slice's majority label, and the
    slice's own training majority."""
    sdir = out / "slices"
    files = sorted(sdir.glob("*_train.csv"))
    first = collections.Counter(_labels(str(files[0]))).most_common(1)[0][0]
    res = []
    for f in files:
        test = _labels(str(f).replace("_train.csv", "_test.csv"))
        own = collections.Counter(_labels(str(f))).most_common(1)[0][0]
        res.append(
            {
                "first_majority": sum(y == first for y in test) / len(test),
                "own_majority": sum(y == own for y in test) / len(test),
            }
        )
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="42,43,44")
    ap.add_argument("--max-rows", type=int, default=1500)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--slice", default="quarter")
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/drift"))
    a = ap.parse_args()
    from tunewise.continual.sequence import mean_sd
    from tunewise.continual.timeslices import run_time_slices

    stream = write_stream(a.out)
    seeds = [int(s) for s in a.seeds.split(",") if s]
    cfg = {
        "model": {"name": a.model, "max_length": 64},
        "train": {"epochs": a.epochs, "head_lr": 2e-3},
        "task": {"label_issues": False},
    }
    t0 = time.time()
    per_seed = {}
    for seed in seeds:
        d = a.out / f"seed-{seed}"
        rec = run_time_slices(
            stream, d, grain=a.slice, max_rows=a.max_rows, seed=seed, config=cfg, echo=print
        )
        for row, b in zip(rec["slices"], baselines(rec, d), strict=True):
            row.update(b)
        per_seed[seed] = rec
    cols = ("once", "continued_before", "continued_after", "first_majority", "own_majority")
    names = [r["slice"] for r in per_seed[seeds[0]]["slices"]]

    def agg(values):
        values = [v for v in values if v is not None]  # no "before" on the first slice
        return mean_sd(values) if values else None

    table = []
    for k, name in enumerate(names):
        table.append(
            {"slice": name} | {c: agg([per_seed[s]["slices"][k][c] for s in seeds]) for c in cols}
        )
    later = {
        c: agg([statistics.fmean(r[c] for r in per_seed[s]["slices"][1:]) for s in seeds])
        for c in cols
    }
    summary = {
        "args": {k: str(v) for k, v in vars(a).items()},
        "seconds": round(time.time() - t0, 1),
        "slices": table,
        "mean_over_later_slices": later,
    }
    (a.out / "bench_drift.json").write_text(json.dumps(summary, indent=2))

    def cell(v):
        return "-" if v is None else f"{v['mean']:.3f} ± {v['sd']:.3f}"

    print(
        "| quarter | once | continued (before) | continued (after) | first-quarter majority | own majority |"
    )
    print("|---|---|---|---|---|---|")
    for r in table + [{"slice": "mean, later quarters"} | later]:
        print(f"| {r['slice']} | " + " | ".join(cell(r[c]) for c in cols) + " |")


if __name__ == "__main__":
    main()
