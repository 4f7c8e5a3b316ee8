"""NER benchmark: entity F1 of tunewise + all-MiniLM-L6-v2 on CoNLL-2003 (testb) and WNUT-17.

Trains with ``tunewise.train`` (task tokens) on each dataset's train split, selects on its dev
split (CoNLL testa, WNUT emerging.dev), and scores the whole test split with seqeval in strict
mode. Reported per dataset: entity micro P/R/F1 with a bootstrap 95% interval, macro F1, F1
per type, token accuracy (secondary), the word-memory baseline, training time and speed, the
device and the load average. For reference, BERT-base reports 92.4 F1 on CoNLL-2003 test
(Devlin et al. 2019); MiniLM-L6 is a 6-layer, 22M-parameter sentence-embedding model.

    python benchmarks/bench_tokens.py                       # full, device auto
    python benchmarks/bench_tokens.py --train-limit 2000 --epochs 1 --device cpu   # reduced
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent / "out"
DATASETS = {
    "conll2003": ("conll2003", "eng.train", "eng.testa", "eng.testb"),
    "wnut17": ("wnut17", "wnut17train.conll", "emerging.dev.conll", "emerging.test.annotated"),
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path("/work/shared/datasets"),
        help="folder holding conll2003/ and wnut17/",
    )
    p.add_argument("--model", default="minilm", help="packaged name or local model directory")
    p.add_argument("--only", default="conll2003,wnut17", help="comma list of datasets")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--epochs", type=float, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=None, help="[the model's recommended rate]")
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--train-limit", type=int, default=None, help="first N train sentences")
    p.add_argument("--dev-limit", type=int, default=None, help="first N dev sentences")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--json-out", type=Path, default=None, help=f"[{OUT_DIR}/tokens-<time>.json]")
    p.add_argument("--markdown-out", type=Path, default=None, help="append the table here")
    args = p.parse_args(argv)
    args.only = [d.strip() for d in args.only.split(",") if d.strip()]
    if unknown := sorted(set(args.only) - set(DATASETS)):
        p.error(f"--only: unknown dataset(s) {unknown}; choose from {sorted(DATASETS)}")
    return args


def first_sentences(src: Path, dst: Path, n: int | None) -> Path:
    """A copy of ``src`` with only its first ``n`` sentences (all when None)."""
    if n is None:
        dst.write_bytes(src.read_bytes())
        return dst
    out, count, in_sentence = [], 0, False
    for line in src.read_text(encoding="utf-8").splitlines(keepends=True):
        blank = not line.strip() or line.startswith("-DOCSTART-")
        if not blank and not in_sentence:
            if count == n:
                break
            count += 1
        in_sentence = not blank
        out.append(line)
    dst.write_text("".join(out), encoding="utf-8")
    return dst


def run_one(args, name: str, tmp: Path) -> dict:
    import tunewise

    folder, train, dev, test = DATASETS[name]
    src = args.data_dir / folder
    for f in (train, dev, test):
        if not (src / f).is_file():
            raise SystemExit(f"{src / f}: not found (give --data-dir)")
    data = {
        "train": first_sentences(src / train, tmp / f"{name}.{train}", args.train_limit),
        "dev": first_sentences(src / dev, tmp / f"{name}.{dev}", args.dev_limit),
        "test": src / test,  # always the whole test split
    }
    cfg = {
        "task": {"type": "tokens"},
        "model": {"name": args.model, "max_length": args.max_length},
        "data": {k: str(v) for k, v in data.items()},
        "train": {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "seed": args.seed,
            "threads": args.threads,
            "checkpoint_every": None,
        },
        "out": str(tmp / f"run-{name}"),
    }
    t0 = time.perf_counter()
    result = tunewise.train(cfg, echo=lambda line: print(f"[{name}] {line}", file=sys.stderr))
    wall = time.perf_counter() - t0
    m = result.metrics
    info = json.loads((result.path / "data.json").read_text())
    test_m = m["test"]
    return {
        "dataset": name,
        "sentences": info["rows"],
        "tag_schemes": info["tag_schemes"],
        "test": {
            k: test_m[k]
            for k in (
                "micro_precision",
                "micro_recall",
                "micro_f1",
                "macro_f1",
                "token_accuracy",
                "n",
                "gold_entities",
            )
        },
        "ci": test_m.get("ci", {}),
        "per_type_f1": {t: round(v["f1"], 4) for t, v in test_m["per_type"].items()},
        "dev_micro_f1": m.get("dev", {}).get("micro_f1"),
        "baseline_word_memory_f1": m["baselines"]["word_memory"]["micro_f1"],
        "training": m["training"],
        "best_step": m["best_step"],
        "wall_seconds": round(wall, 1),
    }


def markdown(res: dict) -> str:
    env = res["environment"]
    lines = [
        f"### NER ({res['label']}): {env['device']}, {time.strftime('%Y-%m-%d')}",
        "",
        f"`{res['command']}`; load average at start {env['load_start']}, at end {env['load_end']}",
        "",
        "| dataset | train sentences | epochs | entity F1 (test, 95% CI) | P | R | macro F1 | token acc. | word-memory baseline F1 | train time | sentences/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["results"]:
        t, ci, tr = r["test"], r["ci"].get("micro_f1", ["?", "?"]), r["training"]
        lines.append(
            f"| {r['dataset']} | {r['sentences']['train']} | {tr['epochs']} | "
            f"{t['micro_f1']:.4f} [{ci[0]}, {ci[1]}] | {t['micro_precision']:.4f} | "
            f"{t['micro_recall']:.4f} | {t['macro_f1']:.4f} | {t['token_accuracy']:.4f} | "
            f"{r['baseline_word_memory_f1']:.4f} | {tr['train_seconds']:.0f} s | "
            f"{tr['examples_per_s']:.1f} |"
        )
    lines.append("")
    for r in res["results"]:
        per = ", ".join(f"{k} {v:.3f}" for k, v in r["per_type_f1"].items())
        lines.append(f"- {r['dataset']} F1 per type: {per}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch is imported
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device visible")
    device = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else (
            f"CPU ({os.cpu_count()} cores, {args.threads or torch.get_num_threads()} torch threads)"
        )
    )
    reduced = args.train_limit is not None or args.dev_limit is not None
    res = {
        "label": "reduced" if reduced else "full",
        "command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
        "args": {k: str(v) for k, v in vars(args).items()},
        "environment": {
            "device": device,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "load_start": [round(x, 2) for x in os.getloadavg()],
        },
        "results": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only:
            res["results"].append(run_one(args, name, Path(tmp)))
            print(json.dumps(res["results"][-1]), file=sys.stderr)
    res["environment"]["load_end"] = [round(x, 2) for x in os.getloadavg()]
    out = args.json_out or OUT_DIR / f"tokens-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    md = markdown(res)
    print(md)
    if args.markdown_out:
        with open(args.markdown_out, "a", encoding="utf-8") as f:
            f.write("\n" + md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
