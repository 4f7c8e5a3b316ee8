"""`tunewise assist eval`: labeled messages replayed through the assistant (sessions kept),
scored as the customer meets it: intent accuracy, out-of-scope recall and precision, FAQ
Recall@1, handoff rate and latency, each with a percentile bootstrap interval over messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tunewise.errors import UserError, where
from tunewise.evaluation.stats import bootstrap_mean

FAQ_KEYS = ("faq_id", "expected_faq_id", "faq")
N_BOOT = 1000


def read_conversations(path: Path) -> list[dict]:
    """Rows of a JSONL file: ``message``, ``intent`` (a label or ``oos``), optional expected
    FAQ id (``faq_id``) and ``session_id``; one UserError naming the line on a bad row."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--data {path}: no such file")
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except ValueError as e:
            raise UserError(f"{where(path, i)}: not valid JSON ({e.msg})") from None
        if not isinstance(r, dict):
            raise UserError(f"{where(path, i)}: each line must be a JSON object")
        if not isinstance(r.get("message"), str) or not r["message"].strip():
            raise UserError(f"{where(path, i)}: needs a non-empty 'message' string")
        if not isinstance(r.get("intent"), str) or not r["intent"]:
            raise UserError(f"{where(path, i)}: needs an 'intent' (an intent name, or 'oos')")
        faq = next((r[k] for k in FAQ_KEYS if r.get(k) not in (None, "")), None)
        rows.append(
            {
                "message": r["message"],
                "intent": r["intent"],
                "faq_id": None if faq is None else str(faq),
                "session_id": str(r["session_id"]) if r.get("session_id") is not None else None,
                "line": i,
            }
        )
    if not rows:
        raise UserError(f"--data {path}: no messages")
    return rows


def _rate(values) -> dict:
    v = np.asarray(values, dtype=np.float64)
    if not len(v):
        return {"value": None, "ci": None, "n": 0}
    return {"value": float(v.mean()), "ci": bootstrap_mean(v, N_BOOT), "n": int(len(v))}


def _quantile(values, q: float) -> dict:
    v = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(0)
    draws = np.quantile(v[rng.integers(0, len(v), size=(N_BOOT, len(v)))], q, axis=1)
    return {
        "value": float(np.quantile(v, q)),
        "ci": [float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975))],
        "n": int(len(v)),
    }


def evaluate(assistant, rows: list[dict], oos_label: str = "oos") -> dict:
    """Replay ``rows`` (in order; rows sharing a ``session_id`` are one conversation)."""
    known = set(assistant.intents.labels)
    bad = sorted({r["intent"] for r in rows} - known - {oos_label})
    if bad:
        raise UserError(
            f"--data: intents the classifier does not know: {', '.join(bad[:10])} "
            f"(use {oos_label!r} for out-of-scope messages)"
        )
    outs = [
        assistant.answer(r["session_id"] or f"eval-{i}", r["message"]) for i, r in enumerate(rows)
    ]
    gold_oos = np.array([r["intent"] == oos_label for r in rows])
    said_oos = np.array([o["intent_abstained"] or o["intent"] == oos_label for o in outs])
    correct = np.array(
        [not s and o["intent"] == r["intent"] for r, o, s in zip(rows, outs, said_oos)]
    )
    faq_rows = [(r, o) for r, o in zip(rows, outs) if r["faq_id"] is not None]
    handoff = np.array([o["handoff"] for o in outs])
    latency = [o["latency_ms"] for o in outs]
    metrics = {
        "intent_accuracy": _rate(correct[~gold_oos]),
        "oos_recall": _rate(said_oos[gold_oos]),
        "oos_precision": _rate(gold_oos[said_oos]),
        "faq_recall_at_1": _rate([(o["faq"] or {}).get("id") == r["faq_id"] for r, o in faq_rows]),
        "handoff_rate": _rate(handoff),
        "latency_p50_ms": _quantile(latency, 0.5),
        "latency_p95_ms": _quantile(latency, 0.95),
    }
    decisions: dict[str, int] = {}
    for o in outs:
        decisions[o["decision"]] = decisions.get(o["decision"], 0) + 1
    return {
        "n": len(rows),
        "n_in_scope": int((~gold_oos).sum()),
        "n_oos": int(gold_oos.sum()),
        "n_with_faq": len(faq_rows),
        "metrics": metrics,
        "decisions": decisions,
        "ci_method": f"percentile bootstrap over messages, {N_BOOT} resamples, 95%",
        "rows": [
            {
                "line": r["line"],
                "intent": r["intent"],
                "predicted": oos_label if s else o["intent"],
                "faq_id": r["faq_id"],
                "predicted_faq": (o["faq"] or {}).get("id"),
                "decision": o["decision"],
                "handoff": o["handoff"],
            }
            for r, o, s in zip(rows, outs, said_oos)
        ],
    }


NAMES = {
    "intent_accuracy": "intent accuracy (in-scope)",
    "oos_recall": "out-of-scope recall",
    "oos_precision": "out-of-scope precision",
    "faq_recall_at_1": "FAQ Recall@1",
    "handoff_rate": "handoff rate",
    "latency_p50_ms": "latency p50 (ms)",
    "latency_p95_ms": "latency p95 (ms)",
}


def table(result: dict) -> str:
    """The metrics as a terminal table: value, 95% interval, messages counted."""
    lines = [f"{'metric':<28} {'value':>9}  {'95% interval':<19} {'n':>6}"]
    for key, name in NAMES.items():
        m = result["metrics"][key]
        if m["value"] is None:
            lines.append(f"{name:<28} {'-':>9}  {'(no messages)':<19} {0:>6}")
            continue
        fmt = "{:.1f}" if key.startswith("latency") else "{:.3f}"
        ci = f"[{fmt.format(m['ci'][0])}, {fmt.format(m['ci'][1])}]"
        lines.append(f"{name:<28} {fmt.format(m['value']):>9}  {ci:<19} {m['n']:>6}")
    d = ", ".join(f"{k} {v}" for k, v in sorted(result["decisions"].items()))
    lines.append(f"{result['n']} messages ({result['n_oos']} out of scope); decisions: {d}")
    return "\n".join(lines)
