"""[fewshot] benchmark: learning curves on five datasets, the same draws for every method, and
the ``setfit`` library itself on those draws.

Per dataset (SST-2 sentences; from ``setfit_fewshot``: Emotion, SST-5, Enron spam, Amazon
counterfactual), through the product's own commands:

1. ``tunewise curve --shots 8,16,32,64 --methods setfit,full,head,tfidf --draws 5``;
2. ``tunewise curve --shots 8 --methods icl`` (smollm2, K <= 8) with the same seed: the same
   draws (checked byte for byte against the first curve's);
3. ``tunewise curve --shots all --methods full,tfidf --draws 1``: full fine-tuning on all of
   train, the reference of the "K = 64 reaches 85% of it" target;
4. the ``setfit`` library (1.2.0, its defaults: 20 iterations, 1 epoch, batch 16) with the same
   body on each draw of step 1 at K <= ``--lib-max-shots``, in its own venv (``make
   bench-setfit``; it needs ``datasets``, which the project does not pin).

Test rows: a seeded sample of ``--test-rows`` of each test split (the same file for every
method). Writes ``--out/bench_fewshot.json`` and prints the Markdown table for RESULTS.md.

    make bench-setfit
    .venv/bin/python benchmarks/bench_fewshot.py --out benchmarks/out/fewshot
    .venv/bin/python benchmarks/bench_fewshot.py --datasets sst2 --shots 8 --draws 1 --no-all  # smoke
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHARED_DATASETS", ROOT.parent / "shared" / "datasets"))
SETFIT_PY = ROOT / ".venv-setfit" / "bin" / "python"
SETS = {
    "sst2": ("sst2_sentences", None),
    "emotion": ("setfit_fewshot", "emotion.csv"),
    "sst5": ("setfit_fewshot", "sst5.csv"),
    "enron_spam": ("setfit_fewshot", "enron_spam.csv"),
    "amazon_cf": ("setfit_fewshot", "amazon_counterfactual_en.csv"),
}


def prepare(name: str, work: Path, test_rows: int) -> dict:
    """train.csv / test.csv (text,label) for one dataset; test a seeded sample."""
    folder, file = SETS[name]
    if file is None:  # sst2_sentences: train.tsv / test.tsv with sentence, label

        def read(split):
            with open(SHARED / folder / f"{split}.tsv", encoding="utf-8", newline="") as f:
                return [(r["sentence"], r["label"]) for r in csv.DictReader(f, delimiter="\t")]

        train, test = read("train"), read("test")
    else:
        with open(SHARED / folder / file, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        train = [(r["text"], r["label_text"] or r["label"]) for r in rows if r["split"] == "train"]
        test = [(r["text"], r["label_text"] or r["label"]) for r in rows if r["split"] == "test"]
    if test_rows and len(test) > test_rows:
        test = random.Random(13).sample(test, test_rows)
    d = work / name / "data"
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, rs in (("train", train), ("test", test)):
        with open(d / f"{split}.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["text", "label"])
            w.writerows(rs)
        out[split] = d / f"{split}.csv"
    out["classes"] = len({lab for _, lab in train})
    out["train_rows"], out["test_rows"] = len(train), len(test)
    return out


def tw(args: list[str], log: Path) -> None:
    cmd = [sys.executable, "-m", "tunewise", *args]
    with open(log, "a", encoding="utf-8") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
    if r.returncode:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(args)}; see {log}")


def curve(data: dict, out: Path, shots: str, methods: str, draws: int, a, log: Path) -> dict:
    if not (out / "curve.json").is_file():
        tw(
            [
                "curve",
                "--model",
                a.model,
                "--train",
                str(data["train"]),
                "--test",
                str(data["test"]),
                "--shots",
                shots,
                "--methods",
                methods,
                "--draws",
                str(draws),
                "--seed",
                str(a.seed),
                "--out",
                str(out),
                *(["--epochs", str(a.epochs)] if a.epochs else []),
            ],
            log,
        )
    return json.loads((out / "curve.json").read_text())


def same_draws(a: Path, b: Path, k: int) -> bool:
    da, db = a / "shots" / f"k{k}", b / "shots" / f"k{k}"
    fa = sorted(p.relative_to(da) for p in da.rglob("train.jsonl"))
    return (
        bool(fa)
        and fa == sorted(p.relative_to(db) for p in db.rglob("train.jsonl"))
        and all((da / p).read_bytes() == (db / p).read_bytes() for p in fa)
    )


def setfit_lib(curve_dir: Path, data: dict, max_shots: int, a, log: Path) -> list[dict]:
    """The library on each draw of ``curve_dir`` at K <= max_shots (cached per draw)."""
    from tunewise.models.registry import resolve_model

    body = resolve_model(a.model).path
    cells = []
    for tr in sorted((curve_dir / "shots").glob("k*/draw-*/train.jsonl")):
        k = int(tr.parent.parent.name[1:])
        if k > max_shots:
            continue
        res = tr.parent / "setfit_lib.json"
        if not res.is_file():
            t0 = time.time()
            r = subprocess.run(
                [
                    str(SETFIT_PY),
                    str(ROOT / "benchmarks" / "setfit_lib_cell.py"),
                    "--body",
                    body,
                    "--train",
                    str(tr),
                    "--test",
                    str(data["test"]),
                    "--seed",
                    str(a.seed),
                ],
                capture_output=True,
                text=True,
            )
            with open(log, "a", encoding="utf-8") as f:
                f.write(r.stderr[-2000:])
            if r.returncode:
                raise SystemExit(f"setfit library failed on {tr}; see {log}")
            rec = json.loads(r.stdout.strip().splitlines()[-1])
            rec["wall_seconds"] = round(time.time() - t0, 1)
            res.write_text(json.dumps(rec))
        rec = json.loads(res.read_text())
        cells.append({"budget": k, "draw": tr.parent.name, **rec})
    return cells


def per_budget(curve_rec: dict) -> dict:
    """{method: {budget: [accuracy per draw]}} from a curve record."""
    out: dict = {}
    for c in curve_rec["cells"] if "cells" in curve_rec else curve_rec["results"]:
        out.setdefault(c["method"], {}).setdefault(str(c["budget"]), []).append(
            c["test"]["accuracy"]
        )
    return out


def fmt(v: list[float]) -> str:
    if not v:
        return "-"
    if len(v) == 1:
        return f"{v[0]:.3f}"
    return f"{statistics.mean(v):.3f} +- {statistics.stdev(v):.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default=",".join(SETS))
    ap.add_argument("--shots", default="8,16,32,64")
    ap.add_argument("--methods", default="setfit,full,head,tfidf")
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--test-rows", type=int, default=400)
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--epochs", type=float, default=None, help="loop-trained methods' epochs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--icl-shots", type=int, default=8, help="0: no icl curve")
    ap.add_argument("--lib-max-shots", type=int, default=64, help="0: no setfit library")
    ap.add_argument("--no-all", action="store_true", help="skip full fine-tuning on all train")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "fewshot")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    if a.lib_max_shots and not SETFIT_PY.is_file():
        raise SystemExit(f"{SETFIT_PY} missing: run `make bench-setfit` (or --lib-max-shots 0)")
    report: dict = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "load_start": os.getloadavg(),
        "args": {k: str(v) for k, v in vars(a).items()},
        "datasets": {},
    }
    for name in a.datasets.split(","):
        t0 = time.time()
        data = prepare(name, a.out, a.test_rows)
        log = a.out / name / "bench.log"
        main_dir = a.out / name / "curve"
        rec = {
            "classes": data["classes"],
            "train_rows": data["train_rows"],
            "test_rows": data["test_rows"],
        }
        rec["accuracy"] = per_budget(curve(data, main_dir, a.shots, a.methods, a.draws, a, log))
        if a.icl_shots:
            icl_dir = a.out / name / "curve-icl"
            icl = curve(data, icl_dir, str(a.icl_shots), "icl", a.draws, a, log)
            rec["icl_same_draws"] = same_draws(main_dir, icl_dir, a.icl_shots)
            rec["accuracy"].update(per_budget(icl))
        if not a.no_all:
            full_all = curve(data, a.out / name / "curve-all", "all", "full,tfidf", 1, a, log)
            for m, by in per_budget(full_all).items():
                rec["accuracy"].setdefault(m, {}).update(by)
        if a.lib_max_shots:
            lib = setfit_lib(main_dir, data, a.lib_max_shots, a, log)
            by: dict = {}
            for c in lib:
                by.setdefault(str(c["budget"]), []).append(c["accuracy"])
            rec["accuracy"]["setfit_library"] = by
        rec["seconds"] = round(time.time() - t0, 1)
        report["datasets"][name] = rec
        (a.out / "bench_fewshot.json").write_text(json.dumps(report, indent=1))
        print(f"{name}: done in {rec['seconds']:.0f} s", flush=True)
    report["load_end"] = os.getloadavg()
    (a.out / "bench_fewshot.json").write_text(json.dumps(report, indent=1))
    budgets = [b for b in a.shots.split(",")] + ([] if a.no_all else ["all"])
    for name, rec in report["datasets"].items():
        print(f"\n#### {name} ({rec['classes']} classes, {rec['test_rows']} test rows)\n")
        print("| method | " + " | ".join(f"K={b}" for b in budgets) + " |")
        print("|---|" + "---|" * len(budgets))
        for m, by in rec["accuracy"].items():
            print(f"| {m} | " + " | ".join(fmt(by.get(b, [])) for b in budgets) + " |")


if __name__ == "__main__":
    main()
