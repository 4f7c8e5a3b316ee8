"""Entity-level metrics for token classification: seqeval in strict mode, over whole splits.

An entity counts as found only when its span and its type both match exactly (CoNLL's rule).
Words, not sub-tokens, are scored: every word of the split is included, also words cut off by
``max_length`` (predicted O), so truncation costs recall instead of vanishing from the score.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from tunewise.tasks.tokens.tagging import convert, to_spans

BOOTSTRAP = 1000


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def entity_metrics(gold: list[list[str]], pred: list[list[str]]) -> dict:
    """Entity P/R/F1 (micro, macro, per type) and word accuracy of BIO tag sequences.

    Returns:
        ``micro_precision/recall/f1``, ``macro_precision/recall/f1`` (mean over the entity
        types found in gold or predictions, as seqeval does), ``per_type`` (precision, recall,
        f1, support), ``token_accuracy`` (share of words whose tag is right, secondary: it is
        high even for a model that finds no entity), entity counts, and ``n`` (sentences).
    """
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    if len(gold) != len(pred) or any(len(g) != len(p) for g, p in zip(gold, pred)):
        raise ValueError("gold and predicted tag sequences differ in length")
    words = sum(len(g) for g in gold)
    right = sum(a == b for g, p in zip(gold, pred) for a, b in zip(g, p))
    n_gold = sum(len(to_spans(g, "BIO")) for g in gold)
    n_pred = sum(len(to_spans(p, "BIO")) for p in pred)
    out: dict = {"n": len(gold), "words": words, "gold_entities": n_gold, "pred_entities": n_pred}
    if n_gold + n_pred:
        rep = classification_report(
            gold, pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0
        )
    else:
        rep = {}
    micro, macro = rep.get("micro avg", {}), rep.get("macro avg", {})
    for prefix, avg in (("micro", micro), ("macro", macro)):
        out[f"{prefix}_precision"] = float(avg.get("precision", 0.0))
        out[f"{prefix}_recall"] = float(avg.get("recall", 0.0))
        out[f"{prefix}_f1"] = float(avg.get("f1-score", 0.0))
    out["per_type"] = {
        t: {
            "precision": float(v["precision"]),
            "recall": float(v["recall"]),
            "f1": float(v["f1-score"]),
            "support": int(v["support"]),
        }
        for t, v in sorted(rep.items())
        if not t.endswith(" avg")
    }
    out["token_accuracy"] = right / words if words else 0.0
    return out


def sentence_counts(gold: list[list[str]], pred: list[list[str]]) -> np.ndarray:
    """[n, 3] per sentence: correct entities, predicted entities, gold entities (strict)."""
    rows = []
    for g, p in zip(gold, pred):
        gs, ps = set(to_spans(g, "BIO")), set(to_spans(p, "BIO"))
        rows.append((len(gs & ps), len(ps), len(gs)))
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def bootstrap_f1(
    gold: list[list[str]], pred: list[list[str]], n: int = BOOTSTRAP, seed: int = 0
) -> dict:
    """95% intervals of micro precision/recall/F1 by resampling sentences."""
    counts = sentence_counts(gold, pred)
    if len(counts) == 0:
        return {}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(counts), size=(n, len(counts)))
    tp, npred, ngold = (counts[:, k][idx].sum(1).astype(float) for k in range(3))
    p = np.divide(tp, npred, out=np.zeros_like(tp), where=npred > 0)
    r = np.divide(tp, ngold, out=np.zeros_like(tp), where=ngold > 0)
    f = np.divide(2 * p * r, p + r, out=np.zeros_like(p), where=(p + r) > 0)
    ci = {}
    for key, v in (("micro_precision", p), ("micro_recall", r), ("micro_f1", f)):
        lo, hi = np.percentile(v, [2.5, 97.5])
        ci[key] = [round(float(lo), 4), round(float(hi), 4)]
    return ci


def word_memory_baseline(
    train_words: list[list[str]], train_tags: list[list[str]], words: list[list[str]]
) -> list[list[str]]:
    """Each word's most frequent train tag (lowercased word; unseen words O), read as BIO.

    Close to CoNLL-2003's official baseline (tag what train tagged); a fine-tuned model
    should beat it clearly, most of all on unseen names.
    """
    seen: dict[str, Counter] = defaultdict(Counter)
    for ws, ts in zip(train_words, train_tags):
        for w, t in zip(ws, ts):
            seen[w.lower()][t[2:] if t != "O" else "O"] += 1
    best = {w: c.most_common(1)[0][0] for w, c in seen.items()}
    out = []
    for ws in words:
        typed = [best.get(w.lower(), "O") for w in ws]
        # one entity per run of words of one type (IO reading)
        out.append(convert([t if t == "O" else f"I-{t}" for t in typed], "IO"))
    return out


def baselines(train_words, train_tags, gold: list[list[str]], words: list[list[str]]) -> dict:
    """Entity metrics of ``all_o`` (every word O: entity F1 0, token accuracy often > 0.8) and
    ``word_memory`` on a split."""
    all_o = entity_metrics(gold, [["O"] * len(g) for g in gold])
    memory = entity_metrics(gold, word_memory_baseline(train_words, train_tags, words))
    keep = ("micro_precision", "micro_recall", "micro_f1", "macro_f1", "token_accuracy", "n")
    return {
        "all_o": {k: all_o[k] for k in keep},
        "word_memory": {k: memory[k] for k in keep},
    }


def compare_to_baselines(test: dict, base: dict) -> dict:
    """The model's test entity F1 against each baseline's: ``ok`` when it beats them all."""
    margins = {k: round(test["micro_f1"] - b["micro_f1"], 4) for k, b in base.items()}
    worst = min(margins, key=margins.get)
    ok = margins[worst] > 0
    msg = f"entity F1 {test['micro_f1']:.4f}: " + ", ".join(
        f"{k} {base[k]['micro_f1']:.4f} ({m:+.4f})" for k, m in margins.items()
    )
    if not ok:
        msg += f"; the model does not beat the {worst} baseline"
    return {"ok": ok, "message": msg, "margins": margins}
