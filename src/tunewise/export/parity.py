"""Parity of an exported model with the run it came from, on a probe set.

The probe is the run's own test (else dev, else train) file when it is still readable, else
seeded random token sequences; the result (label agreement, largest |logit| difference) is
written into the export directory and into the run, and a failure stops the export.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from tunewise.errors import UserError
from tunewise.rundir import RunDir


class ParityError(UserError):
    """The exported model does not reproduce the run's outputs."""


def probe_examples(
    source: Path, tokenizer, n: int = 256, probe: Path | None = None, multi_label: bool = False
):
    """Up to ``n`` examples to compare an export with its source on, and where they came from:
    ``probe``, else the run's own dev split (saved in ``RUN/splits/dev.jsonl``), its dev or
    train file, else random words: never test (an int8 export picks its recipe on the probe,
    so the test split stays out of that choice)."""
    from tunewise.config import load_yaml
    from tunewise.data import Example, read_examples

    cfg = RunDir(source).config
    data = load_yaml(cfg).get("data", {}) if cfg.is_file() else {}
    if probe is not None and not Path(probe).is_file():
        raise UserError(f"{probe}: probe file not found")
    cols = {
        "text_column": data.get("text_column", "text"),
        "text_pair_column": data.get("text_pair_column"),
        "label_column": data.get("label_column", "label"),
        "label_sep": data.get("label_sep", "|"),
        "quoting": data.get("quoting", "auto"),
    }
    if probe is None:
        from tunewise.data.saved import load_split, split_path

        saved = load_split(source, "dev")  # the run's own dev rows, also when split off train
        if saved:
            where = split_path(source, "dev")
            return saved[:n], f"{where} (the run's dev split, first {min(n, len(saved))} rows)"
    for path in [probe] if probe is not None else [data.get(k) for k in ("dev", "train")]:
        if path and Path(path).is_file():
            try:
                exs = read_examples(path, require_label=False, multi_label=multi_label, **cols)
            except UserError:
                if probe is not None:
                    raise
                continue
            if exs:
                return exs[:n], f"{path} (first {min(n, len(exs))} rows)"
    rng = random.Random(0)
    vocab = [t for t in tokenizer.get_vocab() if t.isalpha() and len(t) > 2] or ["probe"]
    exs = [Example(" ".join(rng.choices(vocab, k=rng.randint(3, 30))), None) for _ in range(n)]
    return exs, "random words from the tokenizer vocabulary (seed 0)"


def probe_texts(source_dir: Path, predictor, n: int = 256, probe: Path | None = None):
    """Up to ``n`` raw inputs (texts, or prompts) to compare an export with its run on:
    ``probe``, else the run's dev, test or train file read by the run's own predictor, else
    random words from the tokenizer's vocabulary."""
    data = predictor.run.data_settings() if getattr(predictor, "run", None) else {}
    if probe is not None and not Path(probe).is_file():
        raise UserError(f"{probe}: probe file not found")
    for path in [probe] if probe is not None else [data.get(k) for k in ("dev", "test", "train")]:
        if path and Path(path).is_file():
            try:
                exs = predictor.read_inputs(Path(path))
            except UserError:
                if probe is not None:
                    raise
                continue
            texts = [_text_of(ex) for ex in exs[:n]]
            texts = [t for t in texts if t]
            if texts:
                return texts, f"{path} (first {len(texts)} rows)"
    rng = random.Random(0)
    vocab = [t for t in predictor.tokenizer.get_vocab() if t.isalpha() and len(t) > 2] or ["probe"]
    texts = [" ".join(rng.choices(vocab, k=rng.randint(3, 30))) for _ in range(min(n, 64))]
    return texts, "random words from the tokenizer vocabulary (seed 0)"


def _text_of(ex) -> str | None:
    if getattr(ex, "messages", None):  # a chat: its last user message
        users = [m["content"] for m in ex.messages if m["role"] == "user"]
        return users[-1] if users else None
    return ex.text


def compare(reference, exported, atol: float):
    """Agreement between two sets of outputs (``parity_outputs``: one row per input): the
    largest |difference|, and for rows of several scores the share whose argmax agrees."""
    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(exported, dtype=np.float64)
    if a.shape != b.shape:
        return {
            "ok": False,
            "rows": int(len(a)),
            "label_agreement": 0,
            "max_abs_logit_diff": float("inf"),
            "atol": atol,
            "message": f"outputs differ in shape: {a.shape} vs {b.shape}",
        }
    diff = float(np.abs(a - b).max()) if a.size else 0.0
    same = (
        a.argmax(axis=1) == b.argmax(axis=1)
        if a.ndim > 1 and a.shape[1] > 1
        else np.abs(a - b).reshape(len(a), -1).max(axis=1) <= atol
    )
    ok = bool(np.all(same)) and diff <= atol
    return {
        "ok": ok,
        "rows": int(len(a)),
        "label_agreement": int(np.sum(same)),
        "max_abs_logit_diff": diff,
        "atol": atol,
        "message": (
            f"{int(np.sum(same))}/{len(a)} predictions agree, largest |output| difference "
            f"{diff:.3g} (tolerance {atol:g})"
        ),
    }


def _flat(x, out: list) -> None:
    if isinstance(x, dict):
        for k in sorted(x):
            _flat(x[k], out)
    elif isinstance(x, list | tuple):
        for v in x:
            _flat(v, out)
    elif isinstance(x, bool) or not isinstance(x, int | float):
        out.append(str(x))
    else:
        out.append(float(x))


def compare_predictions(reference: list, exported: list, atol: float) -> dict:
    """Agreement between two predictors' answers (``predict`` output) on the same inputs, for a
    task without ``parity_outputs``: every string equal, every number within ``atol``."""
    same, diff = 0, 0.0
    for a, b in zip(reference, exported):
        fa, fb = [], []
        _flat(a, fa)
        _flat(b, fb)
        ok = len(fa) == len(fb)
        for x, y in zip(fa, fb):
            if isinstance(x, float) and isinstance(y, float):
                diff = max(diff, abs(x - y))
                ok = ok and abs(x - y) <= atol
            else:
                ok = ok and x == y
        same += ok
    n = len(reference)
    return {
        "ok": same == n and len(exported) == n,
        "rows": n,
        "label_agreement": same,
        "max_abs_logit_diff": diff,
        "atol": atol,
        "message": f"{same}/{n} predictions agree, largest |number| difference {diff:.3g} "
        f"(tolerance {atol:g})",
    }
