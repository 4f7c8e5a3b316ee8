"""Retrieval metrics from the rank of each query's passage: Recall@1/5/10, MRR@10 and
nDCG@10 (one relevant passage per query: 1/log2(rank+1) within the top 10), with bootstrap
intervals over queries; and the BM25 baseline (``bm25s``)."""

from __future__ import annotations

import numpy as np

KEYS = ("recall_at_1", "recall_at_5", "recall_at_10", "mrr_at_10", "ndcg_at_10")
CI_METHOD = "percentile bootstrap over queries, 1000 resamples, 95%"


def ranks_of(order: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """1-based rank of ``gold[i]`` in ``order[i]`` (a ranking of corpus indices), 0 when
    absent from it."""
    hit = order == np.asarray(gold).reshape(-1, 1)
    return np.where(hit.any(1), hit.argmax(1) + 1, 0)


def per_query(ranks) -> dict[str, np.ndarray]:
    r = np.asarray(ranks, dtype=np.int64)
    found = r > 0
    return {
        "recall_at_1": (found & (r <= 1)).astype(float),
        "recall_at_5": (found & (r <= 5)).astype(float),
        "recall_at_10": (found & (r <= 10)).astype(float),
        "mrr_at_10": np.where(found & (r <= 10), 1.0 / np.maximum(r, 1), 0.0),
        "ndcg_at_10": np.where(found & (r <= 10), 1.0 / np.log2(np.maximum(r, 1) + 1), 0.0),
    }


def summarize(ranks, intervals: bool = True) -> dict:
    """The metrics over queries (and their intervals)."""
    from tunewise.evaluation.stats import bootstrap_means

    pq = per_query(ranks)
    out: dict = {"n": int(len(np.asarray(ranks)))}
    out.update({k: float(v.mean()) if len(v) else 0.0 for k, v in pq.items()})
    if intervals and out["n"] > 1:
        out["ci"] = bootstrap_means(pq)
        out["ci_method"] = CI_METHOD
    return out


def full_ranking(scores: np.ndarray) -> np.ndarray:
    """Corpus indices best first, per row of a [queries, corpus] score matrix (ties: lower
    index first)."""
    return np.argsort(-scores, axis=1, kind="stable")


def bm25_ranks(corpus_texts: list[str], queries: list[str], gold, k: int = 100) -> np.ndarray:
    """Ranks of the gold passages under BM25 (bm25s, English stop words and no stemming)."""
    import bm25s

    retriever = bm25s.BM25()
    tokens = bm25s.tokenize(corpus_texts, stopwords="en", show_progress=False)
    retriever.index(tokens, show_progress=False)
    k = min(k, len(corpus_texts))
    docs, scores = retriever.retrieve(
        bm25s.tokenize(queries, stopwords="en", show_progress=False), k=k, show_progress=False
    )
    docs = np.where(np.asarray(scores) > 0, np.asarray(docs), -1)  # no shared word: not found
    return ranks_of(docs, np.asarray(gold))
