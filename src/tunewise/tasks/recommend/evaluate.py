"""A recommend run's final evaluation, on the same users for every system.

Warm items: each user's last held-out liked items, ranked among every item that is not
cold-start and that the user has not interacted with before the test (seen items are never
candidates). Cold-start items: the user's liked items among those first seen after the time
cut, ranked among the cold items (no system saw an interaction with them). Systems: the
fine-tuned text model, the untuned encoder (scored before training), popularity, item-kNN on
the interaction matrix, a hybrid of text and item-kNN, random, and (``rerank``) the fine-tuned
cross-encoder. Writes ``split.json``, the data checks into ``doctor.json``,
``predictions/recommend.jsonl`` (top 10 per user, each with the history item it is closest
to) and ``model/recommend.json`` (what the predictor needs).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass

import numpy as np

from tunewise.rundir import atomic_write, read_json, write_json
from tunewise.tasks.recommend.bundle import BUNDLE_FILE, history_text, user_pieces
from tunewise.tasks.recommend.metrics import summarize

BASELINES = ("popularity", "item_knn", "als", "untuned", "random")


@dataclass
class View:
    """The users evaluated on one kind of item: their queries, candidates and held-out items."""

    users: list[str]
    rows: list[int]
    """Each user's row in the interaction matrix (the bundle's order of users)."""
    queries: list[str]
    history: list[list[int]]
    candidates: np.ndarray
    relevant: list[list[int]]


def user_views(bundle: dict, recent: int, min_train: int | None = None) -> dict[str, View]:
    n = len(bundle["items"]["ids"])
    min_train = min_train or bundle["split"].get("min_train_items", 2)
    cold = np.zeros(n, dtype=bool)
    cold[list(bundle.get("cold_items") or [])] = True
    views = {}
    for part in ("warm", "cold"):
        users, rows, queries, history, cands, rel = [], [], [], [], [], []
        for row, (uid, rec) in enumerate(bundle["users"].items()):
            held = rec[f"{part}_test"]
            if not held or len(rec["train"]) < min_train:
                continue
            users.append(uid)
            rows.append(row)
            queries.append(history_text(user_pieces(bundle, rec), recent))
            history.append(rec["train"])
            mask = ~cold if part == "warm" else cold.copy()
            mask[rec["seen"]] = False
            cands.append(mask)
            rel.append(held)
        if users:
            views[part] = View(users, rows, queries, history, np.stack(cands), rel)
    return views


def evaluate_scores(scores: np.ndarray, view: View) -> dict:
    return summarize(scores, view.candidates, view.relevant)


def closest(p: np.ndarray, history: list[int], items) -> list[int]:
    """For each item, the history item whose embedding is nearest to it (the explanation)."""
    h = np.asarray(history[-50:], dtype=np.int64)
    if not len(h):
        return [-1 for _ in items]
    sims = p[np.asarray(items, dtype=np.int64)] @ p[h].T
    return [int(h[j]) for j in sims.argmax(1)]


def verdict(part: str, rows: dict, key: str = "ndcg_at_10") -> dict:
    """Whether the text model beats the collaborative and popularity baselines on ``part``,
    said plainly (and whether the intervals overlap)."""
    text = rows["text_model"]
    rivals = {k: rows[k] for k in ("popularity", "item_knn", "als") if k in rows}
    best = max(rivals, key=lambda k: rivals[k][key]) if rivals else None
    if best is None:
        return {"items": part, "text_helps": True, "message": f"on {part} items: no baseline"}
    b = rivals[best]
    lo = (text.get("ci") or {}).get(key, [text[key]] * 2)[0]
    hi_b = (b.get("ci") or {}).get(key, [b[key]] * 2)[1]
    if text[key] > b[key]:
        msg = (
            f"on {part} items the text model beats {best} (nDCG@10 {text[key]:.3f} vs "
            f"{b[key]:.3f})" + ("" if lo > hi_b else "; the intervals overlap")
        )
        helps = True
    else:
        msg = (
            f"on {part} items popularity/CF beat the text model: {best} nDCG@10 {b[key]:.3f} vs "
            f"text {text[key]:.3f}; text does not help here"
        )
        helps = False
    if part == "cold":
        msg += (
            " (popularity and the collaborative models saw no interaction with a cold item: "
            "their order there is chance)"
        )
    return {"items": part, "text_helps": helps, "best_baseline": best, "message": msg}


HYBRID_GRID = tuple(round(w / 10, 1) for w in range(11))


def hybrid_validation(bundle: dict, recent: int, embed, p: np.ndarray, neighbours: int) -> dict:
    """The hybrid's text weight chosen on training data only, by time: each warm-evaluated
    user's last liked training item is held out, their history is the items before it, and
    item-kNN is refitted on the interaction matrix without those held-out items (else each
    user's own row would leak the answer into the kNN scores). The weight of ``HYBRID_GRID``
    with the best mean nDCG@10 is chosen (the smaller on a tie). ``embed`` maps texts to
    L2-normalised embeddings, ``p`` the items'."""
    from tunewise.tasks.recommend.collab import interaction_matrix, item_knn, knn_scores, minmax
    from tunewise.tasks.recommend.metrics import per_user, rank_candidates

    min_train = bundle["split"].get("min_train_items", 2)
    cold = np.zeros(len(p), dtype=bool)
    cold[list(bundle.get("cold_items") or [])] = True
    users = [r for r in bundle["users"].values() if r["warm_test"] and len(r["train"]) > min_train]
    if not users:
        return {"weight": 0.5, "users": 0, "method": "no user to validate on: the default 0.5"}
    history = [r["train"][:-1] for r in users]
    held = [[r["train"][-1]] for r in users]
    cands = []
    for r in users:
        mask = ~cold
        mask[sorted(set(r["seen"]) - {r["train"][-1]})] = False
        mask[r["train"][-1]] = True
        cands.append(mask)
    cand = np.stack(cands)
    queries = [
        history_text(user_pieces(bundle, r, upto=len(r["train"]) - 1), recent) for r in users
    ]
    text = embed(queries) @ p.T
    sim = item_knn(interaction_matrix([{"train": h} for h in history], len(p)), neighbours)
    knn = knn_scores(sim, history)
    t, k = minmax(text, cand), minmax(knn, cand)
    curve = {}
    for w in HYBRID_GRID:
        order, n = rank_candidates(w * t + (1 - w) * k, cand)
        curve[str(w)] = float(per_user(order, n, held)["ndcg_at_10"].mean())
    best = max(HYBRID_GRID, key=lambda w: (curve[str(w)], -w))
    return {
        "weight": best,
        "users": len(users),
        "ndcg_at_10": curve,
        "method": "each user's last liked training item held out (by time), item-kNN refitted "
        "without them; the grid weight with the best nDCG@10",
    }


def _explained(bundle: dict, part: str, view: View, text: np.ndarray, p: np.ndarray) -> list:
    """Each user's top 10 by the text model, each item with its closest history item."""
    ids, titles = bundle["items"]["ids"], bundle["items"]["titles"]
    top = np.argsort(-np.where(view.candidates, text, -np.inf), axis=1)[:, :10]
    out = []
    for u, uid in enumerate(view.users):
        because = closest(p, view.history[u], top[u])
        out.append(
            {
                "user": uid,
                "items": part,
                "held_out": [ids[i] for i in view.relevant[u]],
                "top": [
                    {
                        "item_id": ids[int(i)],
                        "score": round(float(text[u, i]), 6),
                        "because": ids[b] if b >= 0 else None,
                        "because_title": titles[b] if b >= 0 else None,
                    }
                    for i, b in zip(top[u], because)
                ],
            }
        )
    return out


def evaluate(task, f) -> dict:
    from tunewise.tasks.recommend.collab import (
        als_available,
        als_scores,
        interaction_matrix,
        item_knn,
        knn_scores,
        minmax,
        popularity,
        random_scores,
    )
    from tunewise.tasks.retrieval.encoder import embed_rows
    from tunewise.tasks.retrieval.evaluate import evaluate as evaluate_pairs

    metrics = evaluate_pairs(task, f)
    bundle = task.bundle
    if bundle is None:
        return metrics
    task.tokenizer = task.tokenizer or f.tokenizer
    p = task._corpus_embeddings(f.model, f.pad_id, f.eval_batch_size)
    users = list(bundle["users"].values())
    x = interaction_matrix(users, len(p))
    sim = item_knn(x, task.opts.neighbours)
    pop = popularity(x)
    views = user_views(bundle, task.opts.history_items)
    untuned = (f.extras or {}).get("untuned_recommend") or {}
    reranker = None
    if task.opts.reranker:
        from tunewise.tasks.recommend.rerank import RERANKER_DIR, Reranker

        if f.main:  # the run keeps its reranker: the staging folder it came from goes away
            shutil.copytree(task.opts.reranker, f.run.model / RERANKER_DIR, dirs_exist_ok=True)
        reranker = Reranker(task.opts.reranker, max_length=2 * task.max_length)
    rec: dict = {"systems": {}, "verdicts": []}
    w = task.opts.hybrid_weight
    if w is None:
        f.echo("hybrid: choosing the text weight on a validation split carved from training")

        def embed(texts):
            return embed_rows(f.model, task.tokenize(texts), f.pad_id, f.eval_batch_size)

        rec["hybrid_validation"] = hybrid_validation(
            bundle, task.opts.history_items, embed, p, task.opts.neighbours
        )
        w = rec["hybrid_validation"]["weight"]
        f.echo(
            f"hybrid: text weight {w} (validation nDCG@10 by weight: "
            f"{rec['hybrid_validation'].get('ndcg_at_10')})"
        )
    predictions = []
    for part, view in views.items():
        f.echo(f"recommend: {len(view.users)} users, {part} items")
        q = embed_rows(f.model, task.tokenize(view.queries), f.pad_id, f.eval_batch_size)
        text = q @ p.T
        knn = knn_scores(sim, view.history)
        scores = {
            "text_model": text,
            "hybrid": w * minmax(text, view.candidates) + (1 - w) * minmax(knn, view.candidates),
            "popularity": np.broadcast_to(pop, text.shape),
            "item_knn": knn,
            "random": random_scores(*text.shape, seed=f.cfg.train.seed),
        }
        if als_available():
            scores["als"] = als_scores(x, view.rows, seed=f.cfg.train.seed)
        elif part == "warm":
            f.echo("ALS baseline skipped: `implicit` is not installed (pip install implicit)")
        if reranker is not None:
            from tunewise.tasks.recommend.rerank import rerank_scores

            f.echo(f"reranking the top {task.opts.rerank_top} with the cross-encoder")
            scores["reranked"] = rerank_scores(
                reranker, view, text, bundle["items"]["texts"], task.opts.rerank_top
            )
        rows = {name: evaluate_scores(s, view) for name, s in scores.items()}
        if part in untuned:
            rows["untuned"] = untuned[part]
        rec["systems"][part] = rows
        rec["verdicts"].append(verdict(part, rows))
        predictions += _explained(bundle, part, view, text, p)
    if "cold" not in views:
        rec["verdicts"].append(
            {"items": "cold", "text_helps": None, "message": "no cold-start items to evaluate"}
        )
    rec["split"] = {k: v for k, v in bundle["split"].items() if not isinstance(v, dict)}
    rec["hybrid_weight"] = w
    metrics["recommend"] = rec
    if f.main:
        _write_run(f.run, bundle, predictions)
    return metrics


def _write_run(run, bundle: dict, predictions: list[dict]) -> None:
    write_json(run.path / "split.json", bundle["split"])
    doc = read_json(run.doctor) if run.doctor.is_file() else {}
    doc["recommend"] = bundle.get("doctor") or {}
    write_json(run.doctor, doc)
    run.predictions.mkdir(parents=True, exist_ok=True)
    atomic_write(
        run.predictions / "recommend.jsonl", "".join(json.dumps(r) + "\n" for r in predictions)
    )
    kept = {k: v for k, v in bundle.items() if k not in ("pairs",)}
    write_json(run.model / BUNDLE_FILE, kept)
