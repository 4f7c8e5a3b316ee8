"""`monitor evaluate`: precision and lift against price moves; delay and false alarms on a burst."""

from __future__ import annotations

import json
import random

import pytest

from tunewise.apps.monitor.evaluate import evaluate_alerts
from tunewise.errors import UserError
from tunewise.evaluation.proportions import share_greater, wilson


def _alert(ent, day, direction="negative"):
    return {
        "id": f"{ent}:{direction}:{day}",
        "entity": ent,
        "direction": direction,
        "window": {
            "start": f"{day}T00:00:00Z",
            "end": f"{day[:8]}{int(day[8:]) + 1:02d}T00:00:00Z",
        },
    }


def _prices(tmp_path, down_days):
    rows = ["ticker,date,movement"]
    for d in range(1, 29):
        day = f"2024-03-{d:02d}"
        rows.append(f"AAPL,{day},{'down' if day in down_days else 'up'}")
    p = tmp_path / "prices.csv"
    p.write_text("\n".join(rows) + "\n")
    return p


def test_alerts_before_down_days_have_lift_over_random(tmp_path):
    downs = {"2024-03-05", "2024-03-11", "2024-03-16", "2024-03-21", "2024-03-26"}
    alerts = tmp_path / "a.jsonl"
    # alerts on the day of each down move: every one is a hit (4 of 28 days are down)
    alerts.write_text("".join(json.dumps(_alert("AAPL", d)) + "\n" for d in sorted(downs)))
    res = evaluate_alerts(alerts, _prices(tmp_path, downs), [], None, n_boot=500)
    r = res["prices"]["negative"]
    assert r["precision"] == 1.0 and r["base_rate"] == round(5 / 28, 4)
    assert r["lift"] > 5 and r["random_alerts"]["precision_mean"] < 0.4
    assert r["random_alerts"]["p_value"] < 0.01
    # the same alerts scored on the trading day after each window: the moves they precede
    # (the day after each down day is up here), so no hit at all
    n = r["next_day"]
    assert n["with_prices"] == 5 and n["hits"] == 0 and n["precision"] == 0.0


def test_next_day_scores_the_move_an_alert_precedes(tmp_path):
    downs = {"2024-03-05", "2024-03-11", "2024-03-16", "2024-03-21", "2024-03-26"}
    alerts = tmp_path / "a.jsonl"
    # alerts the day before each down day: no hit on their own day, all on the next
    before = [f"2024-03-{int(d[8:]) - 1:02d}" for d in sorted(downs)]
    alerts.write_text("".join(json.dumps(_alert("AAPL", d)) + "\n" for d in before))
    r = evaluate_alerts(alerts, _prices(tmp_path, downs), [], None, n_boot=500)["prices"]
    assert r["negative"]["precision"] == 0.0
    n = r["negative"]["next_day"]
    assert n["precision"] == 1.0 and n["lift"] > 5 and n["random_alerts"]["p_value"] < 0.01


def test_burst_delay_and_false_alarms_per_entity_day(tmp_path):
    alerts = tmp_path / "a.jsonl"
    alerts.write_text(
        json.dumps(_alert("AAPL", "2024-03-26"))
        + "\n"
        + json.dumps(_alert("MSFT", "2024-03-10"))
        + "\n"
    )
    res = evaluate_alerts(alerts, None, ["AAPL:2024-03-25:2024-03-26"], None)
    b = res["burst"]
    assert b["bursts"][0]["detected"] and b["bursts"][0]["delay_days"] == 1
    assert b["false_alarms"] == 1 and b["false_alarms_per_entity_day"] > 0
    with pytest.raises(UserError, match="--burst"):
        evaluate_alerts(alerts, None, ["AAPL-2024"], None)
    with pytest.raises(UserError, match="give --prices"):
        evaluate_alerts(alerts, None, [], None)


def test_the_alert_test_keeps_its_false_alarm_rate_under_no_change():
    """Fisher's one-sided test at level a rejects at most a share a of null windows."""
    rng = random.Random(0)
    alpha, n = 0.05, 600
    rejected = 0
    for _ in range(n):
        k1 = sum(rng.random() < 0.3 for _ in range(20))
        k0 = sum(rng.random() < 0.3 for _ in range(140))
        rejected += share_greater(k1, 20, k0, 140) < alpha
    assert rejected / n <= alpha
    lo, hi = wilson(3, 20)
    assert lo == pytest.approx(0.0524, abs=1e-3) and hi == pytest.approx(0.3604, abs=1e-3)
