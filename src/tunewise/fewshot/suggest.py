"""``tunewise suggest RUN --pool FILE --n N --out to_label.csv``: what to label next.

The N pool texts whose labels would help most: the most uncertain under the run's model
(normalised entropy of its class probabilities), chosen greedily so that each new pick is also
unlike the ones already picked (TF-IDF cosine similarity; near copies of a pick are skipped):
score = uncertainty - diversity x (highest similarity to a pick so far). Written as a CSV for
a person: the text, what the model thinks, how unsure it is, and an empty ``label`` column.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from tunewise.errors import UserError

NEAR_COPY = 0.9
"""Cosine similarity (TF-IDF) above which a text counts as a near copy of a pick."""


def uncertainty(probs: np.ndarray, multi_label: bool = False) -> np.ndarray:
    """Entropy of each row's probabilities, scaled to 0 (sure) .. 1 (uniform)."""
    p = np.clip(probs.astype(np.float64), 1e-12, 1.0)
    if multi_label:
        q = np.clip(1 - p, 1e-12, 1.0)
        return (-(p * np.log2(p) + q * np.log2(q))).mean(axis=1)
    c = p.shape[1]
    return -(p * np.log(p)).sum(axis=1) / np.log(c) if c > 1 else np.zeros(len(p))


def pick(unc: np.ndarray, texts: list[str], n: int, diversity: float = 0.5) -> list[dict]:
    """Greedy uncertainty-with-diversity selection of ``n`` rows.

    Returns:
        one dict per pick, in order: ``row``, ``uncertainty``, ``max_similarity`` (to the
        picks before it).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not len(texts):
        return []
    pool = np.argsort(-unc, kind="stable")[: min(len(texts), max(10 * n, 200))]
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")
    try:
        x = vec.fit_transform([texts[i] for i in pool])
    except ValueError:  # no word at all (empty or symbol-only texts): uncertainty alone
        from scipy.sparse import csr_matrix

        x = csr_matrix((len(pool), 1))
    sim_to_picked = np.zeros(len(pool))
    chosen: list[dict] = []
    alive = np.ones(len(pool), dtype=bool)
    while len(chosen) < n and alive.any():
        score = np.where(alive, unc[pool] - diversity * sim_to_picked, -np.inf)
        j = int(np.argmax(score))
        chosen.append(
            {
                "row": int(pool[j]),
                "uncertainty": float(unc[pool[j]]),
                "max_similarity": float(sim_to_picked[j]),
            }
        )
        alive[j] = False
        sims = (x @ x[j].T).toarray().ravel()
        sim_to_picked = np.maximum(sim_to_picked, sims)
        alive &= sim_to_picked < NEAR_COPY
    return chosen


def read_pool(path: Path, settings: dict, text_column: str | None) -> list:
    from tunewise.data.readers import read_examples
    from tunewise.tasks.text import columns, read_lines

    if not Path(path).is_file():
        raise UserError(f"--pool: {path}: no such file")
    if Path(path).suffix.lower() == ".txt":
        return read_lines(Path(path))
    cols = columns(settings)
    if text_column:
        cols["text_column"] = text_column
    cols["text_pair_column"] = None
    return read_examples(path, require_label=False, **cols)


def suggest(
    run: Path, pool: Path, n: int, out: Path, text_column: str | None = None, diversity: float = 0.5
) -> dict:
    """Write the ``n`` texts to label next to ``out`` (CSV); returns a short record."""
    from tunewise.run.api import load

    if n < 1:
        raise UserError(f"--n: {n}; give 1 or more texts to suggest")
    if diversity < 0:
        raise UserError(f"--diversity: {diversity}; give 0 or more")
    predictor = load(run)
    settings = predictor.run.data_settings() if getattr(predictor, "run", None) else {}
    examples = read_pool(pool, settings, text_column)
    if not examples:
        raise UserError(f"--pool: {pool}: no texts")
    texts = [e.text for e in examples]
    results = predictor.predict(texts)
    labels = list(predictor.labels)
    probs = np.array([[r["scores"][l] for l in labels] for r in results])
    multi = bool(getattr(predictor.task, "multi_label", False))
    chosen = pick(uncertainty(probs, multi), texts, n, diversity)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "rank",
                "text",
                "label",
                "predicted",
                "confidence",
                "uncertainty",
                "max_similarity_to_earlier",
                "where",
            ]
        )
        for rank, c in enumerate(chosen, 1):
            r = results[c["row"]]
            pred = "|".join(r["labels"]) if multi else r["label"]
            conf = max(r["scores"].values())
            w.writerow(
                [
                    rank,
                    texts[c["row"]],
                    "",
                    pred,
                    f"{conf:.4f}",
                    f"{c['uncertainty']:.4f}",
                    f"{c['max_similarity']:.3f}",
                    examples[c["row"]].where,
                ]
            )
    tmp.replace(out)
    return {"written": len(chosen), "pool": len(texts), "out": str(out)}
