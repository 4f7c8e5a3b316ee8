"""What ``tunewise monitor run|replay|backfill`` do, as library calls the CLI makes."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from tunewise.apps.monitor.aggregate import parse_window
from tunewise.apps.monitor.alerts import MODES, AlertRule
from tunewise.apps.monitor.items import Columns
from tunewise.errors import UserError


@dataclass
class MonitorOptions:
    model: Path
    source: str
    db: str = "monitor.db"
    window: str = "1d"
    entities: Path | None = None
    text_column: str | None = None
    time_column: str | None = None
    id_column: str | None = None
    entity_column: str | None = None
    alerts: Path | None = None
    webhook: str | None = None
    smtp: str | None = None
    mail_to: list[str] = field(default_factory=list)
    mail_from: str = "tunewise-monitor@localhost"
    alpha: float = 0.01
    baseline: int = 7
    min_volume: int = 10
    min_change: float = 0.10
    cooldown: str = "2d"
    direction: str = "both"
    baseline_mode: str = "pooled"
    dedupe_window: str = "6h"
    near_threshold: float = 0.8
    batch_size: int = 64
    max_wait: float = 1.0
    negative_label: str | None = None
    positive_label: str | None = None
    follow: bool = False
    poll: float = 1.0
    speed: str = "max"


def rule_of(o: MonitorOptions) -> AlertRule:
    if not 0 < o.alpha < 1:
        raise UserError(f"--alpha {o.alpha}: give a false-alarm rate in (0, 1), e.g. 0.01")
    if o.baseline < 1:
        raise UserError(f"--baseline {o.baseline}: give at least 1 window")
    if o.min_volume < 1:
        raise UserError(f"--min-volume {o.min_volume}: give at least 1")
    if not 0 <= o.min_change < 1:
        raise UserError(f"--min-change {o.min_change}: give a share change in [0, 1)")
    dirs = {"both": ("negative", "positive"), "negative": ("negative",), "positive": ("positive",)}
    if o.direction not in dirs:
        raise UserError(f"--direction {o.direction!r}: give negative, positive or both")
    if o.baseline_mode not in MODES:
        raise UserError(f"--baseline-mode {o.baseline_mode!r}: give pooled or own")
    return AlertRule(
        alpha=o.alpha,
        baseline=o.baseline,
        min_baseline_windows=min(3, o.baseline),
        min_volume=o.min_volume,
        min_change=o.min_change,
        cooldown=parse_window(o.cooldown, "--cooldown"),
        directions=dirs[o.direction],
        mode=o.baseline_mode,
    )


def sinks_of(o: MonitorOptions) -> list:
    from tunewise.apps.monitor.sinks import JsonlSink, SmtpSink, WebhookSink

    out: list = []
    if o.alerts is not None:
        out.append(JsonlSink(o.alerts))
    if o.webhook:
        out.append(WebhookSink(o.webhook))
    if o.smtp:
        out.append(SmtpSink(o.smtp, o.mail_to, o.mail_from))
    return out


def build(o: MonitorOptions, live: bool, require_time: bool, scorer=None):
    """The store, the scorer and the loop for these options (every flag checked first)."""
    from tunewise.apps.monitor.entities import read_table
    from tunewise.apps.monitor.pipeline import Monitor
    from tunewise.apps.monitor.scoring import MODEL_BATCH, Scorer
    from tunewise.apps.monitor.store import Store, engine_url

    window = parse_window(o.window)
    dedupe = parse_window(o.dedupe_window, "--dedupe-window")
    if not 0 < o.near_threshold <= 1:
        raise UserError(f"--near-threshold {o.near_threshold}: give a number in (0, 1]")
    if o.batch_size < 1:
        raise UserError(f"--batch-size {o.batch_size}: give at least 1")
    if not o.max_wait > 0:
        raise UserError(f"--max-wait {o.max_wait}: give a number of seconds above 0")
    rule = rule_of(o)
    from tunewise.apps.monitor.sources import parse_speed

    parse_speed(o.speed)  # a bad --speed fails before the store is created
    engine_url(o.db)  # a bad --db fails before the model loads
    src = o.source
    if src not in ("-", "http") and not src.startswith(("rss:", "http:", "https:")):
        if not Path(src).exists():
            raise UserError(f"--source {src}: no such file or folder")
    table = read_table(o.entities) if o.entities else None
    sinks = sinks_of(o)
    if scorer is None:
        # the model's own batches (length-sorted inside each call) stay small: a large
        # --batch-size makes fewer, larger calls, not longer padded forwards
        batch = min(o.batch_size, MODEL_BATCH)
        scorer = Scorer(o.model, batch, o.negative_label, o.positive_label)
        if scorer.note:
            print(f"note: {scorer.note}", file=sys.stderr)
    store = Store(o.db)
    stored_w = store.get_meta("window_s")
    if stored_w is not None and int(stored_w) != window:
        raise UserError(
            f"--window {o.window}: the store {o.db} was built with {int(stored_w)} s windows; "
            "use the same window or a new --db"
        )
    cols = Columns(o.text_column, o.time_column, o.id_column, o.entity_column, require_time)
    return Monitor(
        store,
        scorer,
        window,
        rule,
        table,
        cols,
        sinks,
        dedupe,
        o.near_threshold,
        o.batch_size,
        live=live,
        max_wait=o.max_wait if live else None,
    )


def events_of(o: MonitorOptions, mon, replay: bool):
    """(events, source name, cursor name or None) for ``--source``."""
    from tunewise.apps.monitor import sources

    src = o.source
    if src == "-":
        return sources.read_stdin(), "stdin", None
    if src.startswith("rss:") or src.startswith(("http://", "https://")):
        url = src.removeprefix("rss:")
        return sources.read_feed(url, poll=max(o.poll, 1.0), once=not o.follow), url, None
    path = Path(src)
    if not path.exists():
        raise UserError(f"--source {src}: no such file or folder")
    name = str(path.resolve())
    skip = 0 if path.is_dir() else mon.store.cursor(name)
    mon.cursor = (name, skip) if not path.is_dir() else None
    ev = sources.read_file(path, follow=o.follow and not replay, poll=o.poll, skip=skip)
    if replay:
        ev = sources.paced(ev, mon.item_time, sources.parse_speed(o.speed))
    return ev, path.name, (name if not path.is_dir() else None)


def prescore_ray(mon, events):
    """Read every event, score the new texts with Ray Data actors, then hand the events on
    (the loop finds their scores ready; repeats, entities and the store work as always)."""
    from tunewise.apps.monitor.items import Item, to_item

    events = list(events)
    items = []
    for ev in events:
        if ev[0] == "rec":
            it = to_item(ev[1], "", ev[2], mon.cols)
            if isinstance(it, Item):
                items.append(it)
    have = mon.store.existing([it.id for it in items])  # stored by an earlier run: not again
    mon.scorer.prescore_ray([it.text for it in items if it.id not in have])
    return iter(events)


def consume(mon, events, source: str, cursor: str | None, progress=None) -> dict:
    """Feed every event to the loop; the summary (stats and the store's counts)."""
    try:
        for ev in events:
            mon.add(ev, source, cursor)
            if progress is not None and ev[0] == "idle":
                progress(mon.stats)
    except KeyboardInterrupt:
        mon.flush()  # what was read is kept; the cursor says where to go on
        raise
    stats = mon.finish()
    return {
        "read": stats.read,
        "stored": stats.stored,
        "scored": stats.scored,
        "repeats": stats.repeats,
        "rejected": stats.rejected,
        "rejected_by_reason": stats.reasons,
        "already_stored": stats.skipped,
        "alerts": stats.alerts,
        "store": mon.store.counts(),
        "run": {"id": mon.scorer.run_id, "version": mon.scorer.version},
    }


def redetect_store(o: MonitorOptions) -> dict:
    """``monitor redetect``: alert detection re-run with ``o``'s rule over the scores in
    ``o.db`` (no model, nothing rescored, the store only read); every alert goes to the new
    JSONL file ``o.alerts``."""
    from tunewise.apps.monitor.alerts import redetect
    from tunewise.apps.monitor.sinks import JsonlSink
    from tunewise.apps.monitor.store import Store

    rule = rule_of(o)
    if o.alerts is None:
        raise UserError("--alerts: give a new JSONL file for the re-detected alerts")
    if Path(o.alerts).exists():
        raise UserError(
            f"--alerts {o.alerts}: exists; give a new file (re-detection writes every alert "
            "afresh, and the monitor's own log is not to be mixed with it)"
        )
    sink = JsonlSink(o.alerts)
    window = parse_window(o.window) if o.window else None
    store = Store(o.db, create=False)
    if window is None:
        stored = store.get_meta("window_s")
        window = int(stored) if stored is not None else 86400
    runs = store.all("SELECT DISTINCT run_id, run_version FROM scores")
    run = (str(runs[0][0]), str(runs[0][1])) if len(runs) == 1 else ("", "")
    out = redetect(store, rule, window, [sink], run)
    return {**out, "db": o.db, "alerts_file": str(o.alerts), "window_s": window}
