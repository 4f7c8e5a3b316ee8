"""Replay memory: a class-balanced, seeded sample of earlier training rows, its size a number
of rows (``200``) or a share of the earlier rows (``2%``), saved with the run as JSONL."""

from __future__ import annotations

import json
import random
from pathlib import Path

from tunewise.data.examples import Example
from tunewise.errors import UserError
from tunewise.rundir import atomic_write

DEFAULT_REPLAY = "20%"
# the share of each epoch's training rows that come from the memory (its rows repeated): a
# memory appended once is a few percent of the rows and the new task's classes take over every
# input (AG News after Yelp, a 2% memory of 18 rows appended: AG News accuracy 0.000 with the
# task not given); experience replay mixes memory into every step (Chaudhry et al. 2019, "On
# tiny episodic memories": even one row per class kept, replayed in each batch, helps)
DEFAULT_MIX = 0.5  # as in ER: a memory batch beside each new batch


def check_mix(mix) -> float:
    m = DEFAULT_MIX if mix is None else float(mix)
    if not 0 <= m < 1:
        raise UserError(f"--replay-mix {mix}: a share of the training rows, from 0 up to (not) 1")
    return m


def mixed(own: list, memory: list, mix: float) -> tuple[list, int]:
    """The memory repeated a whole number of times (at least once) so that it makes up about
    ``mix`` of the rows beside ``own``; returns (the repeated memory, times)."""
    if not memory:
        return [], 0
    want = mix / (1 - mix) * len(own) if mix > 0 else 0
    times = max(1, round(want / len(memory)))
    return list(memory) * times, times


def parse_size(spec: str | int | None) -> tuple[str, float]:
    """``"2%"`` -> ("share", 0.02); ``"200"`` -> ("rows", 200). One line when neither."""
    s = str(DEFAULT_REPLAY if spec is None else spec).strip()
    try:
        if s.endswith("%"):
            share = float(s[:-1]) / 100
            if not 0 < share <= 1:
                raise ValueError
            return "share", share
        rows = int(s)
        if rows < 1:
            raise ValueError
        return "rows", float(rows)
    except ValueError:
        raise UserError(
            f"--replay {s!r}: give a number of rows (200) or a share of the earlier "
            "training rows (2%), between 1 row and 100%"
        ) from None


def budget(spec, earlier_rows: int) -> int:
    """How many rows the memory holds for ``earlier_rows`` earlier training rows."""
    kind, value = parse_size(spec)
    n = round(value * earlier_rows) if kind == "share" else int(value)
    return max(1, min(n, earlier_rows))


def balanced_sample(rows: list, n: int, seed: int, label=lambda r: r.label) -> list:
    """``n`` rows with the classes as equal as the data allows (round robin over classes,
    each class shuffled with ``seed``); order: class by class in turn."""
    by_class: dict = {}
    for r in rows:
        by_class.setdefault(label(r), []).append(r)
    rng = random.Random(seed)
    pools = []
    for key in sorted(by_class):
        items = list(by_class[key])
        rng.shuffle(items)
        pools.append(items)
    out: list = []
    depth = 0
    while len(out) < min(n, len(rows)):
        for p in pools:
            if depth < len(p) and len(out) < n:
                out.append(p[depth])
        depth += 1
    return out


def save_memory(path: Path, rows: list[Example]) -> None:
    lines = [
        json.dumps({"text": r.text, "text_pair": r.text_pair, "label": r.label, "where": r.where})
        for r in rows
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "\n".join(lines) + ("\n" if lines else ""))


def load_memory(path: Path) -> list[Example]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            out.append(Example(d["text"], d["label"], d.get("text_pair"), d.get("where", "")))
    return out
