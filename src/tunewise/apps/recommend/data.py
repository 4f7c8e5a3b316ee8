"""Reading a recommendation data set: interactions (user, item, time, rating or an implicit
event, an optional review text) and item texts rendered from a template over item columns,
with the doctor's checks of that data (items without text, users with too few interactions,
interactions with unknown items, duplicates, time order)."""

from __future__ import annotations

import string
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tunewise.data.readers import read_table
from tunewise.errors import UserError


@dataclass
class Interaction:
    user: str
    item: str
    time: float
    rating: float | None
    line: int
    review: str = ""

    @property
    def positive_key(self) -> tuple[str, str]:
        return (self.user, self.item)


@dataclass
class RecData:
    """What a recommender reads: the catalog (id -> text, title) and the interactions."""

    item_ids: list[str]
    texts: list[str]
    titles: list[str]
    interactions: list[Interaction]
    positives: list[Interaction]
    """The interactions that count as liked (rating >= min_rating, or every implicit event)."""
    settings: dict = field(default_factory=dict)
    doctor: dict = field(default_factory=dict)


def template_fields(template: str) -> list[str]:
    """The column names a ``{column}`` template reads (a malformed template is a UserError)."""
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        raise UserError(f"--item-text {template!r}: not a valid template ({e})") from None
    if not names:
        raise UserError(
            f"--item-text {template!r}: names no column; write e.g. '{{title}}. {{genres}}'"
        )
    if any(not n for n in names):
        raise UserError(f"--item-text {template!r}: every {{...}} must name a column")
    return names


def render(template: str, row: dict) -> str:
    """The template filled from ``row`` (missing values empty), with the separators an empty
    value leaves behind tidied away."""
    values = {k: "" if v is None else str(v).strip() for k, v in row.items()}
    text = template.format_map(values)
    parts = [p.strip() for p in text.split(". ")]
    return ". ".join(p for p in parts if p and p != ".").strip()


def _col(names: list[str], want: str, path: Path, flag: str) -> str:
    if want not in names:
        raise UserError(
            f"{path}: no column {want!r} ({flag}); the columns are: {', '.join(map(str, names))}"
        )
    return want


def _number(value, path: Path, line: int, column: str, time: bool = False) -> float:
    """A number; for the time column also an ISO date or date-time (as a POSIX timestamp)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        pass
    if time:
        from datetime import datetime

        try:
            return datetime.fromisoformat(str(value).strip()).timestamp()
        except ValueError:
            pass
    what = "a number or an ISO date" if time else "a number"
    raise UserError(f"{path} line {line}, column {column!r}: {value!r} is not {what}")


def read_items(path: Path, item_column: str, template: str, title_column: str | None):
    table = read_table(path)
    names = [str(c) for c in table.columns]
    _col(names, item_column, path, "--item-column")
    for name in template_fields(template):
        if name not in names:
            raise UserError(
                f"--item-text: {path} has no column {name!r}; the columns are: {', '.join(names)}"
            )
    title_col = title_column or ("title" if "title" in names else None)
    ids, texts, titles, seen, dup = [], [], [], set(), 0
    for line, row in table.rows:
        iid = str(row.get(item_column) or "").strip()
        if not iid:
            raise UserError(f"{path} line {line}: empty item id in column {item_column!r}")
        if iid in seen:
            dup += 1
            continue
        seen.add(iid)
        ids.append(iid)
        texts.append(render(template, row))
        titles.append(str(row.get(title_col) or "").strip() if title_col else "")
    return ids, texts, titles, dup


def read_data(
    interactions: Path,
    items: Path,
    *,
    user_column: str = "user_id",
    item_column: str = "item_id",
    time_column: str | None = "timestamp",
    rating_column: str | None = "rating",
    min_rating: float = 4.0,
    item_text: str = "{title}",
    title_column: str | None = None,
    review_column: str | None = None,
    min_user_positives: int = 3,
) -> RecData:
    """Read both files and run the data checks (raise UserError on what cannot be used)."""
    ids, texts, titles, dup_items = read_items(items, item_column, item_text, title_column)
    table = read_table(interactions)
    names = [str(c) for c in table.columns]
    ucol = _col(names, user_column, interactions, "--user-column")
    icol = _col(names, item_column, interactions, "--item-column")
    tcol = _col(names, time_column, interactions, "--time-column") if time_column else None
    rcol = rating_column if rating_column and rating_column in names else None
    if review_column:
        _col(names, review_column, interactions, "--review-column")
    if not table.rows:
        raise UserError(f"{interactions}: no interactions")
    known = set(ids)
    rows, unknown = [], []
    for n, (line, row) in enumerate(table.rows):
        user, item = str(row.get(ucol) or "").strip(), str(row.get(icol) or "").strip()
        if not user or not item:
            raise UserError(f"{interactions} line {line}: empty user or item id")
        t = _number(row.get(tcol), interactions, line, tcol, time=True) if tcol else float(n)
        r = _number(row.get(rcol), interactions, line, rcol) if rcol else None
        rev = str(row.get(review_column) or "").strip() if review_column else ""
        it = Interaction(user, item, t, r, line, rev)
        (rows if item in known else unknown).append(it)
    if not rows:
        raise UserError(
            f"{interactions}: no interaction names an item of {items} (column {icol!r}); "
            "check --item-column"
        )
    positives = [x for x in rows if x.rating is None or x.rating >= min_rating]
    if not positives:
        raise UserError(f"{interactions}: no rating reaches --min-rating {min_rating:g}")
    settings = {
        "interactions": str(interactions),
        "items": str(items),
        "user_column": ucol,
        "item_column": icol,
        "time_column": tcol,
        "rating_column": rcol,
        "feedback": "explicit ratings" if rcol else "implicit events",
        "min_rating": min_rating if rcol else None,
        "item_text": item_text,
        "review_column": review_column,
    }
    data = RecData(ids, texts, titles, rows, positives, settings)
    data.doctor = doctor(data, unknown, dup_items, table.rows, tcol, min_user_positives)
    return data


def doctor(data: RecData, unknown, dup_items: int, raw_rows, tcol, min_positives: int) -> dict:
    """The checks of a recommendation data set, each ``{"ok", "severity", "message", ...}``."""
    checks: dict = {}
    empty = [i for i, t in zip(data.item_ids, data.texts) if not t.strip()]
    checks["items_without_text"] = {
        "ok": not empty,
        "count": len(empty),
        "examples": empty[:5],
        "message": f"{len(empty)} of {len(data.item_ids)} items render to no text "
        "(named by their id instead)"
        if empty
        else f"every one of {len(data.item_ids)} items has text",
    }
    if dup_items:
        checks["duplicate_items"] = {
            "ok": False,
            "count": dup_items,
            "message": f"{dup_items} item rows repeat an item id (the first is kept)",
        }
    per_user = Counter(x.user for x in data.positives)
    users = {x.user for x in data.interactions}
    few = sorted(u for u in users if per_user.get(u, 0) < min_positives)
    checks["users_with_few_interactions"] = {
        "ok": not few,
        "count": len(few),
        "min_positives": min_positives,
        "examples": few[:5],
        "message": f"{len(few)} of {len(users)} users have fewer than {min_positives} liked "
        "items (trained on, not evaluated)"
        if few
        else f"every user has at least {min_positives} liked items",
    }
    checks["unknown_items"] = {
        "ok": not unknown,
        "count": len(unknown),
        "examples": [f"line {x.line}: item {x.item}" for x in unknown[:5]],
        "message": f"{len(unknown)} interactions name an item missing from the items file (dropped)"
        if unknown
        else "every interaction names a known item",
    }
    keys = Counter(x.positive_key for x in data.interactions)
    dups = sum(c - 1 for c in keys.values() if c > 1)
    checks["duplicate_interactions"] = {
        "ok": not dups,
        "count": dups,
        "message": f"{dups} interactions repeat a (user, item) pair (the earliest counts)"
        if dups
        else "no (user, item) pair repeats",
    }
    if tcol:
        times = [x.time for x in data.interactions]
        unsorted = sum(1 for a, b in zip(times, times[1:]) if b < a)
        checks["time_order"] = {
            "ok": True,
            "out_of_order_rows": unsorted,
            "span": [min(times), max(times)],
            "message": f"file not in time order ({unsorted} rows earlier than the row above): "
            "sorted by time before splitting"
            if unsorted
            else "rows already in time order",
        }
    else:
        checks["time_order"] = {
            "ok": False,
            "message": "no --time-column: file order stands in for time",
        }
    for c in checks.values():
        c.setdefault("severity", "warning")
    return checks


def print_doctor(checks: dict, echo) -> None:
    for name, c in checks.items():
        echo(f"  {'ok  ' if c['ok'] else 'warn'} {name}: {c['message']}")
