"""Where items come from: JSONL/CSV(.gz) files (read once, followed as they grow, or replayed
by their timestamps), stdin, and RSS/Atom feeds polled with feedparser.

A source yields events: ``("rec", record, where)`` for a parsed record, ``("bad", reason,
where, raw)`` for a line that is not a record, and ``("idle",)`` when nothing new is there yet
(the pipeline flushes its batch and closes finished windows then).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from tunewise.errors import UserError

FORMATS = (".jsonl", ".ndjson", ".json", ".csv", ".tsv")


def _format(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    for ext in FORMATS:
        if name.endswith(ext):
            return "csv" if ext in (".csv", ".tsv") else "jsonl"
    raise UserError(f"{path}: unknown format; give a .jsonl, .csv or .tsv file (optionally .gz)")


def _open(path: Path, csv_newlines: bool = False):
    """``csv_newlines``: keep line ends as they are (a quoted CSV field may hold a newline)."""
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(
            gzip.open(path, "rb"),
            encoding="utf-8",
            errors="strict",
            newline="" if csv_newlines else None,
        )
    return open(path, encoding="utf-8", errors="strict", newline="")


def _lines(f, follow: bool, poll: float, stop) -> Iterator[str | None]:
    """Complete lines of ``f``; with ``follow``, None whenever the end is reached for now."""
    part = ""
    while True:
        try:
            chunk = f.readline()
        except UnicodeDecodeError as e:
            raise UserError(f"{getattr(f, 'name', 'input')}: not UTF-8 text ({e.reason})") from None
        if chunk:
            part += chunk
            if part.endswith("\n") or not follow:
                yield part
                part = ""
            continue
        if not follow or (stop is not None and stop()):
            if part:
                yield part
            return
        yield None
        time.sleep(poll)


MAX_RECORD_LINES = 100
"""A CSV record whose quoted field is still open after this many lines is malformed."""


def _csv_parse(text: str, delim: str, width: int) -> tuple[list | None, str]:
    """(the one row ``text`` holds, "") or (None, why not)."""
    try:
        rows = [
            r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True) if r
        ]
    except csv.Error as e:
        return None, f"not valid CSV ({e})"
    if len(rows) != 1:
        return None, f"{len(rows)} rows where one record was expected"
    if len(rows[0]) != width:
        return None, f"row has {len(rows[0])} fields, the header has {width}"
    return rows[0], ""


def _csv_records(lines, delim: str, width: int, lineno: int) -> Iterator[tuple | None]:
    """CSV records of ``lines``: ``(first line number, row or None, why, raw)``; None while a
    followed file has nothing more yet.

    A quoted field may hold newlines (a tweet's text): lines are joined while the record's
    quotes are unbalanced and the whole is read by the csv module. When the joined lines are
    not one record of the header's width, the first line alone is taken (a stray quote in an
    unquoted field is a literal character) or rejected, and the lines after it are read again,
    so one malformed line never takes good records down with it.
    """
    it = iter(lines)
    back: deque = deque()

    def take():
        nonlocal lineno
        if back:
            return back.popleft()
        line = next(it)  # StopIteration: the input ended
        if line is None:
            return None
        lineno += 1
        return lineno, line

    while True:
        try:
            got = take()
        except StopIteration:
            return
        if got is None:
            yield None
            continue
        if not got[1].strip():
            continue
        buf = [got]
        quotes = got[1].count('"')
        while quotes % 2 and len(buf) < MAX_RECORD_LINES:
            try:
                more = take()
            except StopIteration:
                break
            if more is None:
                yield None
                continue
            buf.append(more)
            quotes += more[1].count('"')
        raw = "".join(line for _, line in buf)
        # a quote still open at the end of the input (or after MAX_RECORD_LINES) ends no record
        row, why = _csv_parse(raw, delim, width) if quotes % 2 == 0 else (None, "")
        if row is None and len(buf) > 1:
            back.extendleft(reversed(buf[1:]))  # read again after the first line
            raw = buf[0][1]
            row, why = _csv_parse(raw, delim, width)
            if row is None and raw.count('"') % 2:
                why = f"a quoted field is never closed ({why})"
        yield buf[0][0], row, why, raw


def read_file(
    path: Path, follow: bool = False, poll: float = 0.5, skip: int = 0, stop=None
) -> Iterator[tuple]:
    """Events of a JSONL or CSV file (``skip``: records already taken by an earlier run)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(
            p
            for p in path.iterdir()
            if p.is_file() and p.name.lower().removesuffix(".gz").endswith(FORMATS)
        )
        if not files:
            raise UserError(f"{path}: no .jsonl, .csv or .tsv files (optionally .gz) in it")
        for p in files:
            yield from read_file(p, False, poll, 0, stop)
        return
    if not path.exists():
        raise UserError(f"{path}: no such file")
    fmt = _format(path)
    src = path.name
    with _open(path, csv_newlines=fmt == "csv") as f:
        lines = _lines(f, follow, poll, stop)
        if fmt == "csv":
            delim = "\t" if ".tsv" in path.name.lower() else ","
            header = None
            for line in lines:
                if line is None:
                    yield ("idle",)
                    continue
                header = next(csv.reader([line], delimiter=delim))
                break
            if header is None:
                return
            n = 0
            for rec in _csv_records(lines, delim, len(header), 1):
                if rec is None:
                    yield ("idle",)
                    continue
                n += 1
                if n <= skip:
                    continue
                lineno, row, why, raw = rec
                where = f"{src} line {lineno}"
                if row is None:
                    yield ("bad", why, where, raw[:300])
                else:
                    yield ("rec", dict(zip(header, row)), where)
            return
        n = 0
        lineno = 0
        for line in lines:
            if line is None:
                yield ("idle",)
                continue
            lineno += 1
            if not line.strip():
                continue
            n += 1
            if n <= skip:
                continue
            where = f"{src} line {lineno}"
            try:
                rec = json.loads(line)
            except ValueError as e:
                yield ("bad", f"not valid JSON ({e.msg} at column {e.colno})", where, line[:300])
                continue
            yield ("rec", rec, where)


def read_stdin(stream=None) -> Iterator[tuple]:
    """JSONL on stdin (one object a line); a line that is not JSON is taken as a bare text."""
    stream = stream or sys.stdin
    for lineno, line in enumerate(stream, 1):
        if not line.strip():
            continue
        s = line.strip()
        if s.startswith("{"):
            try:
                yield ("rec", json.loads(s), f"stdin line {lineno}")
            except ValueError as e:
                yield ("bad", f"not valid JSON ({e.msg})", f"stdin line {lineno}", s[:300])
        else:
            yield ("rec", {"text": s}, f"stdin line {lineno}")
    yield ("idle",)


def read_feed(url: str, poll: float = 60.0, once: bool = False, stop=None) -> Iterator[tuple]:
    """Entries of an RSS/Atom feed, polled every ``poll`` seconds; each entry once."""
    import feedparser

    seen: set[str] = set()
    while True:
        parsed = feedparser.parse(url)
        status = getattr(parsed, "status", 200)
        if parsed.bozo and not parsed.entries:
            why = getattr(parsed, "bozo_exception", "unreadable")
            yield ("bad", f"feed {url} unreadable ({str(why)[:120]})", f"{url} poll", "")
        elif status >= 400:
            yield ("bad", f"feed {url} answered HTTP {status}", f"{url} poll", "")
        for e in parsed.entries:
            guid = e.get("id") or e.get("link") or e.get("title")
            if not guid or guid in seen:
                continue
            seen.add(guid)
            rec = {
                "id": guid,
                "text": (e.get("title") or "").strip(),
                "time": e.get("published") or e.get("updated") or "",
            }
            yield ("rec", rec, f"{url} entry {guid}"[:200])
        yield ("idle",)
        if once or (stop is not None and stop()):
            return
        time.sleep(poll)


def paced(events: Iterator[tuple], items_time, speed: float | None) -> Iterator[tuple]:
    """Replay: hold each record back until its own time, ``speed`` times faster than real
    time (None: as fast as possible). Before waiting, an ``("idle",)`` lets the batch go."""
    if speed is None:
        yield from events
        return
    t0 = w0 = None
    for ev in events:
        if ev[0] == "rec":
            ts = items_time(ev[1])
            if ts is not None:
                if t0 is None:
                    t0, w0 = ts, time.monotonic()
                wait = w0 + (ts - t0) / speed - time.monotonic()
                if wait > 0.001:
                    yield ("idle",)
                    time.sleep(wait)
        yield ev
    yield ("idle",)


def parse_speed(value: str) -> float | None:
    """``max`` -> None (no waiting), ``1`` real time, ``N`` N times faster."""
    if value.strip().lower() == "max":
        return None
    try:
        v = float(value)
    except ValueError:
        v = -1
    if not v > 0:
        raise UserError(f"--speed {value!r}: give 1 (real time), a factor like 60, or max")
    return v
