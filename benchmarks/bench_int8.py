"""How often does `export --quantize int8` succeed on ordinary runs, and what does it cost?

Trains ordinary runs (minilm, 1 epoch, default settings; several datasets and seeds; token
classification too), exports each to ONNX int8, and records: whether the export succeeded,
the recipe it chose, its dev quality against fp32 (the bar: accuracy within 0.3 points,
entity F1 within 0.5), the label agreement, and the same comparison on the test split, which
the export never saw (torch fp32 vs the int8 export, both through `evaluate_file`).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_int8.py --work /tmp/int8-runs \\
        --markdown-out benchmarks/RESULTS.md

Runs already finished under --work are reused (only the exports are redone).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SHARED_DATASETS", ROOT.parent / "shared" / "datasets"))
TW = [sys.executable, "-m", "tunewise"]


def head(src: Path, dst: Path, rows: int) -> Path:
    """The header and first ``rows`` rows of a table, or ``rows`` sentences of a CoNLL file."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    text = src.read_text(encoding="utf-8")
    if src.suffix in (".csv", ".tsv", ".jsonl"):
        lines = text.splitlines(keepends=True)
        keep = lines[: rows + (0 if src.suffix == ".jsonl" else 1)]
    else:  # CoNLL: blank-line separated sentences
        keep = [b + "\n\n" for b in text.split("\n\n")[:rows]]
    dst.write_text("".join(keep), encoding="utf-8")
    return dst


def specs(work: Path, rows: int) -> dict[str, dict]:
    """name -> {"args": train arguments, "test": test file}. Ordinary runs: default settings."""
    sst, tfn = DATA / "sst2_sentences", DATA / "twitter_financial_news_sentiment"
    cols = ["--text-column", "sentence", "--label-column", "label"]
    out = {}
    for seed in (1, 2):
        out[f"sst2-seed{seed}"] = {
            "args": ["--train", str(head(sst / "train.tsv", work / "data/sst2.tsv", rows))]
            + cols
            + ["--seed", str(seed)],
            "test": sst / "test.tsv",
        }
    pkg = work / "data"
    for name in ("trec", "rotten-tomatoes", "sms-spam"):
        if not (pkg / name / "test.jsonl").is_file():
            subprocess.run(TW + ["data", "get", name, "--out", str(pkg / name)], check=True)
        # dev is carved from train (the export's probe); the test file is only evaluated here
        train = head(pkg / name / "train.jsonl", pkg / f"{name}-head.jsonl", rows)
        out[name] = {"args": ["--train", str(train)], "test": pkg / name / "test.jsonl"}
    out["finance-tweets"] = {
        "args": ["--train", str(head(tfn / "sent_train.csv", work / "data/tfn.csv", rows))],
        "test": tfn / "sent_valid.csv",
    }
    for name, files in {
        "conll2003": ("conll2003", "eng.train", "eng.testa"),
        "wnut17": ("wnut17", "wnut17train.conll", "emerging.test.annotated"),
    }.items():
        d = DATA / files[0]
        out[name] = {
            "args": [
                "--task",
                "tokens",
                "--train",
                str(head(d / files[1], work / f"data/{name}.conll", rows)),
            ],
            "test": d / files[2],
        }
    return out


def headline(metrics: dict) -> tuple[str, float]:
    test = metrics.get("test", metrics)
    for key in ("accuracy", "micro_f1"):
        if key in test:
            return key, float(test[key])
    raise KeyError("no headline metric")


def one(name: str, spec: dict, work: Path) -> dict:
    import tunewise
    from tunewise.export.onnx import ParityError, export_onnx
    from tunewise.export.onnx_predictor import onnx_predictor

    run = work / "runs" / name
    if not (run / "metrics.json").is_file():
        cmd = TW + ["train", "--model", "minilm", *spec["args"], "--epochs", "1", "--out", str(run)]
        # label issues are not part of what is measured here (they never change the model)
        cmd += ["--no-label-issues", "--overwrite"]
        t = time.time()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        print(f"{name}: trained in {time.time() - t:.0f} s", flush=True)
    row = {"run": name}
    t = time.time()
    try:
        info = export_onnx(run, work / "int8" / name, quantize="int8", overwrite=True)
    except ParityError as e:
        row.update(ok=False, error=str(e), export_s=round(time.time() - t, 1))
        return row
    q, p = info["quantization"], info["parity"]
    row.update(
        ok=True,
        export_s=round(time.time() - t, 1),
        recipe=q["recipe"],
        dev=p["quality"],
        dev_agreement=p["label_agreement"],
        tried=[
            {k: r.get(k) for k in ("recipe", "ok", "delta", "label_agreement", "texts_per_s")}
            for r in q["tried"]
        ],
    )
    fp32 = tunewise.load(run).evaluate_file(Path(spec["test"]))
    int8 = onnx_predictor(work / "int8" / name)
    if run.joinpath("config.yaml").is_file():  # read the test file the way the run read data
        from tunewise.rundir import RunDir

        int8.run = RunDir(run)
    i8 = int8.evaluate_file(Path(spec["test"]))
    metric, a = headline(fp32)
    _, b = headline(i8)
    row["test"] = {"metric": metric, "fp32": round(a, 4), "int8": round(b, 4), "delta": b - a}
    return row


def markdown(rows: list[dict], args, load0, load1) -> str:
    ok = [r for r in rows if r["ok"]]
    lines = [
        f"## int8 export on ordinary runs (`bench_int8.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"Command: `{' '.join(sys.argv)}`. Each run: minilm, 1 epoch, default settings, "
        f"{args.rows} training rows (sentences for tokens); dev carved from train; the export judged "
        "on those dev rows, the test split never seen by it. Load average before/after: "
        f"{load0} / {load1}.",
        "",
        f"**int8 succeeded on {len(ok)} of {len(rows)} runs.**",
        "",
        "| run | ok | recipe chosen | dev metric fp32 -> int8 (delta, 95% CI) | dev label agreement | test fp32 -> int8 (delta) | export s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if not r["ok"]:
            lines.append(f"| {r['run']} | no | {r['error'][:160]} | | | | {r['export_s']} |")
            continue
        d, t = r["dev"], r["test"]
        ci = d.get("delta_ci95")
        ci = f", [{100 * ci[0]:+.2f}, {100 * ci[1]:+.2f}]" if ci else ""
        lines.append(
            f"| {r['run']} | yes | {r['recipe']} | {d['metric']} {d['fp32']:.4f} -> "
            f"{d['int8']:.4f} ({100 * d['delta']:+.2f} pts{ci}) | {r['dev_agreement']:.2%} | "
            f"{t['metric']} {t['fp32']:.4f} -> {t['int8']:.4f} ({100 * t['delta']:+.2f} pts) | "
            f"{r['export_s']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "out" / "int8")
    ap.add_argument("--only", help="comma list of run names")
    ap.add_argument("--rows", type=int, default=2000, help="training rows (sentences) per run")
    ap.add_argument("--markdown-out", type=Path)
    args = ap.parse_args()
    load0 = [round(x, 2) for x in os.getloadavg()]
    todo = specs(args.work, args.rows)
    if args.only:
        todo = {k: v for k, v in todo.items() if k in args.only.split(",")}
    rows = []
    for name, spec in todo.items():
        rows.append(one(name, spec, args.work))
        print(json.dumps(rows[-1]), flush=True)
    (args.work / "int8.json").write_text(json.dumps(rows, indent=2))
    md = markdown(rows, args, load0, [round(x, 2) for x in os.getloadavg()])
    print(md)
    if args.markdown_out:
        with open(args.markdown_out, "a") as f:
            f.write("\n" + md)


if __name__ == "__main__":
    main()
