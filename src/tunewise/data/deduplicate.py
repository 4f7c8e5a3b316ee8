"""`tunewise data dedupe`: exact and near duplicates within and across splits, one row kept.

Rows are visited test first, then dev, then train (each in file order): the first row of a
group of duplicates is kept, so a copy shared by train and test leaves train (the leak is
removed where it does harm) and the evaluation sets keep their rows. Exact duplicates have
equal normalized text (NFKC, lowercase, one space; both texts of a pair); near duplicates
have a Jaccard similarity of word 3-shingles at or above the threshold, found with MinHash
LSH (datasketch) and verified with the exact Jaccard.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tunewise.data.examples import Example, dedup_key
from tunewise.errors import UserError

NUM_PERM = 128
SHINGLE = 3
"""Word n-gram size of the shingles."""


def shingles(key) -> set[bytes]:
    """Word 3-shingles of a normalized text (a pair's texts joined); short texts as one."""
    words = (key[0] if key[1] is None else f"{key[0]} \x1f {key[1]}").split()
    if len(words) <= SHINGLE:
        return {" ".join(words).encode()}
    return {" ".join(words[i : i + SHINGLE]).encode() for i in range(len(words) - SHINGLE + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


ORDER = ("test", "dev", "train")
"""Which split keeps a row shared by several: the first in this order."""


@dataclass
class DedupeResult:
    kept: dict[str, list[Example]]
    dropped: list[dict] = field(default_factory=list)
    """One record per dropped row: split, where, text, reason, the kept row it copies."""

    def summary(self) -> dict:
        out: dict = {}
        for name, rows in self.kept.items():
            mine = [d for d in self.dropped if d["split"] == name]
            out[name] = {
                "kept": len(rows),
                "dropped_exact": sum(d["reason"] == "exact" for d in mine),
                "dropped_near": sum(d["reason"] == "near" for d in mine),
                "dropped_leak": sum(d["kept_split"] != name for d in mine),
            }
        return out


def _label(label) -> object:
    return sorted(label) if isinstance(label, list) else label


def dedupe_splits(
    splits: dict[str, list[Example]], near_threshold: float | None = 0.9
) -> DedupeResult:
    """Drop exact (and, unless ``near_threshold`` is None, near) duplicates across splits.

    Args:
        splits: examples per split name (train, dev, test; any subset).
        near_threshold: Jaccard of word 3-shingles at or above which two texts are
            near-duplicates; None keeps near-duplicates.

    Returns:
        The kept rows per split (original order) and a record per dropped row.
    """
    if near_threshold is not None and not 0 < near_threshold <= 1:
        raise UserError(f"--near-threshold {near_threshold}: give a number in (0, 1]")
    order = [n for n in ORDER if n in splits] + [n for n in splits if n not in ORDER]
    first: dict[tuple, tuple[str, Example]] = {}
    survivors: list[tuple[str, int, Example, tuple]] = []
    dropped: list[dict] = []
    for name in order:
        for i, ex in enumerate(splits[name]):
            key = dedup_key(ex)
            if key in first:
                kname, kex = first[key]
                dropped.append(_record(name, ex, "exact", kname, kex, 1.0))
                continue
            first[key] = (name, ex)
            survivors.append((name, i, ex, key))
    keep = [True] * len(survivors)
    if near_threshold is not None and len(survivors) > 1:
        _near(survivors, keep, near_threshold, dropped)
    kept: dict[str, list[tuple[int, Example]]] = {n: [] for n in splits}
    for ok, (name, i, ex, _) in zip(keep, survivors):
        if ok:
            kept[name].append((i, ex))
    return DedupeResult(
        {n: [ex for _, ex in sorted(v, key=lambda t: t[0])] for n, v in kept.items()}, dropped
    )


def _near(survivors, keep: list[bool], threshold: float, dropped: list[dict]) -> None:
    from datasketch import MinHash, MinHashLSH

    sets = [shingles(key) for _, _, _, key in survivors]
    hashes = MinHash.bulk(sets, num_perm=NUM_PERM)
    # recall over precision: every candidate is checked with the exact Jaccard
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM, weights=(0.1, 0.9))
    for j, h in enumerate(hashes):
        best = None
        for k in lsh.query(h):
            sim = jaccard(sets[j], sets[k])
            if sim >= threshold and (best is None or sim > best[1]):
                best = (k, sim)
        if best is None:
            lsh.insert(j, h)
            continue
        keep[j] = False
        name, _, ex, _ = survivors[j]
        kname, _, kex, _ = survivors[best[0]]
        dropped.append(_record(name, ex, "near", kname, kex, best[1]))


def _record(name: str, ex: Example, reason: str, kname: str, kex: Example, sim: float) -> dict:
    rec = {
        "split": name,
        "where": ex.where,
        "text": ex.text,
        **({"text_pair": ex.text_pair} if ex.text_pair is not None else {}),
        "label": ex.label,
        "reason": reason,
        "jaccard": round(sim, 4),
        "kept_split": kname,
        "kept_where": kex.where,
    }
    if _label(kex.label) != _label(ex.label):
        rec["kept_label"] = kex.label  # the copies disagree: look at both
    return rec


def write_deduped(
    result: DedupeResult,
    out: Path,
    *,
    text_column: str = "text",
    text_pair_column: str | None = None,
    label_column: str = "label",
    overwrite: bool = False,
) -> list[Path]:
    """Write ``out/<split>.jsonl`` per split, ``out/dropped.jsonl`` and ``out/dedupe.json``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file; give a directory")
    names = [f"{n}.jsonl" for n in result.kept] + ["dropped.jsonl", "dedupe.json"]
    clash = [n for n in names if (out / n).exists()]
    if clash and not overwrite:
        raise UserError(
            f"--out {out}: already holds {', '.join(clash)}; choose another --out or pass "
            "--overwrite"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out {out}: cannot create it ({e.strerror})") from None
    from tunewise.rundir import atomic_write, write_json

    written = []
    for name, rows in result.kept.items():
        lines = []
        for ex in rows:
            row = {text_column: ex.text}
            if text_pair_column is not None:
                row[text_pair_column] = ex.text_pair
            if ex.label is not None:
                row[label_column] = ex.label
            lines.append(json.dumps(row, ensure_ascii=False) + "\n")
        atomic_write(out / f"{name}.jsonl", "".join(lines))
        written.append(out / f"{name}.jsonl")
    atomic_write(
        out / "dropped.jsonl",
        "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in result.dropped),
    )
    write_json(out / "dedupe.json", {"splits": result.summary(), "order": list(ORDER)})
    return written + [out / "dropped.jsonl", out / "dedupe.json"]
