"""One monitored item (id, time, source, text, entities) and the checks every record passes.

A record that fails a check is never dropped silently: it becomes a :class:`Reject` with the
reason and where it came from, which the store counts and keeps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

MAX_TEXT = 10_000
"""Characters; longer texts are rejected (a pasted page, not a headline)."""

TIME_KEYS = ("time", "ts", "ts_utc", "timestamp", "published", "created_at", "date")
TEXT_KEYS = ("text", "title", "headline", "body", "tweet")
ID_KEYS = ("id", "tweet_id", "guid")


@dataclass
class Item:
    id: str
    ts: int
    """Seconds since the epoch, UTC."""
    source: str
    text: str
    entities: list[str] = field(default_factory=list)
    """Entities the record itself names (an entity column); the extractor adds the rest."""


@dataclass
class Reject:
    source: str
    where: str
    reason: str
    raw: str = ""


def parse_time(value) -> int | None:
    """Epoch seconds of an ISO-8601 string (naive = UTC), a date, or epoch seconds/ms."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        v = float(value)
        return int(v / 1000 if v > 1e11 else v)
    s = str(value).strip()
    try:
        v = float(s)
        return int(v / 1000 if v > 1e11 else v)
    except ValueError:
        pass
    try:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            t = parsedate_to_datetime(s)  # RSS pubDate
        except (TypeError, ValueError, IndexError):
            return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return int(t.timestamp())


def iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pick(rec: dict, given: str | None, keys: tuple[str, ...]):
    if given is not None:
        return given, rec.get(given)
    for k in keys:
        if k in rec:
            return k, rec[k]
    return None, None


@dataclass
class Columns:
    """Which fields of a record hold what (None: the usual names are tried)."""

    text: str | None = None
    time: str | None = None
    id: str | None = None
    entity: str | None = None
    require_time: bool = False
    """Replays need every item's own time; live sources stamp arrival time when absent."""


def to_item(rec, source: str, where: str, cols: Columns, now: int | None = None):
    """An :class:`Item`, or a :class:`Reject` that says what is wrong with ``rec``."""
    raw = str(rec)[:300]
    if not isinstance(rec, dict):
        return Reject(source, where, "not an object (expected a JSON object or a CSV row)", raw)
    tkey, text = _pick(rec, cols.text, TEXT_KEYS)
    if tkey is None or text is None:
        return Reject(source, where, f"no text field ({cols.text or '/'.join(TEXT_KEYS)})", raw)
    if not isinstance(text, str):
        return Reject(source, where, f"field {tkey!r} is not a string", raw)
    text = text.strip()
    if not text:
        return Reject(source, where, f"field {tkey!r} is empty", raw)
    if len(text) > MAX_TEXT:
        return Reject(source, where, f"text longer than {MAX_TEXT} characters", raw)
    if "\x00" in text:
        return Reject(source, where, "text contains a NUL character", raw)
    key, value = _pick(rec, cols.time, TIME_KEYS)
    if value is None or value == "":
        if cols.require_time:
            return Reject(source, where, f"no time ({cols.time or '/'.join(TIME_KEYS)})", raw)
        ts = int(now if now is not None else dt.datetime.now(dt.UTC).timestamp())
    else:
        ts = parse_time(value)
        if ts is None:
            return Reject(source, where, f"time {str(value)[:40]!r} in {key!r} is not a date", raw)
    _, rid = _pick(rec, cols.id, ID_KEYS)
    if rid is None or str(rid).strip() == "":
        # a stable id: the same record read again (a restart) gets the same one
        rid = hashlib.sha1(f"{source}\x1f{where}\x1f{ts}\x1f{text}".encode()).hexdigest()[:20]
    entities: list[str] = []
    if cols.entity is not None:
        ev = rec.get(cols.entity)
        if isinstance(ev, list):
            entities = [str(e).strip().upper() for e in ev if str(e).strip()]
        elif ev is not None and str(ev).strip():
            entities = [
                e.strip().upper() for e in str(ev).replace(";", ",").split(",") if e.strip()
            ]
    return Item(str(rid)[:200], ts, source, text, entities)
