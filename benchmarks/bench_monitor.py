"""[monitor] (#16): `tunewise monitor` on the StockNet tweet stream, end to end.

    PYTHONPATH=src .venv/bin/tunewise train --model minilm \\
        --train ../shared/datasets/twitter_financial_news_sentiment/sent_train.csv \\
        --dev ../shared/datasets/twitter_financial_news_sentiment/sent_valid.csv \\
        --out benchmarks/out/monitor/finsent
    PYTHONPATH=src .venv/bin/python benchmarks/bench_monitor.py --run benchmarks/out/monitor/finsent \\
        --out benchmarks/out/monitor/monitor.json

Parts (``--parts``, all by default):

- throughput: ``tunewise monitor replay --speed max`` over all of ``stocknet_stream``
  (tweets.csv.gz, 119,641 rows), then, in this process, the run's own predictor
  (``tunewise.load(run).predict``) on exactly the texts that replay scored (read back from
  its store), timed; the target is replay >= 80% of the model's own texts/s.
- latency: ``tunewise monitor run --follow`` (live, 1-minute windows) on a file this script
  appends items to in real time, with a JSONL sink and a webhook to a receiver in this
  process; per alert, seconds from the arrival of the last item of the alerted window (and
  from the window's end) to each sink. The burst minutes use bearish headlines the run
  itself labels bearish, so that alerts come (detection power is the burst part's question).
- calls: the predictor on the replay's scored texts in calls of --batch-size (what the
  loop makes) and of --chunk texts, back to back (why replay is slower than the model).
- backfill: ``tunewise monitor backfill`` with ``--engine local`` and ``--engine ray`` on the
  same archive (the first --backfill-rows rows), items/s each and the ratio.
- evaluate: the throughput replay's alerts for windows in 2014-2015 through
  ``tunewise monitor evaluate --prices prices.csv``.
- burst: bearish items for --burst-entities entities injected into a slice of the real
  stream (all tickers, --burst-days-before days before the burst to 7 days after), replayed,
  ``monitor evaluate --burst`` for the detection delay; false alarms per entity-day from the
  throughput replay (the stream without the burst) with ``--db``.
- redetect: ``tunewise monitor redetect`` (detection re-run over the stored scores, no
  rescoring) on the throughput part's full-stream store and the burst part's store, once per
  ``--modes`` (pooled, own): false alarms on the full stream (every alert there is one)
  per 100 entity-days counted three ways (with any item; with >= 10 counted items; the
  entity-days the test actually ran on), and detection on the burst.

Raw numbers go to --out with the load average and CPU flags; the table is printed. The
tweets are Twitter content, so every file stays under benchmarks/out/ (not in git).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import http.server
import io
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHARED_DATASETS", ROOT.parent / "shared" / "datasets"))
STOCKNET = SHARED / "stocknet_stream"
SENT = SHARED / "twitter_financial_news_sentiment"
TW = [sys.executable, "-m", "tunewise"]
COLS = ["--time-column", "ts_utc", "--entity-column", "ticker", "--text-column", "text"]
COLS += ["--id-column", "tweet_id"]
FIELDS = ["ts_utc", "date", "ticker", "tweet_id", "user_id", "is_retweet", "text", "cashtags"]


def load() -> dict:
    la = os.getloadavg()
    return {"load1": round(la[0], 2), "load5": round(la[1], 2), "load15": round(la[2], 2)}


def cpu_flags() -> list[str]:
    try:
        txt = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    return sorted({f for f in ("avx512_bf16", "amx_bf16", "avx512_vnni", "avx2") if f in txt})


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + e.get("PYTHONPATH", "")
    e.setdefault("HF_HUB_OFFLINE", "1")
    return e


def tw(args: list, log: Path, **kw) -> tuple[float, dict | None]:
    """Run a tunewise command; (wall seconds, its JSON summary on stdout or None)."""
    t0 = time.perf_counter()
    with open(log, "w") as err:
        p = subprocess.run(TW + [str(a) for a in args], stdout=subprocess.PIPE, stderr=err,
                           env=env(), text=True, **kw)  # fmt: skip
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(
            f"{' '.join(map(str, args[:2]))} failed ({p.returncode}): {log.read_text()[-800:]}"
        )
    for text in (p.stdout, (p.stdout.strip().splitlines() or [""])[-1]):
        try:
            return wall, json.loads(text)  # evaluate prints indented JSON, the rest one line
        except ValueError:
            continue
    return wall, None


def read_rows(limit: int | None) -> list[dict]:
    with io.TextIOWrapper(gzip.open(STOCKNET / "tweets.csv.gz"), encoding="utf-8") as f:
        rows = []
        for r in csv.DictReader(f):
            rows.append(r)
            if limit and len(rows) >= limit:
                break
    return rows


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def clean_pool() -> dict[int, list[str]]:
    """sent_valid headlines by label (0 bearish, 1 bullish, 2 neutral), cashtags and links
    removed (as ../shared/acceptance/monitor does)."""
    pool: dict[int, list[str]] = {0: [], 1: [], 2: []}
    for r in csv.DictReader(open(SENT / "sent_valid.csv", encoding="utf-8")):
        t = re.sub(r"\$[A-Za-z.]+|https?://\S+", "", r["text"]).strip(" -:")
        if len(t) > 20:
            pool[int(r["label"])].append(t)
    return pool


def pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


# -- 1. throughput ----------------------------------------------------------------------
def part_throughput(a, work: Path, rows: list[dict], res: dict) -> None:
    src = STOCKNET / "tweets.csv.gz" if not a.limit else write_csv(work / "stream.csv", rows)
    db, alerts = work / "replay.db", work / "alerts.jsonl"
    for p in (db, alerts, Path(f"{db}-wal"), Path(f"{db}-shm")):
        p.unlink(missing_ok=True)
    # startup alone: the same command on a one-row file
    one = write_csv(work / "one.csv", rows[:1])
    (work / "one.db").unlink(missing_ok=True)
    start_s, _ = tw(["monitor", "replay", "--model", a.run, "--source", one, *COLS,
                     "--db", work / "one.db"], work / "one.log")  # fmt: skip
    import tunewise

    pred = tunewise.load(a.run, batch_size=a.batch_size)
    pred.predict([r["text"] for r in rows[:64]])  # warm

    def model_rate(texts: list[str]) -> tuple[float, float]:
        t0 = time.perf_counter()
        for i in range(0, len(texts), a.chunk):
            pred.predict(texts[i : i + a.chunk])
        s = time.perf_counter() - t0
        return s, len(texts) / s

    # the model before the replay too (load drifts on a shared machine): the stream's
    # distinct texts, a seeded sample of the same size as the one timed after
    distinct = list(dict.fromkeys(r["text"] for r in rows))
    pre = distinct
    if a.model_sample and a.model_sample < len(distinct):
        pre = random.Random(1).sample(distinct, a.model_sample)
    ld_pre = load()
    pre_s, pre_rate = model_rate(pre)
    ld0 = load()
    wall, out = tw(["monitor", "replay", "--model", a.run, "--source", src, *COLS,
                    "--speed", "max", "--window", "1d", "--entities", STOCKNET / "stocks.csv",
                    "--db", db, "--alerts", alerts], work / "replay.log")  # fmt: skip
    ld1 = load()
    alerts.touch()  # no alert at all is a result too
    con = sqlite3.connect(db)
    texts = [
        r[0]
        for r in con.execute(
            "SELECT i.text FROM items i JOIN scores s ON s.item_id = i.id ORDER BY i.ts, i.id"
        )
    ]
    con.close()
    scored_texts = len(texts)
    if a.model_sample and a.model_sample < len(texts):  # a seeded uniform sample: the same rate
        texts = random.Random(0).sample(texts, a.model_sample)
    model_s, _ = model_rate(texts)
    ld2 = load()
    n_rows = len(rows)
    scored = out["scored"] if out else len(texts)
    res["throughput"] = {
        "source": str(src),
        "rows": n_rows,
        "summary": out,
        "replay_wall_s": round(wall, 2),
        "startup_s": round(start_s, 2),
        "replay_rows_per_s": round(n_rows / wall, 2),
        "replay_scored_per_s": round(scored / wall, 2),
        "replay_scored_per_s_after_startup": round(scored / max(wall - start_s, 1e-9), 2),
        "model_texts": len(texts),
        "model_sample_of": scored_texts,
        "model_s": round(model_s, 2),
        "model_texts_per_s": round(len(texts) / model_s, 2),
        "model_batch_size": a.batch_size,
        "model_chunk": a.chunk,
        "ratio_scored": round((scored / wall) / (len(texts) / model_s), 4),
        "ratio_scored_after_startup": round(
            (scored / max(wall - start_s, 1e-9)) / (len(texts) / model_s), 4
        ),
        "ratio_rows": round((n_rows / wall) / (len(texts) / model_s), 4),
        "model_before_texts": len(pre),
        "model_before_s": round(pre_s, 2),
        "model_before_texts_per_s": round(pre_rate, 2),
        "ratio_scored_vs_model_before": round((scored / wall) / pre_rate, 4),
        "load": {
            "before_model": ld_pre,
            "before_replay": ld0,
            "after_replay": ld1,
            "after_model": ld2,
        },  # fmt: skip
    }


def part_calls(a, work: Path, res: dict) -> None:
    """The model on the replay's scored texts (the same seeded sample) in calls of
    --batch-size texts (what the monitor makes per batch) and of --chunk texts, back to back."""
    con = sqlite3.connect(work / "replay.db")
    texts = [r[0] for r in con.execute(
        "SELECT i.text FROM items i JOIN scores s ON s.item_id = i.id ORDER BY i.ts, i.id")]  # fmt: skip
    con.close()
    if a.model_sample and a.model_sample < len(texts):
        texts = random.Random(0).sample(texts, a.model_sample)
    import tunewise

    pred = tunewise.load(a.run, batch_size=a.batch_size)
    pred.predict(texts[:64])
    out = {"texts": len(texts)}
    for chunk in (a.batch_size, a.chunk):
        t0 = time.perf_counter()
        for i in range(0, len(texts), chunk):
            pred.predict(texts[i : i + chunk])
        out[f"calls_of_{chunk}_texts_per_s"] = round(len(texts) / (time.perf_counter() - t0), 2)
    out["load"] = load()
    res["model_calls"] = out


def part_overhead(a, work: Path, res: dict) -> None:
    """The loop without the model: the same replay (reader, entities, repeats, store, alerts)
    on the first --overhead-rows rows with a scorer that answers at once, timed in process."""
    from tunewise.apps.monitor.scoring import Score
    from tunewise.apps.monitor.service import MonitorOptions, build, consume, events_of

    class Instant:
        run_id, version, note = "instant", "v0", ""

        def score(self, texts):
            p = {"0": 0.2, "1": 0.3, "2": 0.5}
            return [Score("2", "neutral", 0.2, 0.3, p) for _ in texts]

    src = write_csv(work / "overhead.csv", read_rows(a.overhead_rows))
    db = work / "overhead.db"
    for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        p.unlink(missing_ok=True)
    o = MonitorOptions(model=a.run, source=str(src), db=str(db), window="1d",
                       entities=STOCKNET / "stocks.csv", text_column="text",
                       time_column="ts_utc", id_column="tweet_id", entity_column="ticker",
                       batch_size=2048)  # fmt: skip
    ld = load()
    t0 = time.perf_counter()
    mon = build(o, live=False, require_time=True, scorer=Instant())
    events, name, cursor = events_of(o, mon, True)
    out = consume(mon, events, name, cursor)
    wall = time.perf_counter() - t0
    res["overhead"] = {"rows": a.overhead_rows, "wall_s": round(wall, 2),
                       "rows_per_s": round(a.overhead_rows / wall, 1),
                       "ms_per_scored_item": round(1000 * wall / max(out["scored"], 1), 3),
                       "summary": out, "load_before": ld, "load_after": load()}  # fmt: skip


# -- 2. latency -------------------------------------------------------------------------
class Receiver(http.server.BaseHTTPRequestHandler):
    got: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Receiver.got.append((time.time(), json.loads(body)["id"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def part_latency(a, work: Path, res: dict) -> None:
    pool = clean_pool()
    # the burst's texts: bearish headlines this run also calls bearish, so that the alerts
    # whose latency is measured do come (detection power is the burst part's question)
    import tunewise

    pred = tunewise.load(a.run, batch_size=a.batch_size)
    neg = [t for t, r in zip(pool[0], pred.predict(pool[0])) if str(r["label"]) == "0"]
    del pred
    ents = [f"E{i:02d}" for i in range(a.lat_entities)]
    stream, alerts, db = work / "live.jsonl", work / "live_alerts.jsonl", work / "live.db"
    for p in (stream, alerts, db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        p.unlink(missing_ok=True)
    stream.touch()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{srv.server_address[1]}/hook"
    seen: dict[str, float] = {}
    stop = threading.Event()

    def tail():  # when each alert line appears in the JSONL sink (20 ms resolution)
        pos = 0
        while not stop.is_set():
            if alerts.exists():
                with open(alerts, encoding="utf-8") as f:
                    f.seek(pos)
                    for line in f:
                        if line.endswith("\n"):
                            seen.setdefault(json.loads(line)["id"], time.time())
                            pos += len(line.encode())
            time.sleep(0.02)

    threading.Thread(target=tail, daemon=True).start()
    log = open(work / "live.log", "w")
    proc = subprocess.Popen(
        TW
        + ["monitor", "run", "--model", str(a.run), "--source", str(stream), "--follow",
           "--poll", "0.05", "--window", "1m", "--baseline", str(a.lat_baseline), "--cooldown", "1m",
           "--time-column", "time", "--entity-column", "ticker", "--text-column", "text",
           "--id-column", "id", "--db", str(db), "--alerts", str(alerts), "--webhook", hook],
        stdout=log, stderr=log, env=env(),
    )  # fmt: skip
    rng = random.Random(7)
    arrivals: dict[tuple[str, int], float] = {}  # (entity, window start) -> last arrival
    time.sleep(a.lat_warmup)  # the model loads
    t_start = (int(time.time()) // 60 + 1) * 60
    n_win = a.lat_baseline + a.lat_burst_windows
    per_min = a.lat_items
    # each entity's items over each minute, evenly spread; burst windows: half the entities
    plan = []
    for w in range(n_win + 1):
        for j, e in enumerate(ents):
            b = (
                w >= a.lat_baseline
                and w < n_win
                and (j % a.lat_burst_windows) == (w - a.lat_baseline) % a.lat_burst_windows
            )
            for k in range(per_min):
                off = (k + rng.random()) * 60 / per_min
                u = rng.random()
                lab = 0 if u < 0.15 else (1 if u < 0.5 else 2)
                plan.append((t_start + w * 60 + off, e, -1 if b else lab, f"{e}-{w}-{k}"))
    plan.sort()
    plan = [p for p in plan if p[0] < t_start + n_win * 60 + 5]  # a few s of the next window
    with open(stream, "a", encoding="utf-8") as f:
        for at, e, lab, iid in plan:
            wait = at - time.time()
            if wait > 0:
                time.sleep(wait)
            now = time.time()
            ts = dt.datetime.fromtimestamp(now, dt.UTC).isoformat()
            text = rng.choice(neg if lab == -1 else pool[lab])
            f.write(json.dumps({"time": ts, "ticker": e, "text": text,
                                "id": iid}) + "\n")  # fmt: skip
            f.flush()
            arrivals[(e, int(now) // 60 * 60)] = now
    time.sleep(a.lat_tail)
    proc.terminate()
    proc.wait(timeout=30)
    stop.set()
    srv.shutdown()
    rows = []
    hooks = dict((i, t) for t, i in Receiver.got)
    for line in alerts.read_text(encoding="utf-8").splitlines() if alerts.exists() else []:
        al = json.loads(line)
        start = int(dt.datetime.fromisoformat(al["window"]["start"]).timestamp())
        end = start + al["window"]["seconds"]
        last = arrivals.get((al["entity"], start))
        r = {"id": al["id"], "entity": al["entity"], "direction": al["direction"]}
        for sink, t in (("jsonl", seen.get(al["id"])), ("webhook", hooks.get(al["id"]))):
            r[f"{sink}_from_last_item_s"] = round(t - last, 3) if t and last else None
            r[f"{sink}_from_window_end_s"] = round(t - end, 3) if t else None
        rows.append(r)
    summ = {}
    for k in ("jsonl_from_last_item_s", "jsonl_from_window_end_s", "webhook_from_last_item_s",
              "webhook_from_window_end_s"):  # fmt: skip
        xs = [r[k] for r in rows if r[k] is not None]
        summ[k] = {"n": len(xs), "p50": pct(xs, 0.5), "p95": pct(xs, 0.95), "max": max(xs or [0])}
    res["latency"] = {
        "entities": len(ents),
        "items_per_entity_minute": per_min,
        "windows": n_win,
        "items_written": len(plan),
        "alerts": len(rows),
        "burst_entity_windows": len(ents),
        "summary": summ,
        "alerts_detail": rows,
        "load": load(),
    }


# -- 3. backfill ------------------------------------------------------------------------
def part_backfill(a, work: Path, rows: list[dict], res: dict) -> None:
    arch = write_csv(work / "archive.csv", rows[: a.backfill_rows])
    out = {"rows": min(a.backfill_rows, len(rows))}
    for engine in ("local", "ray"):
        db = work / f"backfill_{engine}.db"
        for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            p.unlink(missing_ok=True)
        ld = load()
        wall, summ = tw(["monitor", "backfill", "--model", a.run, "--source", arch, *COLS,
                         "--engine", engine, "--db", db], work / f"backfill_{engine}.log")  # fmt: skip
        out[engine] = {"wall_s": round(wall, 2), "rows_per_s": round(out["rows"] / wall, 2),
                       "scored": summ and summ["scored"], "load_before": ld}  # fmt: skip
    # the two stores' answers, item by item
    a_, b_ = (
        dict(
            sqlite3.connect(work / f"backfill_{e}.db").execute("SELECT item_id, label FROM scores")
        )
        for e in ("local", "ray")
    )
    out["same_labels"] = sum(a_[k] == b_.get(k) for k in a_) / max(len(a_), 1)
    out["ratio_ray_over_local"] = round(out["ray"]["rows_per_s"] / out["local"]["rows_per_s"], 3)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", "import ray; ray.init(); ray.shutdown()"],
                       capture_output=True, text=True, env=env())  # fmt: skip
    out["ray_init_s"] = round(time.perf_counter() - t0, 2) if p.returncode == 0 else None
    res["backfill"] = out


# -- 4. evaluate ------------------------------------------------------------------------
def part_evaluate(a, work: Path, res: dict) -> None:
    src = work / "alerts.jsonl"
    if not src.exists():
        sys.exit("evaluate needs the throughput part's alerts (run --parts throughput first)")
    sub = work / "alerts_2014_2015.jsonl"
    lines = [ln for ln in src.read_text(encoding="utf-8").splitlines() if ln.strip()]
    keep = [ln for ln in lines if "2014-01-01" <= json.loads(ln)["window"]["start"][:10] < "2016"]
    sub.write_text("".join(ln + "\n" for ln in keep), encoding="utf-8")
    _, out = tw(["monitor", "evaluate", "--alerts", sub, "--prices", STOCKNET / "prices.csv",
                 "--output", work / "evaluate.json"], work / "evaluate.log")  # fmt: skip
    res["evaluate"] = {"alerts_all": len(lines), "alerts_2014_2015": len(keep), "result": out}


# -- 5. burst ---------------------------------------------------------------------------
def part_burst(a, work: Path, rows: list[dict], res: dict) -> None:
    first = dt.date.fromisoformat(a.burst_day)
    last = first + dt.timedelta(days=a.burst_len - 1)
    lo = (first - dt.timedelta(days=a.burst_days_before)).isoformat()
    hi = (last + dt.timedelta(days=7)).isoformat()
    sl = [r for r in rows if lo <= r["date"] <= hi]
    if not sl:
        sys.exit(f"no rows between {lo} and {hi} (--limit too small?)")
    per_day: dict[str, set] = {}
    for r in sl:
        if r["date"] < first.isoformat():
            per_day.setdefault(r["ticker"], set()).add(r["date"])
    vol: dict[str, int] = {}
    for r in sl:
        if r["date"] < first.isoformat():
            vol[r["ticker"]] = vol.get(r["ticker"], 0) + 1
    days_before = max(a.burst_days_before, 1)
    ranked = sorted((t for t in vol if len(per_day[t]) >= days_before // 2), key=lambda t: -vol[t])
    step = max(len(ranked) // a.burst_entities, 1)
    chosen = ranked[::step][: a.burst_entities]
    pool = clean_pool()
    rng = random.Random(11)
    inj = []
    for e in chosen:
        daily = vol[e] / days_before
        n = max(a.burst_min, int(round(a.burst_scale * daily)))
        for d in range(a.burst_len):
            day = first + dt.timedelta(days=d)
            for k in range(n):
                u = rng.random()
                lab = 0 if u < 0.8 else (1 if u < 0.9 else 2)
                ts = dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(
                    seconds=rng.randrange(86400)
                )
                inj.append({"ts_utc": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "date": day.isoformat(),
                            "ticker": e, "tweet_id": f"burst-{e}-{d}-{k}", "user_id": "0",
                            "is_retweet": "0", "text": rng.choice(pool[lab]), "cashtags": e})  # fmt: skip
    stream = sorted(sl + inj, key=lambda r: r["ts_utc"])
    src = write_csv(work / "burst_stream.csv", stream)
    db, alerts = work / "burst.db", work / "burst_alerts.jsonl"
    for p in (db, alerts, Path(f"{db}-wal"), Path(f"{db}-shm")):
        p.unlink(missing_ok=True)
    wall, summ = tw(["monitor", "replay", "--model", a.run, "--source", src, *COLS,
                     "--speed", "max", "--window", "1d", "--entities", STOCKNET / "stocks.csv",
                     "--db", db, "--alerts", alerts], work / "burst_replay.log")  # fmt: skip
    specs = [f"{e}:{first.isoformat()}:{last.isoformat()}" for e in chosen]
    bargs = [x for s in specs for x in ("--burst", s)]
    alerts.touch()
    _, det = tw(["monitor", "evaluate", "--alerts", alerts, *bargs, "--db", db,
                 "--output", work / "burst_eval.json"], work / "burst_eval.log")  # fmt: skip
    fa = None
    if (work / "alerts.jsonl").exists() and (work / "replay.db").exists():
        _, fa = tw(["monitor", "evaluate", "--alerts", work / "alerts.jsonl", *bargs,
                    "--db", work / "replay.db", "--output", work / "false_alarms.json"],
                   work / "false_alarms.log")  # fmt: skip
    res["burst"] = {
        "slice": [lo, hi],
        "slice_rows": len(sl),
        "injected": len(inj),
        "entities": {
            e: {
                "daily_before": round(vol[e] / days_before, 2),
                "per_day_injected": max(
                    a.burst_min, int(round(a.burst_scale * vol[e] / days_before))
                ),
            }
            for e in chosen
        },  # fmt: skip
        "replay_wall_s": round(wall, 2),
        "replay": summ,
        "detection": det,
        "false_alarms_no_burst": fa and fa.get("burst"),
    }


# -- 6. redetect ------------------------------------------------------------------------
def entity_days(db: Path, min_items: int) -> int:
    """Entity-days (1-day windows) with at least ``min_items`` counted (first) items."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    n = con.execute(
        "SELECT count(*) FROM (SELECT e.entity, i.ts / 86400 AS d, count(*) AS c FROM items i "
        "JOIN item_entities e ON e.item_id = i.id WHERE i.dup_of IS NULL "
        "GROUP BY e.entity, i.ts / 86400) WHERE c >= ?",
        (min_items,),
    ).fetchone()[0]
    con.close()
    return int(n)


def part_redetect(a, work: Path, res: dict) -> None:
    first = dt.date.fromisoformat(a.burst_day)
    last = first + dt.timedelta(days=a.burst_len - 1)
    chosen = list((res.get("burst") or {}).get("entities") or {})
    specs = [f"{e}:{first.isoformat()}:{last.isoformat()}" for e in chosen]
    bargs = [x for sp in specs for x in ("--burst", sp)]
    out: dict = {}
    for name, db in (("full", work / "replay.db"), ("burst", work / "burst.db")):
        if not db.exists():
            continue
        r: dict = {}
        if name == "full":
            r["entity_days_any"] = entity_days(db, 1)
            r["entity_days_10"] = entity_days(db, 10)
        for mode in a.modes.split(","):
            alerts = work / f"redetect_{name}_{mode}.jsonl"
            alerts.unlink(missing_ok=True)
            ld = load()
            wall, summ = tw(["monitor", "redetect", "--db", db, "--alerts", alerts,
                             "--baseline-mode", mode], work / f"redetect_{name}_{mode}.log")  # fmt: skip
            alerts.touch()
            got = [json.loads(ln) for ln in alerts.read_text().splitlines() if ln.strip()]
            m = {"wall_s": round(wall, 2), "summary": summ, "load_before": ld, "load_after": load()}
            if name == "full":
                n = len(got)
                m["false_alarms"] = n
                m["by_direction"] = {d: sum(x["direction"] == d for x in got)
                                     for d in ("negative", "positive")}  # fmt: skip
                m["alert_days"] = len({x["window"]["start"][:10] for x in got})
                for k, den in (("any", r["entity_days_any"]), ("10", r["entity_days_10"]),
                               ("tested", summ["entity_windows_tested"])):  # fmt: skip
                    m[f"per_100_entity_days_{k}"] = round(100 * n / den, 4) if den else None
            elif specs:
                _, ev = tw(["monitor", "evaluate", "--alerts", alerts, *bargs, "--db", db],
                           work / f"redetect_{name}_{mode}_eval.log")  # fmt: skip
                m["detection"] = ev["burst"]
                m["alerts_detail"] = [
                    {k: x[k] for k in ("entity", "direction", "p_value", "alpha_per_test")}
                    | {"day": x["window"]["start"][:10], "count": x["evidence"]["count"],
                       "n": x["evidence"]["n"],
                       "expected": x["evidence"]["baseline"].get("expected_share"),
                       "baseline_n": x["evidence"]["baseline"]["n"]}
                    for x in got
                ]  # fmt: skip
            r[mode] = m
        out[name] = r
    res["redetect"] = out


def table(res: dict) -> list[str]:
    out = ["| figure | value | target |", "|---|---|---|"]
    t = res.get("throughput")
    if t:
        out += [
            f"| replay --speed max, {t['rows']:,} rows | {t['replay_rows_per_s']:.1f} rows/s, "
            f"{t['replay_scored_per_s']:.1f} scored/s ({t['summary']['scored']:,} scored in "
            f"{t['replay_wall_s']:.0f} s, startup {t['startup_s']:.0f} s) | |",
            f"| model's own predict, {t['model_texts']:,} of the {t['model_sample_of']:,} "
            "scored texts | "
            f"{t['model_texts_per_s']:.1f} texts/s ({t['model_s']:.0f} s) | |",
            f"| model's own predict before the replay, {t.get('model_before_texts', 0):,} of the "
            f"stream's distinct texts | {t.get('model_before_texts_per_s', 0):.1f} texts/s | |",
            f"| replay / model (scored texts/s) | {t['ratio_scored']:.1%} "
            f"({t['ratio_scored_after_startup']:.1%} without startup) | >= 80% |",
        ]
    la = res.get("latency")
    if la:
        for k in ("jsonl", "webhook"):
            s, e = la["summary"][f"{k}_from_last_item_s"], la["summary"][f"{k}_from_window_end_s"]
            f = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731
            out.append(
                f"| alert latency to {k} (n={s['n']}) | from the window's last item p50 "
                f"{f(s['p50'])} s, p95 {f(s['p95'])} s; from the window's end p50 {f(e['p50'])} s,"
                f" p95 {f(e['p95'])} s | |"
            )
    b = res.get("backfill")
    if b:
        out.append(
            f"| backfill {b['rows']:,} rows: local / ray | {b['local']['rows_per_s']:.1f} / "
            f"{b['ray']['rows_per_s']:.1f} rows/s ({b['local']['wall_s']:.0f} s / "
            f"{b['ray']['wall_s']:.0f} s), ray/local {b['ratio_ray_over_local']:.2f}x, ray.init "
            f"{b['ray_init_s']} s, same labels {b['same_labels']:.1%} | |"
        )
    ev = res.get("evaluate")
    if ev and ev["result"]:
        for d, r in ev["result"].get("prices", {}).items():
            out.append(
                f"| {d} alerts 2014-2015 -> next day {r['move']} (n={r['with_prices']}) | "
                f"precision {r['precision']:.3f} [{r['precision_ci'][0]:.3f}, "
                f"{r['precision_ci'][1]:.3f}], base {r['base_rate']:.3f}, lift {r['lift']:.2f} "
                f"[{r['lift_ci'][0]:.2f}, {r['lift_ci'][1]:.2f}], random alerts "
                f"{r['random_alerts']['precision_mean']:.3f} {r['random_alerts']['precision_95']},"
                f" p = {r['random_alerts']['p_value']} | |"
            )
            n = r.get("next_day")
            if n:
                out.append(
                    f"| same alerts -> the trading day after the window {r['move']} "
                    f"(n={n['with_prices']}) | precision {n['precision']:.3f} "
                    f"[{n['precision_ci'][0]:.3f}, {n['precision_ci'][1]:.3f}], base "
                    f"{n['base_rate']:.3f}, lift {n['lift']:.2f}, random alerts "
                    f"{n['random_alerts']['precision_mean']:.3f}, p = "
                    f"{n['random_alerts']['p_value']} | |"
                )
    bu = res.get("burst")
    if bu and bu["detection"]:
        ds = bu["detection"]["burst"]["bursts"]
        txt = ", ".join(
            f"{x['entity']} {x['delay_days']}" if x["detected"] else f"{x['entity']} missed"
            for x in ds
        )
        out.append(f"| burst detection delay (days) | {txt} | <= 1 day (2 windows) |")
        fa = bu["false_alarms_no_burst"]
        if fa:
            out.append(
                f"| false alarms, stream without burst | {fa['false_alarms']} over "
                f"{fa['entity_days_outside_bursts']:,.0f} entity-days = "
                f"{100 * (fa['false_alarms_per_entity_day'] or 0):.2f} per 100 | <= 1 per 100 |"
            )
    rd = res.get("redetect") or {}
    for mode, m in (rd.get("full") or {}).items():
        if isinstance(m, dict) and "false_alarms" in m:
            out.append(
                f"| false alarms, full stream, redetect --baseline-mode {mode} | "
                f"{m['false_alarms']} alerts; per 100 entity-days: {m['per_100_entity_days_any']}"
                f" (any item), {m['per_100_entity_days_10']} (>= 10 items), "
                f"{m['per_100_entity_days_tested']} (tested, "
                f"{m['summary']['entity_windows_tested']:,}) | <= 1 per 100 |"
            )
    for mode, m in (rd.get("burst") or {}).items():
        if isinstance(m, dict) and m.get("detection"):
            txt = ", ".join(
                f"{x['entity']} {x['delay_days']}" if x["detected"] else f"{x['entity']} missed"
                for x in m["detection"]["bursts"]
            )
            out.append(f"| burst, redetect --baseline-mode {mode} (delay, days) | {txt} | <= 1 |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--run", type=Path, required=True, help="a finished sentiment run")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/out/monitor/monitor.json")
    ap.add_argument("--work", type=Path, help="scratch folder [next to --out]")
    ap.add_argument("--parts", default="throughput,evaluate,burst,backfill,latency")
    ap.add_argument("--limit", type=int, help="only the first N tweet rows (a quick trial)")
    ap.add_argument("--batch-size", type=int, default=64, help="the predictor's (monitor's)")
    ap.add_argument("--chunk", type=int, default=2048, help="texts per predict() call")
    ap.add_argument("--model-sample", type=int, help="time the model on N of the scored texts")
    ap.add_argument("--backfill-rows", type=int, default=30000)
    ap.add_argument("--overhead-rows", type=int, default=20000)
    ap.add_argument("--burst-day", default="2015-06-16")
    ap.add_argument("--burst-len", type=int, default=2)
    ap.add_argument("--burst-days-before", type=int, default=35)
    ap.add_argument("--burst-entities", type=int, default=6)
    ap.add_argument("--burst-scale", type=float, default=1.0, help="x the daily volume")
    ap.add_argument("--burst-min", type=int, default=15, help="fewest injected items a day")
    ap.add_argument("--modes", default="pooled,own", help="redetect: --baseline-mode values")
    ap.add_argument("--lat-entities", type=int, default=12)
    ap.add_argument("--lat-items", type=int, default=20, help="items per entity per minute")
    ap.add_argument("--lat-baseline", type=int, default=2)
    ap.add_argument("--lat-burst-windows", type=int, default=2)
    ap.add_argument("--lat-warmup", type=float, default=15.0)
    ap.add_argument("--lat-tail", type=float, default=20.0)
    a = ap.parse_args()
    a.run = a.run.resolve()
    work = (a.work or a.out.parent / "work").resolve()
    work.mkdir(parents=True, exist_ok=True)
    parts = a.parts.split(",")
    res: dict = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "run": str(a.run),
        "cpu_flags": cpu_flags(),
        "nproc": os.cpu_count(),
        "load_start": load(),
        "args": {k: str(v) for k, v in vars(a).items()},
    }
    if a.out.exists():  # parts run separately add to one record
        old = json.loads(a.out.read_text())
        res = {**old, **{k: v for k, v in res.items() if k not in ("load_start", "date")}}
    rows = read_rows(a.limit) if set(parts) & {"throughput", "backfill", "burst"} else []
    for name in parts:
        t0 = time.time()
        print(f"[{time.strftime('%H:%M:%S')}] {name} (load {load()['load1']})", file=sys.stderr)
        if name == "throughput":
            part_throughput(a, work, rows, res)
        elif name == "calls":
            part_calls(a, work, res)
        elif name == "overhead":
            part_overhead(a, work, res)
        elif name == "latency":
            part_latency(a, work, res)
        elif name == "backfill":
            part_backfill(a, work, rows, res)
        elif name == "evaluate":
            part_evaluate(a, work, res)
        elif name == "burst":
            part_burst(a, work, rows, res)
        elif name == "redetect":
            part_redetect(a, work, res)
        else:
            sys.exit(f"--parts {name}: unknown")
        res.setdefault("part_seconds", {})[name] = round(time.time() - t0, 1)
        res["load_end"] = load()
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(res, indent=2))
    print("\n".join(table(res)))
    print(f"cpu flags {', '.join(res['cpu_flags'])}; load at the end {res['load_end']}")


if __name__ == "__main__":
    main()
