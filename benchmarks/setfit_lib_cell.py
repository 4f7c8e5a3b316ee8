"""One cell of the ``setfit`` library (run by bench_fewshot.py in the library's own venv,
``.venv-setfit`` from ``make bench-setfit``): train SetFit with its defaults on one draw's
rows and score the curve's test rows. Prints one JSON line.

    .venv-setfit/bin/python benchmarks/setfit_lib_cell.py --body DIR --train draw/train.jsonl \
        --test test.csv --text-column text --label-column label --seed 0
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path


def _rows(path: Path, text: str, label: str) -> tuple[list[str], list[str]]:
    if path.suffix == ".jsonl":
        rs = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    else:
        delim = "\t" if path.suffix == ".tsv" else ","
        rs = list(csv.DictReader(open(path, encoding="utf-8", newline=""), delimiter=delim))
    return [str(r[text]) for r in rs], [str(r[label]) for r in rs]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--body", required=True)
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--test", type=Path, required=True)
    ap.add_argument("--text-column", default="text")
    ap.add_argument("--label-column", default="label")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import numpy as np
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    x, y = _rows(a.train, a.text_column, a.label_column)
    tx, ty = _rows(a.test, a.text_column, a.label_column)
    t0 = time.time()
    model = SetFitModel.from_pretrained(a.body)
    # the library's defaults (num_iterations 20, 1 epoch, batch 16); only the seed is set
    with tempfile.TemporaryDirectory() as tmp:  # the Trainer's checkpoints: not in the cwd
        args = TrainingArguments(
            output_dir=tmp, seed=a.seed, report_to="none", show_progress_bar=False
        )
        trainer = Trainer(
            model=model, args=args, train_dataset=Dataset.from_dict({"text": x, "label": y})
        )
        trainer.train()
    train_s = time.time() - t0
    pred = [str(p) for p in model.predict(tx, batch_size=64, show_progress_bar=False)]
    acc = float(np.mean([p == t for p, t in zip(pred, ty)]))
    print(
        json.dumps(
            {
                "accuracy": acc,
                "train_rows": len(x),
                "test_rows": len(tx),
                "train_seconds": round(train_s, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
