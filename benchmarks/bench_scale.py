"""Scale benchmark: training throughput of `tunewise train` with 1 and 2 processes (CPU, gloo).

Same model (minilm), data (the first N SST-2 sentences), epochs and global batch in every
variant; only the process/thread layout changes:

  1p x 1t   one process, 1 torch thread, batch 32
  1p x 2t   one process, 2 torch threads, batch 32            (all cores, no distribution)
  2p x 1t   `accelerate launch --cpu --num_processes 2`, 1 thread each, batch 16 per process
            (global batch 32, gradients all-reduced over gloo)

Examples/s count the training loop only (metrics.json training.examples_per_s). The variants
run one after the other inside this script, in rounds, so their ratios share the load of the
moment; the load average is recorded before and after each run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def variants(common: list[str]) -> dict[str, list[str]]:
    tw = [str(BIN / "tunewise"), "train"]
    launch = [str(BIN / "accelerate"), "launch", "--cpu", "--num_processes", "2", "-m", "tunewise"]
    return {
        "1p x 1t": [*tw, *common, "--batch-size", "32", "train.threads=1"],
        "1p x 2t": [*tw, *common, "--batch-size", "32", "train.threads=2"],
        "2p x 1t": [*launch, "train", *common, "--batch-size", "16", "train.threads=1"],
    }


def subset(src: Path, dst: Path, n: int) -> Path:
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    dst.write_text("".join(lines[: n + 1]), encoding="utf-8")
    return dst


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("SHARED_DATASETS", "/work/shared/datasets"))
    p.add_argument("--rows", type=int, default=640, help="training rows")
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--rounds", type=int, default=2, help="times each variant runs")
    p.add_argument("--json-out", type=Path, default=ROOT / "benchmarks" / "out" / "scale.json")
    a = p.parse_args(argv)
    src = Path(a.data) / "sst2_sentences"
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    train = subset(src / "train.tsv", tmp / "train.tsv", a.rows)
    dev = subset(src / "dev.tsv", tmp / "dev.tsv", 64)
    test = subset(src / "test.tsv", tmp / "test.tsv", 64)
    common = ["--model", "minilm", "--train", str(train), "--dev", str(dev), "--test", str(test)]
    common += ["--text-column", "sentence", "--label-column", "label", "--epochs", "1"]
    common += ["--max-length", str(a.max_length), "--no-doctor", "--no-bf16", "--lr", "5e-5"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")
    env["TUNEWISE_REGISTRY"] = str(tmp / "runs.db")  # keep benchmark runs out of the user's
    results: dict[str, list[dict]] = {}
    for r in range(a.rounds):
        for name, cmd in variants(common).items():
            out = tmp / f"{name.replace(' ', '')}-{r}"
            load0 = os.getloadavg()[0]
            t = time.perf_counter()
            proc = subprocess.run(
                [*cmd, "--out", str(out)], env=env, capture_output=True, text=True
            )
            wall = time.perf_counter() - t
            if proc.returncode:
                sys.exit(f"{name} failed:\n{proc.stderr[-2000:]}")
            m = json.loads((out / "metrics.json").read_text())
            rec = {
                "examples_per_s": m["training"]["examples_per_s"],
                "train_seconds": m["training"]["train_seconds"],
                "steps": m["training"]["steps"],
                "processes": m["training"]["processes"],
                "wall_s": round(wall, 1),
                "test_accuracy": m["test"]["accuracy"],
                "load_before": round(load0, 2),
                "load_after": round(os.getloadavg()[0], 2),
            }
            results.setdefault(name, []).append(rec)
            print(f"round {r + 1} {name}: {rec}", flush=True)
    base = statistics.median(x["examples_per_s"] for x in results["1p x 1t"])
    rows = []
    for name, recs in results.items():
        eps = statistics.median(x["examples_per_s"] for x in recs)
        loads = " / ".join(f"{x['load_before']}-{x['load_after']}" for x in recs)
        rows.append(
            f"| {name} | {recs[0]['processes']} | {recs[0]['steps']} | "
            f"{' / '.join(str(x['examples_per_s']) for x in recs)} | {eps:.1f} | "
            f"{eps / base:.2f}x | {statistics.median(x['wall_s'] for x in recs):.0f} | "
            f"{loads} |"
        )
    table = "\n".join(
        [
            "| variant | processes | steps | examples/s per round | median | vs 1p x 1t | wall s | load avg (before-after) |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    print()
    print(table)
    info = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "args": vars(a) | {"json_out": str(a.json_out)},
        "results": results,
    }
    a.json_out.parent.mkdir(parents=True, exist_ok=True)
    a.json_out.write_text(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
