"""PEFT benchmark: every fine-tuning method on SST-2 sentences with all-MiniLM-L6-v2.

Per method and seed, in a fresh subprocess (so peak memory is the method's own): trainable
parameters (count, %), dev and test accuracy of the final weights, training time and examples/s
(training steps only), peak memory (CUDA max allocated, or CPU peak RSS), and the size on disk
of what the method saves. Accuracy is summarised as mean and std over seeds.

Runs from a source checkout without installing tunewise (``PYTHONPATH=src``); needs torch,
transformers, peft (and its accelerate), numpy, pydantic and pyyaml. Paths are
explicit: ``--model-dir`` (a local model directory) and ``--data-dir`` (train.tsv/test.tsv with
``sentence`` and ``label`` columns).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ALL = [
    "full",
    "head",
    "lora",
    "rslora",
    "dora",
    "adalora",
    "ia3",
    "prefix",
    "prompt",
    "ptuning",
    "adapter",
]
NEEDED = ["torch", "transformers", "peft", "accelerate", "numpy", "pydantic", "yaml"]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-dir", required=True, help="local model directory (minilm)")
    p.add_argument("--data-dir", default="/work/shared/datasets/sst2_sentences")
    p.add_argument(
        "--methods",
        default=",".join(ALL),
        help="comma-separated method names; NAME@LR (lora@2e-3) runs NAME at that lr, so "
        "several rates of one method compare in one run",
    )
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--train-rows", type=int, default=0, help="first N train rows (0 = all)")
    p.add_argument("--test-rows", type=int, default=0, help="first N test rows (0 = all)")
    p.add_argument("--epochs", type=float, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--base-lr", type=float, default=1e-4, help="the model's full fine-tuning lr")
    p.add_argument("--lr", default="", help="method=lr,... overrides (default: method default)")
    p.add_argument("--options", default="{}", help='JSON per method, e.g. {"lora": {"r": 16}}')
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    p.add_argument("--jobs", type=int, default=1, help="trainings run at once (speeds shared)")
    p.add_argument("--bf16", choices=["auto", "on", "off"], default="off")
    p.add_argument("--out-json", default="benchmarks/out/bench_peft.json")
    p.add_argument("--out-md", default="benchmarks/out/bench_peft.md")
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: method:seed in a subprocess
    return p.parse_args(argv)


class Example:
    """What ClassificationTask.encode reads (tunewise.data would pull in pandas)."""

    def __init__(self, text: str, label: str):
        self.text, self.text_pair, self.label = text, None, label


def read_tsv(path: Path, n: int):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    rows = rows[:n] if n else rows
    return [Example(r["sentence"], str(r["label"])) for r in rows]


def run_one(args, label: str, seed: int) -> dict:
    """Train one method with one seed; everything measured here."""
    import numpy as np
    import torch
    from accelerate import Accelerator
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed

    from tunewise.config import TrainConfig
    from tunewise.methods import (
        apply_method,
        default_lr,
        method_hooks,
        method_record,
        save_trained,
        trainable_summary,
    )
    from tunewise.tasks import ClassificationTask
    from tunewise.training.loop import fit, planned_steps, predict_logits

    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    acc = Accelerator(cpu=not cuda)
    data = Path(args.data_dir)
    train_ex, test_ex = (
        read_tsv(data / "train.tsv", args.train_rows),
        read_tsv(data / "test.tsv", args.test_rows),
    )
    task = ClassificationTask(sorted({e.label for e in train_ex}))
    tok = AutoTokenizer.from_pretrained(args.model_dir)
    train, test = (task.encode(x, tok, args.max_length) for x in (train_ex, test_ex))
    dev = None
    if (data / "dev.tsv").is_file():  # for choosing between rates: never test
        dev = task.encode(read_tsv(data / "dev.tsv", 0), tok, args.max_length)
    lrs = dict(kv.split("=") for kv in args.lr.split(",") if kv)
    method, _, at_lr = label.partition("@")
    if at_lr:
        lrs[method] = at_lr
    options = json.loads(args.options)
    from tunewise.methods import get_method

    key = get_method(method).key
    method_cfg = {"name": method, **({key: options[key]} if key in options else {})}
    lr = float(lrs[method]) if method in lrs else default_lr(method_cfg, args.base_lr)
    cfg = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=lr,
        seed=seed,
        bf16={"auto": "auto", "on": True, "off": False}[args.bf16],
        checkpoint_every=None,
    )
    set_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        args.model_dir, **task.model_kwargs()
    )
    total, _ = planned_steps(train, cfg)
    model = apply_method(model, method_cfg, task, total_steps=total)
    params = trainable_summary(model)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as tmp:
        state = fit(
            model=model,
            task=task,
            train=train,
            dev=None,
            cfg=cfg,
            accelerator=acc,
            pad_id=tok.pad_token_id or 0,
            metric="accuracy",
            checkpoint_dir=Path(tmp) / "ckpt",
            method_hooks=method_hooks(model, method_cfg),
        )
        peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
        saved = Path(tmp) / "saved"
        saved.mkdir()
        raw = acc.unwrap_model(model)
        save_trained(raw, saved, method_cfg)
        size = sum(f.stat().st_size for f in saved.rglob("*") if f.is_file())

    def accuracy_on(split):
        logits = predict_logits(model, task, split, args.batch_size * 2, acc, tok.pad_token_id or 0)
        return float((logits.argmax(1) == split.labels).mean())

    accuracy = accuracy_on(test)
    dev_accuracy = accuracy_on(dev) if dev is not None else None
    if not cuda:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB (Linux)
    return {
        "method": label,
        "seed": seed,
        "lr": lr,
        "options": method_record(method_cfg)["options"],
        **params,
        "test_accuracy": accuracy,
        "dev_accuracy": dev_accuracy,
        "test_rows": len(test),
        "train_rows": len(train),
        "steps": state.step,
        "train_seconds": round(state.train_seconds, 2),
        "examples_per_s": round(state.examples / max(state.train_seconds, 1e-9), 2),
        "peak_memory_mib": round(peak, 1),
        "memory_kind": "cuda_max_allocated" if cuda else "cpu_peak_rss",
        "saved_bytes": size,
        "device": "cuda" if cuda else "cpu",
        "majority": float(max(np.mean(test.labels == c) for c in range(len(task.labels)))),
    }


def summarize(results: list[dict]) -> list[dict]:
    rows = []
    for m in dict.fromkeys(r["method"] for r in results):
        rs = [r for r in results if r["method"] == m]
        accs = [r["test_accuracy"] for r in rs]
        rows.append(
            {
                "method": m,
                "trainable": rs[0]["trainable"],
                "percent": rs[0]["percent"],
                "lr": rs[0]["lr"],
                "seeds": len(rs),
                "acc_mean": statistics.mean(accs),
                "acc_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                "dev_mean": (
                    statistics.mean(r["dev_accuracy"] for r in rs)
                    if all(r.get("dev_accuracy") is not None for r in rs)
                    else None
                ),
                "train_seconds": statistics.mean(r["train_seconds"] for r in rs),
                "examples_per_s": statistics.mean(r["examples_per_s"] for r in rs),
                "peak_memory_mib": max(r["peak_memory_mib"] for r in rs),
                "saved_mib": rs[0]["saved_bytes"] / 2**20,
            }
        )
    return rows


def markdown(args, rows, meta) -> str:
    lines = [
        f"PEFT benchmark: {meta['train_rows']} train rows, {meta['test_rows']} test rows, "
        f"{args.epochs} epochs, batch {args.batch_size}, {args.seeds} seed(s), device "
        f"{meta['device']}, {args.jobs} training(s) at a time, load average before/after "
        f"{meta['load_before']} / {meta['load_after']}; lr overrides: {args.lr or 'none'}; "
        f"options: {args.options}",
        "",
        "| method | trainable | % | lr | dev acc (mean) | test acc (mean ± std) | train s | ex/s | peak MiB | saved KiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['trainable']:,} | {r['percent']:.3f} | {r['lr']:g} | "
            f"{'-' if r['dev_mean'] is None else format(r['dev_mean'], '.3f')} | {r['acc_mean']:.3f} ± {r['acc_std']:.3f} | {r['train_seconds']:.0f} | "
            f"{r['examples_per_s']:.1f} | {r['peak_memory_mib']:.0f} | {r['saved_mib'] * 1024:.1f} |"
        )
    for f in meta["failed"]:
        lines.append(f"| {f['method']} (seed {f['seed']}) | failed: {f['error']} |")
    lines.append(
        f"\nmajority-class test accuracy: {meta['majority']:.3f}; peak memory: {meta['memory_kind']}"
    )
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.one:
        m, s = args.one.rsplit(":", 1)
        print("RESULT " + json.dumps(run_one(args, m, int(s))), flush=True)
        return
    missing = [n for n in NEEDED if __import__("importlib.util").util.find_spec(n) is None]
    if missing:
        sys.exit(
            f"missing modules: {', '.join(missing)} (pip install them; tunewise needs no install: PYTHONPATH=src)"
        )
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    load_before = os.getloadavg()
    base = list(argv if argv is not None else sys.argv[1:])
    jobs = [(m, 42 + s) for m in methods for s in range(args.seeds)]

    def one(job):
        m, seed = job
        cmd = [sys.executable, __file__, *base, "--one", f"{m}:{seed}"]
        t = time.time()
        p = subprocess.run(cmd, capture_output=True, text=True)
        line = next((x for x in p.stdout.splitlines() if x.startswith("RESULT ")), None)
        if p.returncode or line is None:
            err = (p.stderr.strip().splitlines() or ["?"])[-1][:300]
            print(f"{m} seed {seed} FAILED (exit {p.returncode}): {err}", flush=True)
            print(p.stderr[-3000:], file=sys.stderr)
            return {"method": m, "seed": seed, "error": err}
        r = json.loads(line[7:])
        print(
            f"{m} seed {seed}: acc {r['test_accuracy']:.4f} {r['examples_per_s']} ex/s "
            f"({time.time() - t:.0f}s wall)",
            flush=True,
        )
        return r

    # --jobs > 1 runs several trainings at once (one GPU is far from busy with minilm); their
    # speeds are then measured side by side under the same sharing, and labelled so
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(one, jobs))
    failed = [r for r in results if "error" in r]
    results = [r for r in results if "error" not in r]
    if not results:
        sys.exit("every run failed")
    meta = {
        "failed": failed,
        "train_rows": results[0]["train_rows"],
        "test_rows": results[0]["test_rows"],
        "device": results[0]["device"],
        "memory_kind": results[0]["memory_kind"],
        "majority": results[0]["majority"],
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "args": vars(args),
        "python": platform.python_version(),
        "command": " ".join([sys.argv[0], *base]),
    }
    rows = summarize(results)
    for path, text in (
        (args.out_json, json.dumps({"meta": meta, "summary": rows, "runs": results}, indent=1)),
        (args.out_md, markdown(args, rows, meta)),
    ):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
    print(markdown(args, rows, meta))


if __name__ == "__main__":
    main()
