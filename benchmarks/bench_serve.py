"""Serving benchmark: tunewise serve (torch fp32, ONNX fp32, ONNX int8; micro-batched) vs a
naive one-forward-per-request server, over HTTP with wrk, plus in-process references
(torch, Hugging Face pipeline, ONNX Runtime) on the SST-2 test sentences. Extra tunewise
servers differ only in the batch window (`--max-wait-ms`, how long a batch gathers while
another computes), to measure the window. wrk comes from `make bench-setup` (apt-get).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_serve.py --run RUN \\
        --markdown-out benchmarks/RESULTS.md

RUN is a finished minilm classification run (accuracy is not the point: 1 epoch on 2,000 rows
is enough). Every request carries one sentence, cycling through the 1,821 test sentences; each
point runs wrk for --seconds at a fixed number of connections. Raw numbers go to
benchmarks/out/serve.json with the load average before and after each part.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SHARED_DATASETS", ROOT.parent / "shared" / "datasets"))

LUA = r"""
local bodies = {}
for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", "/v1/classify", {["Content-Type"] = "application/json"},
                    bodies[(i - 1) % #bodies + 1])
end
done = function(s, latency, requests)
  local e = s.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\n", s.requests, s.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a process has used: the server's cost of the
    requests, which the machine's other load does not change the way wall time changes."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def read_sentences(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("\t")[0] for line in lines if line.strip()]


def timed(fn, texts, warm=64):
    fn(texts[:warm])
    t0 = time.perf_counter()
    out = fn(texts)
    return out, len(texts) / (time.perf_counter() - t0)


def in_process(run: Path, fp32: Path, int8: Path, texts: list[str]) -> dict:
    import torch
    from transformers import pipeline

    from tunewise.export.onnx_predictor import OnnxPredictor
    from tunewise.tasks.classification.predictor import Predictor

    torch.set_num_threads(1)  # one thread everywhere, as the server runs (fastest when shared)
    res, labels = {"load_before": load()}, {}

    def lab(pred):
        return lambda xs: [r["label"] for r in pred.predict(xs)]

    for name, pred in (
        ("torch fp32, batch 32 (length-sorted)", Predictor(run, batch_size=32)),
        ("onnx fp32, batch 32 (length-sorted)", OnnxPredictor(fp32, batch_size=32, threads=1)),
        ("onnx fp32, batch 1", OnnxPredictor(fp32, batch_size=1, threads=1)),
        ("onnx int8, batch 32 (length-sorted)", OnnxPredictor(int8, batch_size=32, threads=1)),
        ("onnx int8, batch 1", OnnxPredictor(int8, batch_size=1, threads=1)),
    ):
        labels[name], res[name] = timed(lab(pred), texts)
    pipe = pipeline("text-classification", model=str(run / "model"), batch_size=32)
    max_len = json.loads((run / "model" / "tunewise.json").read_text())["max_length"]
    labels["pipeline"], res["HF pipeline, batch 32"] = timed(
        lambda xs: [r["label"] for r in pipe(xs, truncation=True, max_length=max_len)], texts
    )
    ref = labels["torch fp32, batch 32 (length-sorted)"]

    def agree(other):
        return sum(a == b for a, b in zip(ref, other)) / len(ref)

    res["agreement_vs_torch_fp32"] = {
        "onnx fp32": agree(labels["onnx fp32, batch 32 (length-sorted)"]),
        "onnx int8": agree(labels["onnx int8, batch 32 (length-sorted)"]),
        "HF pipeline": agree(labels["pipeline"]),
    }
    res["load_after"] = load()
    res["_labels"] = {"torch": ref, "onnx-fp32": labels["onnx fp32, batch 32 (length-sorted)"]}
    res["_labels"]["onnx-int8"] = labels["onnx int8, batch 32 (length-sorted)"]
    return res


def post(port: int, body: dict) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/classify",
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def wrk(port: int, conns: int, seconds: int, script: Path, bodies: Path) -> dict:
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script)]
    out = subprocess.run(
        cmd + [f"http://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        env=dict(os.environ, BODIES=str(bodies)),
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    n, dur, p50, p99, bad_status, sock_err = map(int, line.split()[1:])
    return {
        "concurrency": conns,
        "requests": n,
        "req_per_s": round(n / (dur / 1e6), 1),
        "p50_ms": round(p50 / 1000, 1),
        "p99_ms": round(p99 / 1000, 1),
        "non_2xx": bad_status,
        "socket_errors": sock_err,
    }


def start_server(name: str, cmd: list) -> subprocess.Popen:
    slug = "".join(c if c.isalnum() else "-" for c in name)
    log = open(Path(tempfile.gettempdir()) / f"bench-serve-{slug}.log", "w")
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    if "OMP_NUM_THREADS=1" in name:
        env["OMP_NUM_THREADS"] = "1"
    return subprocess.Popen(cmd, stdout=log, stderr=log, env=env)


def wait_healthy(port: int) -> None:
    for _ in range(1200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"server on port {port} did not start")


def http_rounds(variants: dict, args, script: Path, bodies: Path, texts: list[str]) -> dict:
    """All servers up at once; at each concurrency every server is measured in turn, so a
    change in the machine's load hits them alike."""
    procs = {}
    res = {}
    try:
        for i, (name, (cmd, _)) in enumerate(variants.items()):
            port = args.port + i
            procs[name] = (start_server(name, cmd + ["--port", str(port)]), port)
        for name, (_, port) in procs.items():
            wait_healthy(port)
            wrk(port, 8, 3, script, bodies)  # warm-up, discarded
            res[name] = {"cmd": " ".join(variants[name][0]), "points": []}
        for c in args.concurrency:
            for name, (_, port) in procs.items():
                before, cpu0 = load(), cpu_seconds(procs[name][0].pid)
                p = wrk(port, c, args.seconds, script, bodies)
                cpu = cpu_seconds(procs[name][0].pid) - cpu0
                p["load_before"], p["load_after"] = before, load()
                p["server_cpu_s"] = round(cpu, 2)
                p["cpu_ms_per_req"] = round(1000 * cpu / max(p["requests"], 1), 1)
                res[name]["points"].append(p)
                print(name, p, flush=True)
        for name, (_, port) in procs.items():
            got = [r["label"] for r in post(port, {"texts": texts[:256]})["results"]]
            res[name]["labels_equal_in_process_first_256"] = got == variants[name][1][:256]
    finally:
        for proc, _ in procs.values():
            proc.terminate()
        for proc, _ in procs.values():
            proc.wait(60)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--run", type=Path, required=True, help="finished minilm run directory")
    ap.add_argument("--data", type=Path, default=DATA / "sst2_sentences" / "test.tsv")
    ap.add_argument("--exports", type=Path, default=ROOT / "benchmarks" / "out" / "serve-exports")
    ap.add_argument("--seconds", type=int, default=15, help="wrk duration per point")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--port", type=int, default=18931)
    ap.add_argument("--markdown-out", type=Path)
    ap.add_argument("--limit", type=int, help="only the first N sentences (a quick trial)")
    ap.add_argument(
        "--waits",
        type=float,
        nargs="*",
        default=[0, 2, 10],
        help="extra tunewise torch servers with these --max-wait-ms (the default is 2)",
    )
    args = ap.parse_args()
    import shutil

    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: run `make bench-setup` (installs it with apt-get)")
    from tunewise.export.onnx import ParityError, export_onnx

    texts = read_sentences(args.data)[: args.limit]
    fp32, int8 = args.exports / "fp32", args.exports / "int8"
    exports = {}
    for path, q in ((fp32, None), (int8, "int8")):
        try:
            exports[q or "fp32"] = export_onnx(args.run, path, quantize=q, overwrite=True)
        except ParityError as e:  # recorded and reported; the export is still written
            print(e, flush=True)
            exports[q or "fp32"] = json.loads((path / "export.json").read_text())
    result = {
        "data": str(args.data),
        "sentences": len(texts),
        "run": str(args.run),
        "cpus": os.cpu_count(),
        "exports": {
            k: {"size_bytes": v["size_bytes"], "parity": v["parity"], "quant": v["quantization"]}
            for k, v in exports.items()
        },
    }
    result["in_process"] = ip = in_process(args.run, fp32, int8, texts)
    labels = ip.pop("_labels")
    tmp = Path(tempfile.mkdtemp())
    script, bodies = tmp / "bench.lua", tmp / "bodies.jsonl"
    script.write_text(LUA)
    bodies.write_text("".join(json.dumps({"texts": [t]}) + "\n" for t in texts))
    tw = [sys.executable, "-m", "tunewise", "serve", "--allow-failed-parity"]
    naive = [sys.executable, str(ROOT / "benchmarks" / "naive_server.py"), str(args.run)]
    variants = {
        "naive (torch fp32, 1 forward/request)": (naive, labels["torch"]),
        "naive, OMP_NUM_THREADS=1": (naive, labels["torch"]),
        "tunewise torch fp32": (tw + [str(args.run)], labels["torch"]),
        **{
            f"tunewise torch fp32, wait {w:g} ms": (
                tw + ["--max-wait-ms", str(w), str(args.run)],
                labels["torch"],
            )
            for w in args.waits
        },
        "tunewise onnx fp32": (tw + [str(fp32)], labels["onnx-fp32"]),
        "tunewise onnx int8": (tw + [str(int8)], labels["onnx-int8"]),
    }
    result["http"] = http_rounds(variants, args, script, bodies, texts)
    out = ROOT / "benchmarks" / "out" / "serve.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    md = markdown(result, args)
    print(md)
    if args.markdown_out:
        with open(args.markdown_out, "a") as f:
            f.write("\n" + md)


def markdown(r: dict, args) -> str:
    ip, http = r["in_process"], r["http"]
    rows = [
        f"| {k} | {v:.0f} |"
        for k, v in ip.items()
        if isinstance(v, float) and not k.startswith("load")
    ]
    lines = [
        f"## Serving (`bench_serve.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"{r['sentences']} SST-2 test sentences, minilm fine-tuned (`{r['run']}`), {r['cpus']} CPUs "
        f"shared with other work. Command: `{' '.join(sys.argv)}`.",
        "",
        "In process (sentences/s):",
        "",
        "| variant | sentences/s |",
        "|---|---|",
        *rows,
        "",
        f"Label agreement with torch fp32 on all sentences: {ip['agreement_vs_torch_fp32']}. "
        f"Load average before/after: {ip['load_before']} / {ip['load_after']}.",
        "",
        f"Over HTTP (wrk, one sentence per request, {args.seconds} s per point):",
        "",
        "| server | concurrency | req/s | p50 ms | p99 ms | errors | server CPU ms/request | load avg before/after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, v in http.items():
        for p in v["points"]:
            lines.append(
                f"| {name} | {p['concurrency']} | {p['req_per_s']} | {p['p50_ms']} | "
                f"{p['p99_ms']} | {p['non_2xx'] + p['socket_errors']} | {p['cpu_ms_per_req']} | "
                f"{p['load_before']} / {p['load_after']} |"
            )
    names = list(http)
    base = {n: {p["concurrency"]: p["req_per_s"] for p in http[n]["points"]} for n in names[:2]}
    lines += ["", "Throughput relative to the naive server (default threads / 1 thread):", ""]
    for name in names[2:]:
        ratios = ", ".join(
            f"c={p['concurrency']}: {p['req_per_s'] / base[names[0]][p['concurrency']]:.2f}x / "
            f"{p['req_per_s'] / base[names[1]][p['concurrency']]:.2f}x"
            for p in http[name]["points"]
        )
        lines.append(f"- {name}: {ratios}")
    cpu = {n: {p["concurrency"]: p["cpu_ms_per_req"] for p in http[n]["points"]} for n in names}
    lines += [
        "",
        "Requests per server CPU-second relative to the naive server (default / 1 thread):",
        "",
    ]
    for name in names[2:]:
        ratios = ", ".join(
            f"c={c}: {cpu[names[0]][c] / ms:.2f}x / {cpu[names[1]][c] / ms:.2f}x"
            for c, ms in cpu[name].items()
        )
        lines.append(f"- {name}: {ratios}")
    eq = {k: v["labels_equal_in_process_first_256"] for k, v in http.items()}
    lines += ["", f"Served labels equal the in-process ones (first 256 sentences): {eq}.", ""]
    ex = r["exports"]
    lines.append(
        "Exports: "
        + "; ".join(
            f"{k} {v['size_bytes'] / 1e6:.1f} MB, parity {v['parity']['message']}"
            + (
                f" (int8 recipe: {v['quant']['recipe']}; tried {v['quant']['tried']})"
                if v["quant"]
                else ""
            )
            for k, v in ex.items()
        )
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
