"""Splits a run keeps for later steps (``RUN/splits/dev.jsonl``).

When dev is split off train, no file holds it; a later step that must stay off test (the int8
export's recipe choice, calibration checks) reads the run's own dev rows from here.
"""

from __future__ import annotations

import json
from pathlib import Path

SPLITS_DIR = "splits"


def split_path(run: Path, name: str) -> Path:
    return Path(run) / SPLITS_DIR / f"{name}.jsonl"


def save_split(run: Path, name: str, examples) -> Path | None:
    """Write ``examples`` (text, text_pair, label, where) as ``RUN/splits/<name>.jsonl``."""
    if not examples:
        return None
    from tunewise.rundir import atomic_write

    path = split_path(run, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for ex in examples:
        row = {"text": ex.text}
        if ex.text_pair is not None:
            row["text_pair"] = ex.text_pair
        row["label"] = ex.label
        row["where"] = ex.where
        lines.append(json.dumps(row, ensure_ascii=False) + "\n")
    atomic_write(path, "".join(lines))
    return path


def load_split(run: Path, name: str):
    """The examples saved by :func:`save_split`, or None when the run has none."""
    from tunewise.data.examples import Example

    path = split_path(run, name)
    if not path.is_file():
        return None
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out.append(Example(r["text"], r.get("label"), r.get("text_pair"), r.get("where", "")))
    return out
