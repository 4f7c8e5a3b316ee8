"""Studio page load with many runs: server time and a real browser's navigation timing.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_studio.py --runs 200 [--source RUN]

A registry of ``--runs`` runs is built quickly: one source run (``--source``, else a tiny
in-process BERT trained for a few seconds) is copied into that many run directories (its
``run.json``, ``config.yaml``, ``metrics.json``, ``train_log.jsonl``, ``doctor.json``; one in
ten marked failed and one in ten interrupted), each recorded with ``registry.record_run``. The
studio then serves on 127.0.0.1 (uvicorn, in this process) and the script times:

- server: ``GET /`` (the runs page, every run's headline read from its metrics.json),
  ``GET /api/runs`` and one run's page, ``--repeat`` times each over HTTP (first = cold cache);
- browser: headless Chromium loads ``/`` ``--browser-repeat`` times; the page's Navigation
  Timing gives the time to the response's first byte, DOMContentLoaded and the load event.

Raw numbers go to benchmarks/out/studio.json with the load average before and after.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPIED = (
    "run.json",
    "config.yaml",
    "metrics.json",
    "train_log.jsonl",
    "doctor.json",
    "labels.json",
)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def tiny_source(tmp: Path) -> Path:
    """A finished run of a tiny random BERT on tiny learnable data (seconds)."""
    sys.path.insert(0, str(ROOT))
    import tunewise
    from tests.conftest import build_tiny_model, make_rows, tiny_config, write_jsonl

    model = build_tiny_model(tmp / "tiny-bert")
    data = {
        s: write_jsonl(tmp / f"{s}.jsonl", make_rows(n, i))
        for i, (s, n) in enumerate((("train", 160), ("dev", 40), ("test", 60)))
    }
    cfg = tiny_config(model, data, tmp / "source", epochs=3)
    return tunewise.train(cfg).path


def build_registry(source: Path, n: int, tmp: Path) -> tuple[Path, float]:
    """``n`` copies of ``source`` recorded in a fresh registry; returns (registry, seconds)."""
    from tunewise.registry.store import Registry, run_row

    reg = Registry(tmp / "runs.db")
    t0 = time.perf_counter()
    for i in range(n):
        d = tmp / "runs" / f"run-{i:04d}"
        d.mkdir(parents=True)
        for name in COPIED:
            if (source / name).is_file():
                shutil.copy(source / name, d / name)
        info = json.loads((d / "run.json").read_text())
        if i % 10 == 3:
            info.update(status="failed", error="RuntimeError: out of memory (benchmark row)")
        elif i % 10 == 7:
            info.update(status="interrupted")
        (d / "run.json").write_text(json.dumps(info))
        reg.upsert(run_row(d))
    return reg.path, time.perf_counter() - t0


def serve(registry: Path, workdir: Path):
    import uvicorn

    from tunewise.studio import create_app, make_studio

    app = create_app(make_studio(registry, workdir))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, server.servers[0].sockets[0].getsockname()[1]


def get(port: int, path: str) -> tuple[float, int, int]:
    """(seconds to the whole response, status, bytes) of one GET."""
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return time.perf_counter() - t0, r.status, len(body)


def time_server(port: int, paths: dict[str, str], repeat: int) -> dict:
    out = {}
    for name, path in paths.items():
        times, size = [], 0
        for _ in range(repeat):
            t, status, size = get(port, path)
            assert status == 200, (path, status)
            times.append(t)
        warm = times[1:] or times
        out[name] = {
            "path": path,
            "cold_s": times[0],
            "median_s": statistics.median(warm),
            "max_s": max(warm),
            "bytes": size,
            "n": repeat,
        }
    return out


def time_browser(url: str, repeat: int, profile: Path) -> dict | None:
    chromium, driver_path = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
    if not (chromium.exists() and driver_path.exists()):
        return None
    from selenium import webdriver

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(chromium)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", f"--user-data-dir={profile}"):  # fmt: skip
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(str(driver_path)))
    marks = {"first_byte_s": [], "dom_content_loaded_s": [], "load_s": [], "rows": []}
    try:
        for _ in range(repeat):
            driver.get(url)
            nav = driver.execute_script(
                "const n = performance.getEntriesByType('navigation')[0];"
                "return [n.responseStart - n.startTime, n.domContentLoadedEventEnd - n.startTime,"
                " n.loadEventEnd - n.startTime, document.querySelectorAll('#runs tbody tr').length];"
            )
            for key, v in zip(("first_byte_s", "dom_content_loaded_s", "load_s"), nav[:3]):
                marks[key].append(v / 1000)
            marks["rows"].append(nav[3])
    finally:
        driver.quit()
    return {
        k: ({"median": statistics.median(v), "max": max(v), "n": len(v)} if k != "rows" else v[0])
        for k, v in marks.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--source", type=Path, help="A finished run to copy [a tiny in-process run]")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--browser-repeat", type=int, default=5)
    ap.add_argument("--json-out", type=Path, default=ROOT / "benchmarks" / "out" / "studio.json")
    args = ap.parse_args()
    result = {"command": " ".join(sys.argv), "load_before": load(), "runs": args.runs}
    with tempfile.TemporaryDirectory(prefix="bench-studio-") as tmp:
        tmp = Path(tmp)
        os.environ["TUNEWISE_REGISTRY"] = str(tmp / "source-registry.db")
        source = args.source or tiny_source(tmp)
        registry, build_s = build_registry(source, args.runs, tmp)
        result["registry_build_s"] = build_s
        server, port = serve(registry, tmp / "work")
        try:
            result["server"] = time_server(
                port, {"runs page /": "/", "/api/runs": "/api/runs", "a run's page": "/runs/1"},
                args.repeat,
            )  # fmt: skip
            result["browser"] = time_browser(
                f"http://127.0.0.1:{port}/", args.browser_repeat, tmp / "profile"
            )
        finally:
            server.should_exit = True
    result["load_after"] = load()
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2))
    print(f"{args.runs} runs recorded in {build_s:.1f} s; load {result['load_before']} -> "
          f"{result['load_after']}")  # fmt: skip
    print("| request | cold (s) | median warm (s) | max warm (s) | bytes |")
    print("|---|---:|---:|---:|---:|")
    for name, r in result["server"].items():
        print(
            f"| {name} | {r['cold_s']:.3f} | {r['median_s']:.3f} | {r['max_s']:.3f} | {r['bytes']:,} |"
        )
    b = result["browser"]
    if b:
        print(
            f"\nbrowser, {b['load_s']['n']} loads of / ({b['rows']} rows in the table), median (max):"
        )
        for k in ("first_byte_s", "dom_content_loaded_s", "load_s"):
            print(f"- {k}: {b[k]['median']:.3f} s ({b[k]['max']:.3f})")


if __name__ == "__main__":
    main()
