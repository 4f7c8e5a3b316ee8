"""Bounded load test of `tunewise serve`: N concurrent clients, valid and invalid requests mixed.

Starts the server on a run (``--run``; default: a tiny random BERT classifier trained here in
seconds), sends ``--requests`` requests from ``--clients`` threads (about one in four invalid:
a lone surrogate, a wrong type, a missing field, broken JSON, an unknown model), and checks
that every valid request is answered 200 with the label `tunewise predict` gives, that every
invalid one gets a 4xx JSON error, and that the server's RSS stays flat (sampled every 500
requests after a warm-up). Prints a JSON summary; exits 1 when a check fails.

    python benchmarks/serve_load.py [--run RUN] [--clients 64] [--requests 5000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _tiny_run(tmp: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    import tunewise
    from tests.conftest import build_tiny_model, make_rows, tiny_config, write_jsonl

    model = build_tiny_model(tmp / "model")
    data = {
        s: write_jsonl(tmp / f"{s}.jsonl", make_rows(n, i))
        for i, (s, n) in enumerate((("train", 160), ("dev", 40), ("test", 40)))
    }
    return tunewise.train(tiny_config(model, data, tmp / "run", epochs=2)).path


INVALID = [
    b'{"texts": ["\\ud800 broken"]}',
    b'{"texts": "not a list"}',
    b'{"text": ["wrong field"]}',
    b'{"texts": [1, 2]}',
    b'{"texts": ["a"], "model": "no-such-model"}',
    b'{"texts": [',
    b'{"texts": []}',
]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tw-load-"))
    run = args.run or _tiny_run(tmp)

    import tunewise

    rng = random.Random(args.seed)
    words = "good bad fine dull film plot cast warm cold lovely awful story".split()
    texts = [" ".join(rng.choices(words, k=rng.randint(2, 12))) for _ in range(200)]
    expected = {t: r["label"] for t, r in zip(texts, tunewise.load(run).predict(texts))}

    port = _free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    log = open(tmp / "serve.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "tunewise", "serve", str(run), "--port", str(port)],
        stdout=log,
        stderr=log,
        env=env,
    )
    proc = psutil.Process(server.pid)
    try:
        for _ in range(240):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.25)
        plan = []
        for _ in range(args.requests):
            if rng.random() < 0.25:
                plan.append(("bad", rng.choice(INVALID), None))
            else:
                t = rng.choice(texts)
                plan.append(("good", json.dumps({"texts": [t]}).encode(), t))
        lock = threading.Lock()
        cursor = {"i": 0}
        stats = {"good_ok": 0, "good_wrong": 0, "good_failed": 0, "bad_4xx_json": 0, "bad_other": 0}
        rss: list[tuple[int, float]] = []

        def client():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            while True:
                with lock:
                    i = cursor["i"]
                    if i >= len(plan):
                        return
                    cursor["i"] += 1
                    if i % 500 == 0:
                        rss.append((i, proc.memory_info().rss / 2**20))
                kind, body, text = plan[i]
                try:
                    conn.request("POST", "/v1/classify", body, {"content-type": "application/json"})
                    r = conn.getresponse()
                    data = r.read()
                    status = r.status
                except OSError:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    status, data = 0, b""
                with lock:
                    if kind == "good":
                        if status == 200:
                            label = json.loads(data)["results"][0]["label"]
                            stats["good_ok" if label == expected[text] else "good_wrong"] += 1
                        else:
                            stats["good_failed"] += 1
                    else:
                        try:
                            ok = 400 <= status < 500 and "error" in json.loads(data)
                        except ValueError:
                            ok = False
                        stats["bad_4xx_json" if ok else "bad_other"] += 1

        t0 = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - t0
        rss.append((len(plan), proc.memory_info().rss / 2**20))
    finally:
        server.terminate()
        server.wait(30)
    warm = [m for i, m in rss if i >= 1000] or [m for _, m in rss]
    growth = warm[-1] - warm[0]
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()}",
        "run": str(run) if args.run else "tiny random BERT (2 layers, hidden 32), trained here",
        "clients": args.clients,
        "requests": len(plan),
        "seconds": round(seconds, 1),
        "requests_per_s": round(len(plan) / seconds, 1),
        **stats,
        "rss_mib": [(i, round(m, 1)) for i, m in rss],
        "rss_growth_after_warmup_mib": round(growth, 1),
    }
    print(json.dumps(summary, indent=1))
    good = stats["good_ok"] == sum(1 for k, _, _ in plan if k == "good")
    bad = stats["bad_other"] == 0
    flat = growth < max(20.0, 0.05 * warm[0])
    return 0 if good and bad and flat else 1


if __name__ == "__main__":
    sys.exit(main())
