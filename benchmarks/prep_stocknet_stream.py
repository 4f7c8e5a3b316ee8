"""A time-ordered financial stream for [continual] point 4 from ``stocknet_stream``: each
tweet with its ticker's price move on the tweet's date (up > +0.55%, down < -0.5%, else flat:
the dataset's own labels), seeded sample of at most N tweets per month, retweets dropped.

    .venv/bin/python benchmarks/prep_stocknet_stream.py --per-month 150 --out benchmarks/out/stocknet.csv
    .venv/bin/tunewise continual --stream benchmarks/out/stocknet.csv --time-column date \
        --slice quarter --out benchmarks/out/drift

The file is written under benchmarks/out/ (not in git): the tweets are Twitter content.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import os
import random
from pathlib import Path

SHARED = Path(
    os.environ.get("SHARED_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets")
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-month", type=int, default=150)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/stocknet.csv"))
    a = ap.parse_args()
    d = SHARED / "stocknet_stream"
    moves = {}
    with open(d / "prices.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            moves[(r["ticker"], r["date"])] = r["movement"]
    by_month: dict[str, list] = {}
    seen = set()
    with io.TextIOWrapper(gzip.open(d / "tweets.csv.gz"), encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["is_retweet"] == "1" or r["tweet_id"] in seen:
                continue
            label = moves.get((r["ticker"], r["date"]))
            if label is None:
                continue
            seen.add(r["tweet_id"])
            by_month.setdefault(r["date"][:7], []).append((r["date"], r["text"], label))
    rng = random.Random(a.seed)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["date", "text", "label"])
        for month in sorted(by_month):
            rows = by_month[month]
            rng.shuffle(rows)
            w.writerows(sorted(rows[: a.per_month]))
    print(
        f"{a.out}: {sum(min(len(v), a.per_month) for v in by_month.values())} rows, {len(by_month)} months"
    )


if __name__ == "__main__":
    main()
