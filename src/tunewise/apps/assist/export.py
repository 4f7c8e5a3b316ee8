"""`tunewise assist export`: logged turns as labeled data for the next training round.

Each turn becomes ``text`` (the masked message) and ``label`` (the predicted intent where the
assistant acted on it); handed-off and abstained turns have an empty label and
``needs_label`` set: a person labels them (an intent, or the out-of-scope label) and the file
trains the next classifier with ``tunewise train --train``."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from tunewise.errors import UserError

COLUMNS = [
    "text",
    "label",
    "needs_label",
    "predicted_intent",
    "confidence",
    "abstained",
    "decision",
    "handoff",
    "reason",
    "faq_id",
    "faq_score",
    "session_id",
    "turn",
    "at",
]


def rows_of(turns: list[dict]) -> list[dict]:
    out = []
    for t in turns:
        needs = bool(t["handoff"] or t["abstained"] or t["conversation_handed_off"])
        out.append(
            {
                "text": t["message"],
                "label": "" if needs else (t["intent"] or ""),
                "needs_label": "yes" if needs else "",
                "predicted_intent": t["intent"] or "",
                "confidence": t["confidence"],
                "abstained": bool(t["abstained"]),
                "decision": t["decision"],
                "handoff": bool(t["handoff"]),
                "reason": t["reason"] or "",
                "faq_id": t["faq_id"] or "",
                "faq_score": t["faq_score"],
                "session_id": t["conversation_id"],
                "turn": t["turn"],
                "at": t["at"],
            }
        )
    return out


def export_turns(store, out: Path) -> dict:
    """Write every logged turn to ``out`` (``.csv`` or ``.jsonl``); returns counts."""
    out = Path(out)
    kind = out.suffix.lower()
    if kind not in (".csv", ".jsonl"):
        raise UserError(f"--out {out}: write .csv or .jsonl")
    if out.is_dir():
        raise UserError(f"--out {out}: is a folder; give a file name")
    rows = rows_of(store.turns())
    if kind == ".csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
        text = buf.getvalue()
    else:
        text = "".join(json.dumps(r) + "\n" for r in rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    return {"turns": len(rows), "needs_label": sum(bool(r["needs_label"]) for r in rows)}
