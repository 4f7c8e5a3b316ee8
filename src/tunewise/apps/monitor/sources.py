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


def _open(path: Path):
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="strict")
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
    with _open(path) as f:
        lines = _lines(f, follow, poll, stop)
        header = None
        if fmt == "csv":
            delim = "\t" if ".tsv" in path.name.lower() else ","
            for line in lines:
                if line is None:
                    yield ("idle",)
                    continue
                header = next(csv.reader([line], delimiter=delim))
                break
            if header is None:
                return
        n = 0
        lineno = 1 if header is not None else 0
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
            if fmt == "jsonl":
                try:
                    rec = json.loads(line)
                except ValueError as e:
                    yield (
                        "bad",
                        f"not valid JSON ({e.msg} at column {e.colno})",
                        where,
                        line[:300],
                    )
                    continue
                yield ("rec", rec, where)
            else:
                row = next(csv.reader([line], delimiter=delim), [])
                if len(row) != len(header):
                    yield (
                        "bad",
                        f"row has {len(row)} fields, the header has {len(header)}",
                        where,
                        line[:300],
                    )
                    continue
                yield ("rec", dict(zip(header, row)), where)


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
