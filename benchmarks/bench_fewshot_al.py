"""[fewshot] What to label next, measured: a simulated active-learning loop on SST-2 sentences.

The labels of the pool are hidden and revealed from the real file as the loop asks for them.
Every round fits a classifier on the labels revealed so far, then asks for ``--step`` more:
``suggest`` picks them with the same selection as `tunewise suggest`
(``tunewise.fewshot.suggest.pick``: normalised entropy, greedy with TF-IDF diversity),
``random`` picks uniformly from the rest of the pool. Both strategies start from the same seeded
K-per-class draw and are scored on the same test rows after every round; several seeds.

The classifier of a round is minilm's frozen, normalised mean-pooled sentence embedding (the
body `--method setfit` starts from, computed once for pool and test) with a logistic-regression
head: retraining the contrastive body every round would take minutes per round on 2 cores, so
the loop measures the selection, not the contrastive stage.

    .venv/bin/python benchmarks/bench_fewshot_al.py --markdown-out benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402


def read_tsv(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [r["sentence"] for r in rows], np.array([int(r["label"]) for r in rows])


def embed(texts: list[str], batch: int = 64) -> np.ndarray:
    import torch
    from transformers import AutoModel

    from tunewise.models.loading import load_pretrained, load_tokenizer

    resolved, model = load_pretrained("minilm", AutoModel.from_pretrained)
    tok = load_tokenizer(resolved.path)
    model.eval()
    out = []
    order = np.argsort([len(t) for t in texts])  # length-sorted batches: little padding
    with torch.inference_mode():
        for i in range(0, len(texts), batch):
            idx = order[i : i + batch]
            enc = tok(
                [texts[j] for j in idx],
                padding=True,
                truncation=True,
                max_length=128,
                return_tensors="pt",
            )
            h = model(**enc).last_hidden_state
            m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
            e = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)
            out.append((idx, e.numpy()))
    x = np.zeros((len(texts), out[0][1].shape[1]), dtype=np.float32)
    for idx, e in out:
        x[idx] = e
    return x


def fit_predict(x_tr, y_tr, x):
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1.0, max_iter=2000).fit(x_tr, y_tr)
    return clf.predict_proba(x)


def initial(y: np.ndarray, k: int, rng) -> list[int]:
    return [int(i) for c in np.unique(y) for i in rng.choice(np.flatnonzero(y == c), k, False)]


def loop(strategy, x_pool, y_pool, texts, x_test, y_test, start, step, rounds, seed, diversity):
    from tunewise.fewshot.suggest import pick, uncertainty

    rng = np.random.default_rng(1000 + seed)
    labeled = list(start)
    curve = []
    for r in range(rounds + 1):
        acc = float(
            (fit_predict(x_pool[labeled], y_pool[labeled], x_test).argmax(1) == y_test).mean()
        )
        curve.append((len(labeled), acc))
        if r == rounds:
            break
        rest = np.setdiff1d(np.arange(len(y_pool)), labeled)
        if strategy == "random":
            new = rng.choice(rest, step, replace=False).tolist()
        else:
            probs = fit_predict(x_pool[labeled], y_pool[labeled], x_pool[rest])
            chosen = pick(uncertainty(probs), [texts[i] for i in rest], step, diversity)
            new = [int(rest[c["row"]]) for c in chosen]
        labeled += new  # the labels of ``new`` are revealed from the file
    return curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("SHARED_DATASETS", "../shared/datasets")) / "sst2_sentences",
    )
    ap.add_argument("--pool", type=int, default=2000, help="pool rows (a seeded sample of train)")
    ap.add_argument("--test-rows", type=int, default=400, help="first N test rows")
    ap.add_argument("--shots", type=int, default=8, help="starting labels per class")
    ap.add_argument("--step", type=int, default=16, help="labels asked for per round")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--diversity", type=float, default=0.5)
    ap.add_argument("--markdown-out", type=Path)
    a = ap.parse_args()
    if not a.data.is_dir():
        raise SystemExit(f"{a.data}: no SST-2 sentences folder (set SHARED_DATASETS)")
    t0 = time.time()
    tr_text, tr_y = read_tsv(a.data / "train.tsv")
    te_text, te_y = read_tsv(a.data / "test.tsv")
    te_text, te_y = te_text[: a.test_rows], te_y[: a.test_rows]
    sel = np.random.default_rng(0).choice(len(tr_y), a.pool, replace=False)
    texts, y_pool = [tr_text[i] for i in sel], tr_y[sel]
    x_all = embed(texts + te_text)
    x_pool, x_test = x_all[: len(texts)], x_all[len(texts) :]
    t_embed = time.time() - t0
    res: dict = {"random": [], "suggest": []}
    for seed in range(a.seeds):
        start = initial(y_pool, a.shots, np.random.default_rng(seed))
        for s in res:
            res[s].append(
                loop(
                    s,
                    x_pool,
                    y_pool,
                    texts,
                    x_test,
                    te_y,
                    start,
                    a.step,
                    a.rounds,
                    seed,
                    a.diversity,
                )
            )
    counts = [n for n, _ in res["random"][0]]
    lines = [
        f"## [fewshot] what to label next: simulated active learning on SST-2 "
        f"(`bench_fewshot_al.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"Pool: {a.pool} SST-2 train sentences (seeded sample), labels hidden and revealed from "
        f"the file when asked; test: the first {len(te_y)} test sentences. Start: {a.shots} per "
        f"class (the same seeded draw for both strategies), then {a.rounds} rounds of "
        f"{a.step} labels. Classifier each round: frozen minilm mean-pooled embedding + "
        f"logistic regression (the contrastive stage is not retrained per round). `suggest` = "
        f"`tunewise.fewshot.suggest.pick` (entropy, TF-IDF diversity {a.diversity}). "
        f"{a.seeds} seeds; mean +- std of test accuracy across seeds. Embedding took "
        f"{t_embed:.0f} s; load average {os.getloadavg()[0]:.1f} (2 shared cores).",
        "",
        "| labels | random | suggest | suggest - random (mean of per-seed gaps) | seeds suggest ahead |",
        "|---:|---:|---:|---:|---:|",
    ]
    for j, n in enumerate(counts):
        r = [c[j][1] for c in res["random"]]
        s = [c[j][1] for c in res["suggest"]]
        gaps = [b - q for b, q in zip(s, r)]
        sd = statistics.stdev if len(r) > 1 else (lambda v: 0.0)
        lines.append(
            f"| {n} | {statistics.mean(r):.3f} +- {sd(r):.3f} | {statistics.mean(s):.3f} +- "
            f"{sd(s):.3f} | {statistics.mean(gaps) * 100:+.1f} points | "
            f"{sum(g > 0 for g in gaps)}/{len(gaps)} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if a.markdown_out:
        with open(a.markdown_out, "a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
