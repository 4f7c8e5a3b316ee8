"""Knowing when not to answer: out-of-scope scores, a threshold chosen on dev, and the
metrics of a classifier that may abstain.

Three scores, each higher for an input that looks out of scope:
  msp      1 - the largest in-scope probability after temperature scaling (Hendrycks &
           Gimpel 2017, with the run's fitted temperature)
  energy   -T * logsumexp(in-scope logits / T) (Liu et al. 2020)
  knn      1 - cosine similarity to the k-th nearest training text in the model's embedding
           space (the [CLS] position of the last layer; Sun et al. 2022)

With an explicit out-of-scope class in train (``--oos-label`` present in train), the scores
read the in-scope classes only, and a prediction of that class is an abstention too.
The threshold is chosen on dev for the user's target: ``in_scope_recall=0.95`` (keep 95% of
dev's in-scope rows answered; works without any out-of-scope row in dev), ``oos_recall=0.9``
or ``in_scope_precision=0.95`` (need out-of-scope rows in dev). ``auto`` picks the score with
the best dev AUROC when dev has out-of-scope rows, else msp.
"""

from __future__ import annotations

import numpy as np

from tunewise.errors import UserError

SCORES = ("msp", "energy", "knn")
TARGETS = ("in_scope_recall", "oos_recall", "in_scope_precision")
OOS = -100  # the label id of an out-of-scope row (cross-entropy ignores it)
PREDICTED_OOS = 1e9  # the score of a row predicted as the explicit out-of-scope class


def parse_target(text: str) -> tuple[str, float]:
    """``"in_scope_recall=0.95"`` -> ("in_scope_recall", 0.95); one clear line otherwise."""
    name, _, value = str(text).partition("=")
    try:
        v = float(value)
    except ValueError:
        v = -1.0
    if name not in TARGETS or not 0 < v <= 1:
        raise UserError(
            f"--abstain-target {text!r}: want NAME=VALUE with NAME one of "
            f"{', '.join(TARGETS)} and 0 < VALUE <= 1 (e.g. in_scope_recall=0.95)"
        )
    return name, v


def _in_scope(logits: np.ndarray, oos_class: int | None) -> np.ndarray:
    if oos_class is None:
        return logits
    return np.delete(logits, oos_class, axis=1)


def logit_scores(logits: np.ndarray, temperature: float, oos_class: int | None) -> dict:
    """msp and energy scores of logits [n, C] (higher: more out of scope)."""
    z = _in_scope(logits.astype(np.float64), oos_class) / max(temperature, 1e-6)
    m = z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    if oos_class is None:
        msp = 1.0 - np.exp(m[:, 0] - lse)
    else:  # the largest in-scope probability among all classes (oos included)
        full = logits.astype(np.float64) / max(temperature, 1e-6)
        fm = full.max(axis=1, keepdims=True)
        flse = fm[:, 0] + np.log(np.exp(full - fm).sum(axis=1))
        msp = 1.0 - np.exp(m[:, 0] - flse)
    return {"msp": msp, "energy": -temperature * lse}


def knn_score(emb: np.ndarray, bank: np.ndarray, k: int) -> np.ndarray:
    """1 - cosine similarity to the k-th nearest row of ``bank`` (both L2-normalised)."""
    k = max(1, min(k, len(bank)))
    out = np.empty(len(emb))
    for s in range(0, len(emb), 512):
        sims = emb[s : s + 512] @ bank.T
        out[s : s + 512] = 1.0 - np.partition(sims, -k, axis=1)[:, -k]
    return out


def normalise(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def abstains(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Which rows abstain: a score above the threshold, or a prediction of the explicit
    out-of-scope class (always, whatever the threshold)."""
    scores = np.asarray(scores)
    return (scores > threshold) | (scores >= PREDICTED_OOS)


def threshold_for(scores: np.ndarray, is_oos: np.ndarray, target: tuple[str, float]) -> float:
    """The score above which the model abstains, chosen on dev for ``target``. Rows predicted
    as the explicit out-of-scope class abstain whatever the threshold, so it is never chosen
    among them: where they alone already miss the target, every other row is answered."""
    t = _threshold_for(scores, is_oos, target)
    finite = scores[scores < PREDICTED_OOS]
    if t >= PREDICTED_OOS:
        return float(finite.max()) if len(finite) else 0.0
    return t


def _threshold_for(scores: np.ndarray, is_oos: np.ndarray, target: tuple[str, float]) -> float:
    name, v = target
    ins, oos = scores[~is_oos], scores[is_oos]
    if name != "in_scope_recall" and not len(oos):
        raise UserError(
            f"--abstain-target {name}={v:g} needs out-of-scope rows in dev (give --dev with "
            "rows labelled --oos-label), or use in_scope_recall=..."
        )
    if not len(ins):
        raise UserError("dev has no in-scope rows to choose the abstention threshold on")
    if name == "in_scope_recall":
        return float(np.quantile(ins, v, method="higher"))
    if name == "oos_recall":  # catch a share v of dev's out-of-scope rows
        return float(np.quantile(oos, 1.0 - v, method="lower") - 1e-9)
    # in_scope_precision: the highest threshold whose answered rows are a share v in scope
    best = float(scores.max())
    for t in np.unique(scores)[::-1]:
        answered = scores <= t
        if (~is_oos[answered]).mean() >= v:
            best = float(t)
            break
    return best


def auroc(scores: np.ndarray, is_oos: np.ndarray) -> float | None:
    if is_oos.all() or not is_oos.any():
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(is_oos, scores))


def _fpr_at(scores, is_oos, recall: float) -> float | None:
    ins = scores[~is_oos]
    if not len(ins):
        return None
    t = np.quantile(ins, recall, method="higher")
    if t >= PREDICTED_OOS:
        return None
    return float((scores[is_oos] <= t).mean())


def _point(scores, is_oos, correct, threshold) -> dict:
    abst = abstains(scores, threshold)
    ins = ~is_oos
    out = {
        "in_scope_accuracy": float((correct & ~abst)[ins].mean()) if ins.any() else None,
        "in_scope_accuracy_no_abstention": float(correct[ins].mean()) if ins.any() else None,
        "abstain_rate": float(abst.mean()),
        "in_scope_abstain_rate": float(abst[ins].mean()) if ins.any() else None,
    }
    if is_oos.any():
        tp = float((abst & is_oos).sum())
        prec = tp / abst.sum() if abst.sum() else 0.0
        rec = tp / is_oos.sum()
        out |= {
            "oos_precision": prec,
            "oos_recall": rec,
            "oos_f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0,
            "auroc": auroc(scores, is_oos),
            # share of out-of-scope rows answered when 95% of in-scope rows are; none where
            # no threshold answers 95% (over 5% of in-scope rows predicted as the oos class)
            "fpr_at_95_in_scope_recall": _fpr_at(scores, is_oos, 0.95),
        }
    return out


def risk_coverage(scores, is_oos, correct, points: int = 20) -> dict:
    """Selective risk (answered rows that are wrong or out of scope) against coverage, the
    most confident first; and its area (AURC, lower is better)."""
    order = np.argsort(scores, kind="stable")
    wrong = (~correct | is_oos)[order].astype(np.float64)
    n = len(order)
    risk = np.cumsum(wrong) / np.arange(1, n + 1)
    cov = np.arange(1, n + 1) / n
    idx = np.unique(np.linspace(0, n - 1, min(points, n)).astype(int))
    return {
        "coverage": [round(float(cov[i]), 4) for i in idx],
        "risk": [round(float(risk[i]), 4) for i in idx],
        "aurc": float(risk.mean()),
    }


def abstain_metrics(
    scores: np.ndarray,
    is_oos: np.ndarray,
    correct: np.ndarray,
    threshold: float,
    resamples: int = 1000,
    seed: int = 0,
) -> dict:
    """Metrics at ``threshold`` with 95% bootstrap intervals over rows, and the risk-coverage
    curve. ``correct``: the in-scope prediction is the gold label (False on OOS rows)."""
    out = _point(scores, is_oos, correct, threshold)
    rng = np.random.default_rng(seed)
    n = len(scores)
    draws: dict[str, list] = {k: [] for k, v in out.items() if v is not None}
    for _ in range(resamples):
        i = rng.integers(0, n, n)
        p = _point(scores[i], is_oos[i], correct[i], threshold)
        for k in draws:
            if p.get(k) is not None:
                draws[k].append(p[k])
    out["intervals"] = {
        k: [float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))]
        for k, v in draws.items()
        if len(v) > 10
    }
    out["risk_coverage"] = risk_coverage(scores, is_oos, correct)
    out["n"] = int(n)
    out["n_oos"] = int(is_oos.sum())
    return out


def decide(settings: dict, logits: np.ndarray, labels: list[str], emb=None, bank=None) -> list:
    """Per row (abstained, score) for a saved model's ``settings`` (``ModelMeta.abstain``)."""
    oos = settings.get("oos_label")
    oos_class = labels.index(oos) if oos in labels else None
    name = settings["score"]
    if name == "knn":
        if emb is None or bank is None:
            raise UserError("this model abstains by knn, which needs the torch model's embeddings")
        score = knn_score(normalise(emb), bank.astype(np.float32), int(settings.get("k", 10)))
    else:
        score = logit_scores(logits, float(settings.get("temperature", 1.0)), oos_class)[name]
    if oos_class is not None:
        score = np.where(logits.argmax(axis=1) == oos_class, PREDICTED_OOS, score)
    t = float(settings["threshold"])
    return [(bool(a), float(s)) for a, s in zip(abstains(score, t), score)]
