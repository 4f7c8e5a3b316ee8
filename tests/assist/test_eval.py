"""`assist eval`: labeled messages replayed in their sessions; intent accuracy, OOS recall and
precision, FAQ Recall@1, handoff rate and latency with bootstrap intervals; bad files are one
line naming the line."""

from __future__ import annotations

import json

import pytest

from tests.assist.conftest import FAQ_Q, IN_SCOPE, OUT_OF_SCOPE, make_assistant
from tunewise.apps.assist.evaluate import evaluate, read_conversations, table
from tunewise.errors import UserError

ROWS = [
    {"message": IN_SCOPE, "intent": "card_arrival", "faq_id": "faq-arrival"},
    {"message": "what is my limit", "intent": "card_limit"},
    {"message": "what is my limit", "intent": "card_arrival"},  # wrong intent
    {"message": FAQ_Q, "intent": "oos", "faq_id": "faq-ivr"},
    {"message": OUT_OF_SCOPE, "intent": "oos", "session_id": "s"},
    {"message": "my card was stolen", "intent": "lost_or_stolen_card", "session_id": "s"},
]


def _write(tmp_path, rows):
    p = tmp_path / "conv.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def test_metrics_are_what_the_replayed_answers_say(tmp_path):
    res = evaluate(make_assistant(), read_conversations(_write(tmp_path, ROWS)))
    m = res["metrics"]
    assert res["n"] == 6 and res["n_oos"] == 2 and res["n_with_faq"] == 2
    assert m["intent_accuracy"]["value"] == pytest.approx(3 / 4)  # the wrong label counts
    assert m["intent_accuracy"]["n"] == 4
    assert m["oos_recall"]["value"] == 1.0 and m["oos_precision"]["value"] == 1.0
    assert m["faq_recall_at_1"]["value"] == 1.0
    # the stolen-card message shares session s with the handed-off lasagna question
    assert m["handoff_rate"]["value"] == pytest.approx(2 / 6)
    assert res["rows"][5]["decision"] == "handoff"
    lo, hi = m["intent_accuracy"]["ci"]
    assert 0 <= lo <= 0.75 <= hi <= 1
    assert m["latency_p50_ms"]["value"] <= m["latency_p95_ms"]["value"]
    assert len(m["latency_p95_ms"]["ci"]) == 2
    out = table(res)
    assert "intent accuracy (in-scope)" in out and "0.750" in out and "FAQ Recall@1" in out


@pytest.mark.parametrize(
    "text, problem",
    [
        ('{"message": "hi"}\n', "line 1: needs an 'intent'"),
        ('{"intent": "oos"}\n', "line 1: needs a non-empty 'message'"),
        ('{"message": "a", "intent": "oos"}\nnot json\n', "line 2: not valid JSON"),
        ("\n", "no messages"),
    ],
)
def test_bad_conversation_files(tmp_path, text, problem):
    p = tmp_path / "c.jsonl"
    p.write_text(text)
    with pytest.raises(UserError, match=problem):
        read_conversations(p)


def test_unknown_intents_are_refused(tmp_path):
    rows = read_conversations(_write(tmp_path, [{"message": "x", "intent": "card_arival"}]))
    with pytest.raises(UserError, match="does not know: card_arival"):
        evaluate(make_assistant(), rows)
