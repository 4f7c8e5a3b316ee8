"""Counts and sentiment shares per window, per entity, sector and overall, from the store.

Only first items count (a repeat is linked, not counted again). Shares are of argmax labels
with Wilson 95% intervals; the mean calibrated probabilities are given beside them.
"""

from __future__ import annotations

from tunewise.apps.monitor.items import iso
from tunewise.errors import UserError
from tunewise.evaluation.proportions import wilson

UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_window(value: str, flag: str = "--window") -> int:
    """Seconds of ``30m``, ``1h``, ``1d``, ``1w``."""
    v = value.strip().lower()
    try:
        n, unit = (int(v[:-1]), v[-1]) if v[-1:] in UNITS else (int(v), "s")
    except ValueError:
        n, unit = 0, "s"
    secs = n * UNITS.get(unit, 1)
    if secs < 60:
        raise UserError(f"{flag} {value!r}: give a length such as 30m, 1h or 1d")
    return secs


def _rows(store, window_s: int, scope: str, key: str | None, lo, hi):
    where = ["i.dup_of IS NULL"]
    params: dict = {"w": window_s}
    join = ""
    group = "NULL"
    if scope == "entity":
        join = "JOIN item_entities e ON e.item_id = i.id"
        group = "e.entity"
        if key is not None:
            where.append("e.entity = :k")
    elif scope == "sector":
        join = "JOIN item_entities e ON e.item_id = i.id JOIN entities t ON t.ticker = e.entity"
        group = "t.sector"
        if key is not None:
            where.append("t.sector = :k")
    if key is not None:
        params["k"] = key
    if lo is not None:
        where.append("i.ts >= :lo")
        params["lo"] = lo
    if hi is not None:
        where.append("i.ts < :hi")
        params["hi"] = hi
    sql = (
        f"SELECT {group} AS g, (i.ts / :w) * :w AS start, count(*), "
        "sum(CASE WHEN s.polarity = 'negative' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN s.polarity = 'positive' THEN 1 ELSE 0 END), sum(s.p_neg), sum(s.p_pos) "
        f"FROM items i JOIN scores s ON s.item_id = i.id {join} WHERE {' AND '.join(where)} "
        f"GROUP BY {group}, (i.ts / :w) * :w ORDER BY 2"
    )
    return store.all(sql, **params)


def point(group, start: int, window_s: int, n: int, neg: int, pos: int, sneg, spos) -> dict:
    n, neg, pos = int(n), int(neg or 0), int(pos or 0)
    return {
        "key": group,
        "start": iso(int(start)),
        "end": iso(int(start) + window_s),
        "t": int(start),
        "n": n,
        "negative": neg,
        "positive": pos,
        "neutral": n - neg - pos,
        "negative_share": round(neg / n, 4) if n else None,
        "negative_ci": [round(x, 4) for x in wilson(neg, n)],
        "positive_share": round(pos / n, 4) if n else None,
        "positive_ci": [round(x, 4) for x in wilson(pos, n)],
        "mean_p_negative": round(float(sneg or 0) / n, 4) if n else None,
        "mean_p_positive": round(float(spos or 0) / n, 4) if n else None,
    }


def series(store, window_s: int, scope: str = "overall", key=None, lo=None, hi=None) -> list:
    """Points in time order; ``scope`` is entity, sector or overall (``key`` narrows it)."""
    if scope not in ("entity", "sector", "overall"):
        raise UserError(f"scope {scope!r}: give entity, sector or overall")
    return [
        point(g, s, window_s, *rest) for g, s, *rest in _rows(store, window_s, scope, key, lo, hi)
    ]


def by_key(points: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for p in points:
        out.setdefault(p["key"], []).append(p)
    return out


def summary(store, window_s: int) -> dict:
    """Everything per entity, per sector and overall (for ``monitor run``'s last line and the
    dashboard)."""
    return {
        "window_s": window_s,
        "overall": series(store, window_s, "overall"),
        "entities": by_key(series(store, window_s, "entity")),
        "sectors": by_key(series(store, window_s, "sector")),
    }


def top_items(store, entity: str, lo: int, hi: int, polarity: str | None, n: int = 5) -> list:
    """The items behind a point: the most negative (or positive) first."""
    order = "s.p_pos" if polarity == "positive" else "s.p_neg"
    rows = store.all(
        "SELECT i.id, i.ts, i.source, i.text, s.label, s.p_neg, s.p_pos, i.copies FROM items i "
        "JOIN scores s ON s.item_id = i.id JOIN item_entities e ON e.item_id = i.id "
        f"WHERE e.entity = :e AND i.ts >= :lo AND i.ts < :hi ORDER BY {order} DESC, i.id LIMIT :n",
        e=entity,
        lo=lo,
        hi=hi,
        n=n,
    )
    return [
        {
            "id": r[0],
            "time": iso(int(r[1])),
            "source": r[2],
            "text": r[3],
            "label": r[4],
            "p_negative": round(float(r[5]), 4),
            "p_positive": round(float(r[6]), 4),
            "copies": int(r[7]),
        }
        for r in rows
    ]
