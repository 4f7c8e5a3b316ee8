"""`tunewise monitor evaluate`: did the alerts mean something?

Against prices (StockNet's ``prices.csv``: ticker, date, movement up/down/flat or ret): a
negative alert is a hit when the window's own last day (when it traded, else the next trading
day) moves down; positive alerts, up. That day's move is mostly what the window's posts react
to, so ``next_day`` scores the same alerts on the first trading day after the window: the move
an alert raised when its window closes precedes. Precision is the
share of hits, with a bootstrap interval over the alerts (``evaluation.stats``); the base
rate is the share of such moves among all days of the alerted entities; lift = precision /
base rate; a random-alert baseline draws as many (entity, day) pairs at random, many times.

On an injected burst (``--burst AAPL:2024-03-25:2024-03-26``): the detection delay (first
alert in the burst's direction from the burst's first day, in days) and false alarms per
entity-day outside the bursts (entity-days: the store's windows, or the alerts' entities
over the alerts' span).
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import json
import random
from pathlib import Path

from tunewise.errors import UserError, where


def read_alerts(path: Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--alerts {path}: no such file")
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            a = json.loads(line)
            a["entity"], a["direction"], a["window"]["start"], a["window"]["end"]
        except (ValueError, KeyError, TypeError):
            raise UserError(
                f"--alerts {where(path, i)}: not an alert written by tunewise monitor"
            ) from None
        out.append(a)
    return out


def read_prices(path: Path) -> dict[str, list[tuple[str, str]]]:
    """ticker -> [(date, up|down|flat)] in date order."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--prices {path}: no such file")
    out: dict[str, list] = {}
    with open(path, encoding="utf-8", newline="") as f:
        r = csv.DictReader(f)
        cols = r.fieldnames or []
        if not {"ticker", "date"} <= set(cols) or not ({"movement", "ret"} & set(cols)):
            raise UserError(f"--prices {path}: needs columns ticker, date and movement or ret")
        for i, row in enumerate(r, 2):
            mv = (row.get("movement") or "").strip().lower()
            if not mv and not (row.get("ret") or "").strip():
                continue  # a ticker's first day: no move known
            if not mv:
                try:
                    ret = float(row["ret"])
                except (TypeError, ValueError):
                    raise UserError(f"--prices {where(path, i, 'ret')}: not a number") from None
                mv = "up" if ret > 0.0055 else "down" if ret < -0.005 else "flat"
            out.setdefault(row["ticker"].strip().upper(), []).append((row["date"][:10], mv))
    for v in out.values():
        v.sort()
    return out


def _next_move(days: list[tuple[str, str]], day: str) -> tuple[str, str] | None:
    i = bisect.bisect_left(days, (day, ""))
    return days[i] if i < len(days) else None


def _day(iso: str) -> str:
    return iso[:10]


def _hits(alerts, prices, move, after: bool):
    """(hit per alert, (entity, day) matched) for the trading day each alert is scored on."""
    hits, matched = [], []
    for a in alerts:
        last = dt.date.fromisoformat(_day(a["window"]["end"])) - dt.timedelta(days=1)
        # ``after``: the first trading day after the window's last day (what an alert raised
        # when the window closes can still act on); else the last day itself when it traded
        # (mostly the same moves the window's posts react to), or the next one
        nxt = _next_move(prices[a["entity"]], (last + dt.timedelta(days=int(after))).isoformat())
        if nxt is None:
            continue
        hits.append(1.0 if nxt[1] == move else 0.0)
        matched.append((a["entity"], nxt[0]))
    return hits, matched


def _precision(hits, matched, prices, move, n_boot, seed) -> dict:
    from tunewise.evaluation.stats import bootstrap_mean

    ents = sorted({e for e, _ in matched})
    pool = [(e, d, m) for e in ents for d, m in prices[e]]
    base = sum(m == move for _, _, m in pool) / len(pool)
    rng = random.Random(seed)
    rand = [sum(rng.choice(pool)[2] == move for _ in hits) / len(hits) for _ in range(n_boot)]
    rand.sort()
    prec = sum(hits) / len(hits)
    lo, hi = bootstrap_mean(hits, n_boot=n_boot, seed=seed)
    return {
        "with_prices": len(hits),
        "hits": int(sum(hits)),
        "precision": round(prec, 4),
        "precision_ci": [round(lo, 4), round(hi, 4)],
        "base_rate": round(base, 4),
        "lift": round(prec / base, 4) if base else None,
        "lift_ci": [round(lo / base, 4), round(hi / base, 4)] if base else None,
        "random_alerts": {
            "precision_mean": round(sum(rand) / len(rand), 4),
            "precision_95": [
                round(rand[int(0.025 * len(rand))], 4),
                round(rand[int(0.975 * len(rand)) - 1], 4),
            ],
            "p_value": round((1 + sum(r >= prec for r in rand)) / (1 + len(rand)), 4),
        },
    }


def price_eval(alerts: list[dict], prices: dict, n_boot: int, seed: int) -> dict:
    """Per direction: precision on the window's own (last) trading day, and under
    ``next_day`` on the first trading day after the window (the move an alert precedes)."""
    out: dict = {}
    for direction, move in (("negative", "down"), ("positive", "up")):
        mine = [a for a in alerts if a["direction"] == direction and a["entity"] in prices]
        if not mine:
            continue
        hits, matched = _hits(mine, prices, move, after=False)
        if not hits:
            continue
        r = {"alerts": len(mine), **_precision(hits, matched, prices, move, n_boot, seed)}
        r["move"] = move
        hits, matched = _hits(mine, prices, move, after=True)
        r["next_day"] = _precision(hits, matched, prices, move, n_boot, seed) if hits else None
        out[direction] = r
    return out


def parse_burst(spec: str) -> tuple[str, str, str, str]:
    """``ENTITY:FIRST:LAST[:negative|positive]`` (days as YYYY-MM-DD)."""
    parts = spec.split(":")
    try:
        ent, first, last = parts[0].upper(), parts[1], parts[2]
        dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    except (IndexError, ValueError):
        raise UserError(
            f"--burst {spec!r}: give ENTITY:FIRST_DAY:LAST_DAY, e.g. AAPL:2024-03-25:2024-03-26"
        ) from None
    direction = parts[3] if len(parts) > 3 else "negative"
    if direction not in ("negative", "positive"):
        raise UserError(f"--burst {spec!r}: the direction is negative or positive")
    return ent, first, last, direction


def burst_eval(alerts: list[dict], bursts: list[str], db: str | None) -> dict:
    specs = [parse_burst(b) for b in bursts]

    def in_burst(a) -> bool:
        d = _day(a["window"]["start"])
        return any(a["entity"] == e and f <= d <= lst for e, f, lst, _ in specs)

    per = []
    for ent, first, last, direction in specs:
        hit = sorted(
            _day(a["window"]["start"])
            for a in alerts
            if a["entity"] == ent
            and a["direction"] == direction
            and first <= _day(a["window"]["start"]) <= last
        )
        delay = (dt.date.fromisoformat(hit[0]) - dt.date.fromisoformat(first)).days if hit else None
        per.append(
            {
                "entity": ent,
                "first": first,
                "last": last,
                "detected": bool(hit),
                "delay_days": delay,
            }
        )
    false = [a for a in alerts if not in_burst(a)]
    if db is not None:
        from tunewise.apps.monitor.store import Store

        s = Store(db, create=False)
        w = int(s.get_meta("window_s") or 86400)
        rows = s.all(
            "SELECT count(*) FROM (SELECT e.entity, (i.ts / :w) AS b FROM items i JOIN "
            "item_entities e ON e.item_id = i.id GROUP BY e.entity, (i.ts / :w)) t",
            w=w,
        )
        entity_days = int(rows[0][0]) * w / 86400
    else:
        days = sorted(_day(a["window"]["start"]) for a in alerts)
        span = (
            (dt.date.fromisoformat(days[-1]) - dt.date.fromisoformat(days[0])).days + 1
            if days
            else 0
        )
        entity_days = span * len({a["entity"] for a in alerts})
    burst_days = sum(
        (dt.date.fromisoformat(lst) - dt.date.fromisoformat(f)).days + 1 for _, f, lst, _ in specs
    )
    quiet = max(entity_days - burst_days, 0)
    return {
        "bursts": per,
        "false_alarms": len(false),
        "entity_days_outside_bursts": quiet,
        "false_alarms_per_entity_day": round(len(false) / quiet, 5) if quiet else None,
    }


def evaluate_alerts(alerts_path, prices_path, bursts, db, n_boot=2000, seed=0) -> dict:
    if prices_path is None and not bursts:
        raise UserError("give --prices FILE, --burst ENTITY:FIRST:LAST, or both")
    alerts = read_alerts(alerts_path)
    out: dict = {"alerts": len(alerts)}
    if prices_path is not None:
        out["prices"] = price_eval(alerts, read_prices(prices_path), n_boot, seed)
    if bursts:
        out["burst"] = burst_eval(alerts, bursts, db)
    return out


def format_result(res: dict) -> list[str]:
    lines = [f"{res['alerts']} alerts"]
    for d, r in (res.get("prices") or {}).items():
        lines.append(
            f"{d} alerts -> next day {r['move']}: precision {r['precision']:.2f} "
            f"[{r['precision_ci'][0]:.2f}, {r['precision_ci'][1]:.2f}] over {r['with_prices']} "
            f"alerts vs base rate {r['base_rate']:.2f} (lift {r['lift']}); random alerts "
            f"{r['random_alerts']['precision_mean']:.2f}, p = {r['random_alerts']['p_value']}"
        )
        n = r.get("next_day")
        if n:
            lines.append(
                f"  the trading day after the window: precision {n['precision']:.2f} "
                f"[{n['precision_ci'][0]:.2f}, {n['precision_ci'][1]:.2f}] vs base rate "
                f"{n['base_rate']:.2f} (lift {n['lift']}); random alerts "
                f"{n['random_alerts']['precision_mean']:.2f}, p = {n['random_alerts']['p_value']}"
            )
    if "burst" in res:
        b = res["burst"]
        for x in b["bursts"]:
            lines.append(
                f"burst {x['entity']} {x['first']}..{x['last']}: "
                + (f"detected after {x['delay_days']} days" if x["detected"] else "not detected")
            )
        lines.append(
            f"false alarms: {b['false_alarms']} over {b['entity_days_outside_bursts']:g} "
            f"entity-days ({b['false_alarms_per_entity_day']} per entity-day)"
        )
    return lines
