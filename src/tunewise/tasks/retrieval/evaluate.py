"""A retrieval run's final evaluation: the fine-tuned encoder through the saved faiss index,
BM25 and the untuned encoder (ranks kept from before training), optional cross-encoder
reranking, all with bootstrap intervals; ``predictions/<split>.jsonl`` (per query: gold id,
its rank under every system, the top passages); and the pooling of cross-validation folds."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from tunewise.rundir import atomic_write
from tunewise.tasks.retrieval.metrics import CI_METHOD, KEYS, bm25_ranks, ranks_of, summarize

DEPTH = 100


def rerank(model_dir: str, queries: list[str], passages: list[str], order: np.ndarray, top: int):
    """The first ``top`` corpus indices of each row of ``order`` reordered by a cross-encoder
    (the rest keep their order)."""
    from sentence_transformers import CrossEncoder

    ce = CrossEncoder(model_dir, device="cpu")
    out = order.copy()
    for i, q in enumerate(queries):
        head = order[i, :top]
        scores = np.asarray(ce.predict([(q, passages[j]) for j in head], show_progress_bar=False))
        out[i, :top] = head[np.argsort(-scores.reshape(-1), kind="stable")]
    return out


def _write(path: Path, examples, corpus, gold, systems: dict, top: np.ndarray, scores) -> None:
    lines = []
    for i, ex in enumerate(examples):
        rec = {
            "row": i,
            "where": ex.where,
            "question": ex.text,
            "gold_id": corpus.ids[int(gold[i])],
            **{f"rank_{name}": int(r[i]) for name, r in systems.items()},
            "top": [
                {"id": corpus.ids[int(j)], "score": round(float(s), 6)}
                for j, s in zip(top[i, :10], scores[i, :10])
            ],
        }
        lines.append(json.dumps(rec))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "\n".join(lines) + "\n")


def compare(test: dict, baselines: dict) -> dict:
    """Whether the fine-tuned encoder beats every baseline on MRR@10, and whether its interval
    lies clear of each baseline's."""
    behind, overlap, parts = [], [], []
    for name, b in baselines.items():
        parts.append(f"{name} {b['mrr_at_10']:.3f}")
        if test["mrr_at_10"] <= b["mrr_at_10"]:
            behind.append(name)
        ci, bci = (test.get("ci") or {}).get("mrr_at_10"), (b.get("ci") or {}).get("mrr_at_10")
        if ci and bci and ci[0] <= bci[1]:
            overlap.append(name)
    msg = (
        f"MRR@10 {test['mrr_at_10']:.3f} does not beat {', '.join(behind)} ({', '.join(parts)})"
        if behind
        else f"MRR@10 {test['mrr_at_10']:.3f} beats {', '.join(parts)}"
        + (f"; intervals overlap with {', '.join(overlap)}" if overlap else "; intervals apart")
    )
    return {"ok": not behind, "metric": "mrr_at_10", "overlap": overlap, "message": msg}


def evaluate(task, f) -> dict:
    from tunewise.tasks.retrieval.encoder import (
        INDEX_FILE,
        build_index,
        embed_rows,
        save_index,
        search,
    )

    corpus = task.corpus
    f.echo(f"indexing {len(corpus.texts)} passages (faiss, exact inner product)")
    p = task._corpus_embeddings(f.model, f.pad_id, f.eval_batch_size)
    index = build_index(p)
    if f.main:
        save_index(index, f.run.model / INDEX_FILE)
    metrics: dict = {"corpus": {"passages": len(corpus.texts), "index": INDEX_FILE}}
    rerank_dir = task.opts.rerank_model
    if task.opts.rerank:
        from tunewise.tasks.retrieval.rerank import RERANKER_DIR, fit_for_run

        metrics["reranker"] = fit_for_run(task, f, index)
        rerank_dir = str(Path(f.run.model) / RERANKER_DIR)
    reranked: dict = {}
    outputs, checks = {}, {}
    untuned = (f.extras or {}).get("untuned_ranks") or {}
    for name in ("dev", "test"):
        enc, exs = f.enc.get(name), getattr(f.data, name)
        if enc is None or enc.labels is None:
            continue
        q = embed_rows(f.model, enc.input_ids, f.pad_id, f.eval_batch_size)
        outputs[name] = q
        scores, order = search(index, q, DEPTH)
        systems = {"finetuned": ranks_of(order, enc.labels)}
        metrics[name] = summarize(systems["finetuned"], intervals=name == "test")
        if rerank_dir:
            f.echo(f"reranking {name}'s top {task.opts.rerank_top} with {rerank_dir}")
            reordered = rerank(
                rerank_dir,
                [e.text for e in exs],
                corpus.texts,
                order,
                task.opts.rerank_top,
            )
            systems["reranked"] = ranks_of(reordered, enc.labels)
            reranked[name] = summarize(systems["reranked"], intervals=name == "test")
        if name != "test":
            continue
        base: dict = {}
        f.echo("baselines: BM25 (bm25s), the untuned encoder")
        systems["bm25"] = bm25_ranks(corpus.texts, [e.text for e in exs], enc.labels, DEPTH)
        base["bm25"] = summarize(systems["bm25"])
        if "test" in untuned:
            systems["untuned"] = np.asarray(untuned["test"])
            base["untuned"] = summarize(systems["untuned"])
        metrics["baselines"] = base
        checks["baselines"] = compare(metrics["test"], base)
        if "test" in reranked:
            metrics["reranked"] = reranked["test"]
        if f.main:
            _write(
                f.run.predictions / f"{name}.jsonl", exs, corpus, enc.labels, systems, order, scores
            )
    if "dev" in reranked:
        metrics["dev_reranked"] = reranked["dev"]
    if task.opts.rerank:
        checks["reranker"] = keep_reranker(metrics, f)
    metrics["checks"] = checks
    metrics["_outputs"] = outputs
    return metrics


def keep_reranker(metrics: dict, f) -> dict:
    """Whether the reranker this run trained is used by predict: only where it does not lower
    dev's MRR@10 below the bi-encoder's. One that does is kept as ``model/reranker.unused``
    (evaluated on test all the same, named so in metrics.json) and said loudly."""
    from tunewise.tasks.retrieval.rerank import RERANKER_DIR, UNUSED_DIR

    rec = metrics["reranker"]
    dev, dev_rr = metrics.get("dev"), metrics.get("dev_reranked")
    if not dev or not dev_rr:
        rec["used"] = True
        return {"ok": True, "message": "reranker used; not checked (no dev split)"}
    a, b = dev_rr["mrr_at_10"], dev["mrr_at_10"]
    rec["used"] = bool(a >= b)
    if rec["used"]:
        return {"ok": True, "message": f"reranker used: dev MRR@10 {a:.3f} vs bi-encoder {b:.3f}"}
    why = f"it lowers dev MRR@10 ({a:.3f} vs the bi-encoder's {b:.3f})"
    rec["why_unused"], rec["dir"] = why, f"model/{UNUSED_DIR}"
    unused = Path(f.run.model) / UNUSED_DIR
    if f.main:
        shutil.rmtree(unused, ignore_errors=True)  # a directory replaces only an empty one
        os.replace(Path(f.run.model) / RERANKER_DIR, unused)
    f.echo(
        f"WARNING reranker NOT used by predict: {why}; kept as model/{UNUSED_DIR} "
        f"(to use it anyway: task.options.rerank_model={unused})"
    )
    return {"ok": False, "message": f"reranker not used: {why}"}


def pool_folds(paths: list[Path]) -> dict:
    """Every fold's test queries pooled: each system's metrics with bootstrap intervals over
    all of them (each question scored once, by the fold that held its passage out)."""
    ranks: dict[str, list[int]] = {}
    for p in paths:
        for line in (Path(p) / "predictions" / "test.jsonl").read_text().splitlines():
            rec = json.loads(line)
            for k, v in rec.items():
                if k.startswith("rank_"):
                    ranks.setdefault(k[len("rank_") :], []).append(int(v))
    out = {name: summarize(np.asarray(r)) for name, r in ranks.items()}
    res: dict = {"test": out.pop("finetuned"), "baselines": {}}
    if "reranked" in out:
        res["reranked"] = out.pop("reranked")
    res["baselines"] = out
    res["checks"] = {"baselines": compare(res["test"], res["baselines"])}
    res["ci_method"] = CI_METHOD
    res["keys"] = list(KEYS)
    return res
