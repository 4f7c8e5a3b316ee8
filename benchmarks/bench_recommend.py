"""[recommend] figures: ``tunewise recommend fit`` / ``eval`` on the full MovieLens-100k with
item texts (``movielens100k_text``), every system side by side on warm and cold-start items,
and the latency of ``/v1/recommend`` against a real ``tunewise serve``.

Part ``fit``: the product's own commands, in subprocesses (nothing reimplemented here):
``tunewise recommend fit`` (ratings >= 4 liked, per-user last 5 held out by time, cold-start
items = the latest 10% of the catalog to appear, unseen in training; ``--rerank`` fine-tunes
the cross-encoder too), then ``tunewise recommend eval``. The run's ``metrics.json`` is read
back into a table: fine-tuned two-tower, cross-encoder rerank, hybrid (text + item-kNN, weight
chosen on a validation split carved from training by time), item-kNN, popularity, the
untuned encoder and random; Recall@10/50, nDCG@10, MRR, coverage@10, 95% bootstrap intervals
over users. ``uptime`` and ``date -u`` are recorded before and after.

Part ``latency``: ``tunewise serve RUN`` on 127.0.0.1, then sequential POST /v1/recommend
requests, half with a known ``user_id``, half with a new user's ``history`` (3 item texts);
p50/p95 client-side wall time per kind (the index holds all 1,682 items).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_recommend.py --parts fit \\
        --out benchmarks/out/recommend --pairs-per-user 2 --max-length 64 --rerank-top 10 --rerank-pairs 600
    PYTHONPATH=src .venv/bin/python benchmarks/bench_recommend.py --parts latency \\
        --out benchmarks/out/recommend --requests 400
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SHARED = Path(
    os.environ.get("SHARED_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets")
)
DATA = SHARED / "movielens100k_text"
TEXT = "{title}. {genres}. {description}"
NAMES = {
    "text_model": "two-tower, fine-tuned",
    "reranked": "two-tower + cross-encoder rerank (fine-tuned)",
    "hybrid": "hybrid (text + item-kNN)",
    "item_knn": "item-kNN (collaborative)",
    "als": "ALS (collaborative, `implicit` 0.7.3)",
    "popularity": "popularity",
    "untuned": "untuned encoder",
    "random": "random",
}


def tunewise() -> list[str]:
    """The CLI of this interpreter (PYTHONPATH decides which checkout's code runs)."""
    return [
        sys.executable,
        "-c",
        "import sys; from tunewise.cli.main import main; sys.exit(main())",
    ]


def machine() -> dict:
    flags = set()
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            flags |= set(line.split(":", 1)[1].split())
    want = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8", "amx_tile")
    return {
        "date_utc": subprocess.run(["date", "-u"], capture_output=True, text=True).stdout.strip(),
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "cpus": os.cpu_count(),
        "flags": [f for f in want if f in flags],
    }


def run_logged(cmd: list[str], log: Path) -> float:
    """Run ``cmd``, its output timestamped into ``log`` and echoed; returns its wall time."""
    t0 = time.time()
    with open(log, "w") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in p.stdout:
            stamped = f"{time.strftime('%H:%M:%S')} {line}"
            f.write(stamped)
            f.flush()
            print(stamped, end="", flush=True)
        rc = p.wait()
    if rc:
        raise SystemExit(f"{cmd[3:5]} failed (exit {rc}); see {log}")
    return time.time() - t0


def cell(row: dict, key: str) -> str:
    ci = (row.get("ci") or {}).get(key)
    return f"{row[key]:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def table(rec: dict) -> str:
    from tunewise.tasks.recommend.summary import SYSTEMS  # the order recommend eval prints

    head = "| items | system | users | nDCG@10 | Recall@10 | Recall@50 | MRR | coverage@10 |"
    lines = [head, "|---|---|---:|---|---|---|---|---:|"]
    for part, rows in rec["systems"].items():
        for name in SYSTEMS:
            if name in rows:
                r = rows[name]
                cells = [cell(r, k) for k in ("ndcg_at_10", "recall_at_10", "recall_at_50", "mrr")]
                lines.append(
                    f"| {part} | {NAMES[name]} | {r['users']} | "
                    + " | ".join(cells)
                    + f" | {r['coverage_at_10']:.3f} |"
                )
    return "\n".join(lines)


def ci(row: dict, key: str = "ndcg_at_10") -> str:
    lo, hi = row["ci"][key]
    return f"{row[key]:.3f} [{lo:.3f}, {hi:.3f}]"


def targets(rec: dict) -> list[str]:
    """The issue's targets, checked on the intervals."""
    out = []
    cold = rec["systems"].get("cold") or {}
    if cold:
        t = cold["text_model"]["ci"]["ndcg_at_10"]
        for rival in ("untuned", "random"):
            if rival in cold:
                r = cold[rival]["ci"]["ndcg_at_10"]
                ok = t[0] > r[1]
                out.append(
                    f"cold nDCG@10: fine-tuned {ci(cold['text_model'])} vs "
                    f"{rival} {ci(cold[rival])}: "
                    + ("MET (intervals do not overlap)" if ok else "NOT met")
                )
    warm = rec["systems"]["warm"]
    rivals = [k for k in ("popularity", "item_knn", "als") if k in warm]
    best = max(rivals, key=lambda k: warm[k]["ndcg_at_10"])
    h, b = warm["hybrid"], warm[best]
    ok = h["ci"]["ndcg_at_10"][1] >= b["ci"]["ndcg_at_10"][0]
    out.append(
        f"warm nDCG@10: hybrid {ci(h)} vs the best of popularity and the collaborative "
        f"models ({best}) {ci(b)}: "
        + (
            "MET"
            if ok and h["ndcg_at_10"] >= b["ndcg_at_10"]
            else "MET (overlapping)"
            if ok
            else "NOT met"
        )
    )
    return out


def part_fit(a, out: Path) -> dict:
    run = out / "run"
    cmd = (
        tunewise()
        + [
            "recommend",
            "fit",
            *a.override,
            f"task.options.rerank_top={a.rerank_top}",
            "--interactions",
            str(DATA / "interactions.csv"),
            "--items",
            str(DATA / "items.csv"),
            "--item-text",
            TEXT,
            "--min-rating",
            "4",
            "--holdout",
            "5",
            "--pairs-per-user",
            str(a.pairs_per_user),
            "--history-items",
            str(a.history_items),
            "--epochs",
            str(a.epochs),
            "--max-length",
            str(a.max_length),
            "--model",
            "minilm",
            "--out",
            str(run),
            "--overwrite",
        ]
        + (["--rerank", "--rerank-pairs", str(a.rerank_pairs)] if a.rerank else [])
    )
    before = machine()
    fit_s = run_logged(cmd, out / "fit.log")
    eval_s = run_logged(tunewise() + ["recommend", "eval", str(run)], out / "eval.log")
    after = machine()
    metrics = json.loads((run / "metrics.json").read_text())
    rec = metrics["recommend"]
    res = {
        "command": cmd[3:],
        "before": before,
        "after": after,
        "fit_s": round(fit_s, 1),
        "eval_s": round(eval_s, 1),
        "split": rec.get("split"),
        "hybrid_weight": rec.get("hybrid_weight"),
        "hybrid_validation": rec.get("hybrid_validation"),
        "systems": rec["systems"],
        "verdicts": [v["message"] for v in rec.get("verdicts") or []],
        "targets": targets(rec),
        "table": table(rec),
    }
    (out / "fit.json").write_text(json.dumps(res, indent=2))
    print(res["table"])
    print("\n".join(res["targets"]))
    print(f"fit {fit_s:.0f} s, eval {eval_s:.0f} s; before: {before['uptime']}")
    print(f"after: {after['uptime']}")
    return res


def part_als(a, out: Path) -> dict:
    """ALS scored on the finished run's saved split (``model/recommend.json``) with the
    product's own functions (``user_views``, ``als_scores``, ``evaluate_scores``: what
    ``recommend eval`` runs when ``implicit`` is installed), added to ``fit.json``."""
    from tunewise.tasks.recommend.collab import als_scores, interaction_matrix
    from tunewise.tasks.recommend.evaluate import evaluate_scores, user_views

    run = out / "run"
    bundle = json.loads((run / "model" / "recommend.json").read_text())
    import yaml

    cfg = yaml.safe_load((run / "config.yaml").read_text())
    seed, recent = cfg["train"]["seed"], cfg["task"]["options"]["history_items"]
    x = interaction_matrix(list(bundle["users"].values()), len(bundle["items"]["ids"]))
    res = json.loads((out / "fit.json").read_text())
    t0 = time.time()
    for part, view in user_views(bundle, recent).items():
        res["systems"][part]["als"] = evaluate_scores(als_scores(x, view.rows, seed=seed), view)
    res["als_s"] = round(time.time() - t0, 1)
    res["als_note"] = "scored on the run's saved split by bench part als (implicit 0.7.3 defaults)"
    rec = {"systems": res["systems"]}
    res["targets"], res["table"] = targets(rec), table(rec)
    (out / "fit.json").write_text(json.dumps(res, indent=2))
    print(res["table"])
    print("\n".join(res["targets"]))
    return res


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict) -> tuple[int, dict, float]:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            data = json.loads(r.read())
            code = r.status
    except urllib.error.HTTPError as e:
        data, code = json.loads(e.read() or b"{}"), e.code
    return code, data, time.perf_counter() - t0


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def part_latency(a, out: Path) -> dict:
    run = out / "run"
    port = _free_port()
    before = machine()
    log = open(out / "serve.log", "w")
    srv = subprocess.Popen(
        tunewise() + ["serve", str(run), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        t0 = time.time()
        while True:
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if srv.poll() is not None or time.time() - t0 > 300:
                raise SystemExit(f"serve did not start; see {out / 'serve.log'}")
            time.sleep(0.5)
        ready_s = time.time() - t0
        bundle = json.loads((run / "model" / "recommend.json").read_text())
        users = sorted(bundle["users"])
        items = list(csv.DictReader(open(DATA / "items.csv", encoding="utf-8")))
        rng = random.Random(0)
        reqs = []
        for n in range(a.requests):
            if n % 2 == 0:
                reqs.append(("user_id", {"user_id": rng.choice(users), "k": 10}))
            else:
                hist = [TEXT.format(**r) for r in rng.sample(items, 3)]
                reqs.append(("history", {"history": hist, "k": 10}))
        for _, body in reqs[:10]:  # warm-up, not timed
            _post(base + "/v1/recommend", body)
        times: dict[str, list[float]] = {"user_id": [], "history": []}
        bad = 0
        for kind, body in reqs:
            code, data, dt = _post(base + "/v1/recommend", body)
            if code != 200 or len(data.get("items") or []) != 10:
                bad += 1
            times[kind].append(dt * 1000)
        after = machine()
    finally:
        srv.terminate()
        srv.wait(timeout=30)
        log.close()
    res = {
        "before": before,
        "after": after,
        "ready_s": round(ready_s, 1),
        "items_in_index": len(bundle["items"]["ids"]),
        "requests": a.requests,
        "non_200_or_short": bad,
        "ms": {
            k: {"n": len(v), "p50": round(pct(v, 0.5), 1), "p95": round(pct(v, 0.95), 1)}
            for k, v in times.items()
        },
    }
    (out / "latency.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/recommend"))
    ap.add_argument("--parts", default="fit,latency")
    ap.add_argument("--pairs-per-user", type=int, default=2)
    ap.add_argument("--history-items", type=int, default=5)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--rerank-top", type=int, default=10)
    ap.add_argument("--rerank-pairs", type=int, default=600)
    ap.add_argument("--no-rerank", dest="rerank", action="store_false")
    ap.add_argument("--override", action="append", default=[], help="dotted override, repeat")
    ap.add_argument("--requests", type=int, default=400)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    parts = a.parts.split(",")
    if "fit" in parts:
        part_fit(a, a.out)
    if "als" in parts:
        part_als(a, a.out)
    if "latency" in parts:
        part_latency(a, a.out)


if __name__ == "__main__":
    main()
