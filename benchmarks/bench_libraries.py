"""Hand-written code vs the well-kept library that could replace it, measured side by side.

For each pair: do they compute the same thing, how fast, and can the library be installed
under the project's pins. The decisions (and these figures) are in benchmarks/RESULTS.md and in
a comment beside each piece of code.

    python benchmarks/bench_libraries.py            # libraries that are not installed are reported
    PYTHONPATH=/tmp/libtry python benchmarks/bench_libraries.py   # with cleanlab, statsmodels,
                                                                   # optimum installed there
"""

from __future__ import annotations

import time

import numpy as np
import torch


def _time(fn, n: int = 20) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def warmup_schedule() -> None:
    from transformers import get_linear_schedule_with_warmup

    from tunewise.training.loop import linear_schedule

    def lrs(make):
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=1.0)
        sched = make(opt)
        out = []
        for _ in range(100):
            out.append(opt.param_groups[0]["lr"])  # the lr the step about to run uses
            opt.step()
            sched.step()
        return np.array(out)

    ours = lrs(lambda o: linear_schedule(o, 10, 100))
    hf = lrs(lambda o: get_linear_schedule_with_warmup(o, 10, 100))
    print(
        f"warmup (10 of 100 steps): ours first 3 lrs {ours[:3].round(3).tolist()}, transformers "
        f"{hf[:3].round(3).tolist()}; identical from the peak on: "
        f"{bool(np.allclose(ours[10:], hf[10:]))}; during warmup ours[t] == transformers[t+1]: "
        f"{bool(np.allclose(ours[:9], hf[1:10]))}; steps at lr 0: ours {int((ours == 0).sum())}, "
        f"transformers {int((hf == 0).sum())}"
    )


def class_weights() -> None:
    from sklearn.utils.class_weight import compute_class_weight

    rng = np.random.default_rng(0)
    y = rng.choice(5, size=10_000, p=[0.6, 0.2, 0.1, 0.07, 0.03])
    hand = len(y) / (5 * np.bincount(y, minlength=5))
    lib = compute_class_weight("balanced", classes=np.arange(5), y=y)
    print(f"class weights: hand-written vs sklearn max |diff| {np.abs(hand - lib).max():.2e}")


def mcnemar_test() -> None:
    from tunewise.evaluation.stats import mcnemar

    try:
        from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
    except ImportError as e:
        print(f"mcnemar: statsmodels not importable ({e})")
        return
    rng = np.random.default_rng(1)
    worst = 0.0
    for n_disagree in (5, 12, 24, 30, 80, 400):
        y = rng.integers(0, 2, 2000)
        a = y.copy()
        b = y.copy()
        idx = rng.choice(2000, n_disagree, replace=False)
        half = idx[: n_disagree // 3]
        a[idx] = 1 - a[idx]
        b[half] = 1 - b[half]
        ours = mcnemar(y, a, b)
        ra, rb = a == y, b == y
        table = [
            [int(np.sum(ra & rb)), int(np.sum(ra & ~rb))],
            [int(np.sum(~ra & rb)), int(np.sum(~ra & ~rb))],
        ]
        disc = table[0][1] + table[1][0]
        sm = sm_mcnemar(table, exact=disc < 25, correction=True)
        worst = max(worst, abs(ours["p_value"] - float(sm.pvalue)))
    print(f"mcnemar: ours (scipy binomtest / chi2) vs statsmodels max |p diff| {worst:.2e}")


def collators() -> None:
    from transformers import BertTokenizerFast, DataCollatorWithPadding

    from tunewise.tasks.text import Encoded, collate_texts

    vocab = {
        w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *map(str, range(200))])
    }
    tok = BertTokenizerFast(vocab=vocab)
    rng = np.random.default_rng(2)
    ids = [[2, *rng.integers(4, 200, rng.integers(8, 64)).tolist(), 3] for _ in range(32)]
    data = Encoded(ids, None, np.zeros(32, dtype=np.int64))
    idx = list(range(32))
    hf = DataCollatorWithPadding(tok, return_tensors="pt")
    feats = [{"input_ids": x, "labels": 0} for x in ids]
    a, b = collate_texts(data, idx, 0), hf(feats)
    same = torch.equal(a["input_ids"], b["input_ids"]) and torch.equal(
        a["attention_mask"], b["attention_mask"]
    )
    t_ours, t_hf = _time(lambda: collate_texts(data, idx, 0), 200), _time(lambda: hf(feats), 200)
    print(
        f"collate, 32 rows of 10-65 ids: identical tensors {same}; ours {t_ours * 1e3:.3f} ms, "
        f"DataCollatorWithPadding {t_hf * 1e3:.3f} ms ({t_hf / t_ours:.1f}x)"
    )


def confident_learning() -> None:
    from tunewise.evaluation.noise import label_issues

    try:
        from cleanlab.filter import find_label_issues
    except ImportError as e:
        print(f"confident learning: cleanlab not importable ({e})")
        return
    rng = np.random.default_rng(3)
    n, c = 5000, 4
    true = rng.integers(0, c, n)
    logits = rng.normal(0, 1, (n, c))
    logits[np.arange(n), true] += 2.5
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = true.copy()
    flip = rng.choice(n, n // 10, replace=False)
    y[flip] = (y[flip] + rng.integers(1, c, len(flip))) % c
    ours = {r["row"] for r in label_issues(probs, y, top=n)}
    theirs = set(
        np.flatnonzero(find_label_issues(y, probs, filter_by="confident_learning")).tolist()
    )
    flipped = set(flip.tolist())
    t_ours = _time(lambda: label_issues(probs, y, top=50), 5)
    t_cl = _time(lambda: find_label_issues(y, probs, filter_by="confident_learning"), 5)

    def pr(s):
        hit = len(s & flipped)
        return f"{len(s)} flagged, precision {hit / max(len(s), 1):.3f}, recall {hit / len(flipped):.3f}"

    print(
        f"confident learning ({n} rows, 10% flipped): ours {pr(ours)}; cleanlab "
        f"(filter_by=confident_learning) {pr(theirs)}; agreement (Jaccard) "
        f"{len(ours & theirs) / max(len(ours | theirs), 1):.3f}; ours {t_ours * 1e3:.1f} ms, "
        f"cleanlab {t_cl * 1e3:.1f} ms"
    )


def onnx_export() -> None:
    try:
        from optimum.exporters.onnx import main_export  # noqa: F401

        print("onnx: optimum's exporter imports under the pins")
    except Exception as e:
        print(f"onnx: optimum's exporter does not import under the pins ({type(e).__name__}: {e})")


if __name__ == "__main__":
    import platform

    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}")
    for f in (
        warmup_schedule,
        class_weights,
        mcnemar_test,
        collators,
        confident_learning,
        onnx_export,
    ):
        f()
