"""Doctor checks that matter at few shots, run on the draws before any training:

- ``fewshot_class_size`` (error): a class has fewer than K rows to draw from, so a "K-shot"
  run would silently train on fewer;
- ``fewshot_duplicates`` (warning): a draw holds the same text twice, or two near copies
  (Jaccard of word 3-shingles at or above the doctor's threshold), so it has fewer distinct
  examples than it claims (and a dev copy of a train shot flatters dev);
- ``fewshot_test_size`` (warning): the test set is too small to see the differences a
  learning curve would claim (the smallest difference in accuracy a paired comparison could
  tell from noise, at 95%, is above 5 points).
"""

from __future__ import annotations

import math

from tunewise.data.deduplicate import jaccard, shingles
from tunewise.data.examples import dedup_key
from tunewise.data.labels import labels_of

TEST_MDE_LIMIT = 0.05


def detectable_difference(n: int, p: float = 0.75) -> float:
    """The smallest accuracy difference between two models a test set of ``n`` rows shows at
    95% with 80% power, assuming accuracy about ``p`` and independent errors (a conservative
    bound for a paired comparison): (1.96 + 0.84) * sqrt(2 p (1 - p) / n)."""
    if n <= 0:
        return float("inf")
    return 2.8 * math.sqrt(2 * p * (1 - p) / n)


def class_size(train, shots: int) -> dict:
    counts: dict[str, int] = {}
    for e in train:
        for label in labels_of(e):
            counts[label] = counts.get(label, 0) + 1
    short = {k: v for k, v in sorted(counts.items()) if v < shots}
    if short:
        named = ", ".join(f"{k!r} has {v}" for k, v in short.items())
        return _f(
            "fewshot_class_size",
            "error",
            f"fewer than K={shots} training rows in {len(short)} class(es): {named}; "
            "the draws would not be K-shot",
            {"short": short},
        )
    return _f("fewshot_class_size", "ok", f"every class has at least K={shots} rows", {})


def duplicates(draws, threshold: float) -> dict:
    per_draw = []
    for d in draws:
        rows = [("train", e) for e in d.train] + [("dev", e) for e in d.dev]
        keys = [dedup_key(e) for _, e in rows]
        exact, near = [], []
        sets = [shingles(k) for k in keys]
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                if keys[i] == keys[j]:
                    exact.append((rows[i][1].where, rows[j][1].where))
                elif sets[i] and sets[j] and jaccard(sets[i], sets[j]) >= threshold:
                    near.append((rows[i][1].where, rows[j][1].where))
        if exact or near:
            per_draw.append(
                {
                    "draw": d.index,
                    "exact": exact[:10],
                    "near": near[:10],
                    "exact_pairs": len(exact),
                    "near_pairs": len(near),
                }
            )
    if per_draw:
        total = sum(p["exact_pairs"] + p["near_pairs"] for p in per_draw)
        first = per_draw[0]
        pair = (first["exact"] or first["near"])[0]
        return _f(
            "fewshot_duplicates",
            "warning",
            f"{total} duplicate or near-duplicate pair(s) of shots in {len(per_draw)} draw(s) "
            f"(e.g. draw {first['draw']}: {pair[0]} and {pair[1]}): fewer distinct examples "
            "than K; deduplicate the train file (tunewise data dedupe)",
            {"draws": per_draw, "threshold": threshold},
        )
    return _f("fewshot_duplicates", "ok", "no duplicate or near-duplicate shots", {})


def test_size(test) -> dict:
    n = len(test or [])
    mde = detectable_difference(n)
    details = {"test_rows": n, "detectable_difference": round(mde, 4)}
    if mde > TEST_MDE_LIMIT:
        return _f(
            "fewshot_test_size",
            "warning",
            f"{n} test rows: differences in accuracy below about {mde * 100:.0f} points "
            "cannot be told from noise; a learning curve's small gaps mean nothing here",
            details,
        )
    return _f(
        "fewshot_test_size",
        "ok",
        f"{n} test rows show differences of about {mde * 100:.1f} points and more",
        details,
    )


def _f(check: str, severity: str, message: str, details: dict) -> dict:
    return {"check": check, "severity": severity, "message": message, "details": details}


def fewshot_doctor(train, draws, test, shots: int, doctor_cfg) -> dict:
    """Every few-shot check: ``{"checks": [...], "findings": [not ok], "errors": [names]}``."""
    checks = [
        class_size(train, shots),
        duplicates(draws, doctor_cfg.near_duplicate_threshold),
        test_size(test),
    ]
    findings = [c for c in checks if c["severity"] != "ok"]
    return {
        "checks": checks,
        "findings": findings,
        "errors": [c["check"] for c in findings if c["severity"] == "error"],
    }
