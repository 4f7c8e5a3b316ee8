"""The monitor loop: records -> checked items -> entities -> repeats -> scores -> store ->
closed windows -> alerts -> sinks.

Restarting resumes: a file's cursor (records taken) is stored with each batch, items already
in the store are skipped before scoring (none scored twice), the repeat finder is rebuilt
from the store, and windows already evaluated keep their verdict.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tunewise.apps.monitor.alerts import AlertRule, evaluate_window
from tunewise.apps.monitor.dedupe import RepeatFinder
from tunewise.apps.monitor.entities import EntityTable
from tunewise.apps.monitor.items import Columns, Item, Reject, parse_time, to_item
from tunewise.apps.monitor.sinks import deliver


@dataclass
class Stats:
    read: int = 0
    stored: int = 0
    scored: int = 0
    repeats: int = 0
    rejected: int = 0
    skipped: int = 0
    """Items the store already had (an earlier run took them)."""
    alerts: int = 0
    reasons: dict = field(default_factory=dict)


class Monitor:
    def __init__(
        self,
        store,
        scorer,
        window: int,
        rule: AlertRule | None = None,
        entities: EntityTable | None = None,
        cols: Columns | None = None,
        sinks: list | None = None,
        dedupe_window: int = 6 * 3600,
        near_threshold: float = 0.8,
        batch_size: int = 64,
        on_alert=None,
        live: bool = False,
        max_wait: float | None = None,
    ):
        """Args:
        batch_size: items gathered before they are scored (one predictor call, whose own
            length-sorted batches are the model's) and stored (one transaction); a replay
            wants thousands (the model is several times faster in large calls), a live source
            a few, and the batch also goes whenever the source is idle.
        live: the items arrive as they happen, so the wall clock also closes windows
            (a replay closes them by the items' own times only).
        max_wait: seconds the oldest waiting item may wait before its batch goes, even
            unfilled (a live source that trickles items); None: no limit.
        """
        self.store, self.scorer, self.window = store, scorer, window
        self.rule = rule or AlertRule()
        self.entities = entities or EntityTable()
        self.cols = cols or Columns()
        self.sinks = sinks or []
        self.batch_size = batch_size
        self.max_wait = max_wait
        self._oldest: float | None = None
        """When the oldest item of the batch was taken (time.monotonic)."""
        self.on_alert = on_alert
        self.live = live
        self.stats = Stats()
        self.pending: list[Item] = []
        self.rejects: list[Reject] = []
        self.cursor: tuple[str, int] | None = None
        self.finder = RepeatFinder(dedupe_window, near_threshold)
        self.watermark = store.max_ts()
        self.done = store.windows_done(window)
        if self.watermark is not None:
            for iid, ts, text, ents in store.recent_firsts(self.watermark - dedupe_window):
                self.finder.check(iid, ts, text, ents)
        if self.entities.by_ticker:
            store.save_entities(self.entities)
        # alerts stored but not sent before a crash go out now
        self.stats.alerts += deliver(store, self.sinks, store.undelivered())

    def item_time(self, rec) -> int | None:
        if not isinstance(rec, dict):
            return None
        for k in [self.cols.time] if self.cols.time else ["time", "ts", "ts_utc", "timestamp"]:
            if k and k in rec:
                return parse_time(rec[k])
        return None

    # -- one record ---------------------------------------------------------------------
    def add(self, event: tuple, source: str, count_for: str | None = None) -> None:
        """Take one source event; ``count_for`` names the source whose cursor it advances."""
        kind = event[0]
        if kind == "idle":
            self.flush()
            self.close_windows(now=int(time.time()) if self.live else None)
            return
        self.stats.read += 1
        if count_for is not None:
            self.cursor = (count_for, (self.cursor[1] if self.cursor else 0) + 1)
        if kind == "bad":
            self._reject(Reject(source, event[2], event[1], event[3] if len(event) > 3 else ""))
        else:
            got = to_item(event[1], source, event[2], self.cols)
            if isinstance(got, Reject):
                self._reject(got)
            else:
                if not self.pending:
                    self._oldest = time.monotonic()
                self.pending.append(got)
        if len(self.pending) >= self.batch_size or (
            self.max_wait is not None
            and self._oldest is not None
            and self.pending
            and time.monotonic() - self._oldest >= self.max_wait
        ):
            self.flush()

    def _reject(self, r: Reject) -> None:
        self.rejects.append(r)
        self.stats.rejected += 1
        self.stats.reasons[r.reason.split(" (")[0]] = (
            self.stats.reasons.get(r.reason.split(" (")[0], 0) + 1
        )

    # -- a batch ------------------------------------------------------------------------
    def flush(self) -> None:
        if not self.pending and not self.rejects and self.cursor is None:
            return
        items, self.pending = self.pending, []
        self._oldest = None
        rejects, self.rejects = self.rejects, []
        have = self.store.existing([it.id for it in items])
        fresh, seen = [], {}
        more: list[tuple[str, str]] = []
        for it in items:
            if it.id in have or it.id in seen:
                # one item listed again under another entity (StockNet: a row per ticker)
                # adds that entity; a record taken by an earlier run is not scored again
                first = seen.get(it.id)
                for e in it.entities:
                    if first is not None and e not in first.entities:
                        first.entities.append(e)
                    elif first is None:
                        more.append((it.id, e))
                if first is None:
                    self.stats.skipped += 1
                continue
            it.entities = self.entities.find(it.text, it.entities)
            seen[it.id] = it
            fresh.append(it)
        dups = {}
        for it in fresh:
            hit = self.finder.check(it.id, it.ts, it.text, it.entities)
            if hit is not None:
                dups[it.id] = hit
        to_score = [it for it in fresh if it.id not in dups]
        scores = dict(
            zip((it.id for it in to_score), self.scorer.score([it.text for it in to_score]))
        )
        self.store.write_batch(
            fresh,
            scores,
            dups,
            rejects,
            self.cursor,
            (self.scorer.run_id, self.scorer.version),
            {"window_s": self.window},
            more,
        )
        self.stats.stored += len(fresh)
        self.stats.scored += len(scores)
        self.stats.repeats += len(dups)
        for it in fresh:
            self.watermark = it.ts if self.watermark is None else max(self.watermark, it.ts)
        self.close_windows()

    def close_windows(self, now: int | None = None, final: bool = False) -> list[dict]:
        """Evaluate every window that ended (by the items' own times, or ``now`` on a live
        source; ``final``: the input ended, so its last window is complete too)."""
        if self.watermark is None:
            return []
        w = self.window
        cur = (self.watermark // w) * w
        upto = cur + w if final else cur
        if now is not None and not final:
            upto = max(upto, (now // w) * w)
        first = self._first_open(upto)
        if first >= upto:
            return []
        # only windows that hold items (a live clock far past old items skips the gap)
        starts = sorted(
            int(r[0])
            for r in self.store.all(
                "SELECT DISTINCT (ts / :w) * :w FROM items WHERE ts >= :lo AND ts < :hi",
                w=w,
                lo=first,
                hi=upto,
            )
        )
        new = []
        for start in starts:
            if start in self.done:
                continue
            alerts = evaluate_window(
                self.store, self.rule, w, start, (self.scorer.run_id, self.scorer.version)
            )
            new += self.store.close_window(w, start, alerts)
            self.done.add(start)
        if new:
            self.stats.alerts += deliver(self.store, self.sinks, new)
            if self.on_alert is not None:
                for a in new:
                    self.on_alert(a)
        return new

    def _first_open(self, upto: int) -> int:
        w = self.window
        if self.done:
            return max(self.done) + w
        row = self.store.one("SELECT min(ts) FROM items")
        lo = int(row[0]) if row and row[0] is not None else upto
        return (lo // w) * w

    def finish(self) -> Stats:
        self.flush()
        self.close_windows(final=True)
        return self.stats
