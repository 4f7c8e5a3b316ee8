"""[assist] figures: intents that know when they don't know (``banking77_oos``) and FAQ
retrieval (``bank_faqs``), with tunewise's defaults.

Part ``intents``: 30 training examples for each of banking77_oos's 50 in-scope intents (1,500
rows, the issue's few-examples regime), dev 6 per intent plus 100 general and 100 in-domain
out-of-scope questions, test every in-scope test question (2,000) plus the 1,000 general
out-of-scope ones; the 1,080 in-domain out-of-scope test questions are scored in-process by the
same model. Per seed, three runs: ``plain`` (no --abstain), ``abstain`` (no out-of-scope row in
training) and ``abstain+oos`` (300 in-domain out-of-scope training questions as class ``oos``).
Every out-of-scope score (msp, energy, knn) side by side: AUROC on general and on in-domain
out-of-scope questions; in-scope accuracy; OOS recall at the dev-chosen threshold.

Part ``faq``: 5-fold cross-validation grouped by answer over all 1,487 questions (``--cv-groups
5``): BM25, the untuned encoder and the fine-tuned bi-encoder, MRR@10 etc. with intervals.

Part ``recipes``: point 7's candidate recipes (``RECIPES``), in-scope accuracy, no abstention.
Part ``turn``: latency of a full assistant turn, in process and over HTTP (see ``turn``).

    .venv/bin/python benchmarks/bench_assist.py --part intents --seeds 3 --out /tmp/bench-assist
    .venv/bin/python benchmarks/bench_assist.py --part faq --out /tmp/bench-assist
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SHARED = Path(
    os.environ.get("SHARED_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets")
)


def _csv(path: Path, header: list[str], rows) -> Path:
    # whole or not at all: another bench process may be reading the same file
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    os.replace(tmp, path)
    return path


def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    return _csv(path, ["text", "label"], rows)


def _faq_corpus(path: Path, src: list[dict]) -> Path:
    """Every bank_faqs answer once, by id: the corpus of every FAQ run here."""
    first: dict = {}
    for r in src:
        first.setdefault(r["answer_id"], r["answer"])
    return _csv(path, ["answer_id", "answer"], sorted(first.items(), key=lambda kv: int(kv[0])))


def intent_data(out: Path) -> dict:
    rows = list(
        csv.DictReader(open(SHARED / "banking77_oos" / "banking77_oos.csv", encoding="utf-8"))
    )

    def take(split, subset, per_label=None, n=None, seed=0):
        rs = [r for r in rows if r["split"] == split and r["subset"] == subset]
        if per_label:
            c: collections.Counter = collections.Counter()
            keep = []
            for r in rs:
                if c[r["label"]] < per_label:
                    keep.append(r)
                    c[r["label"]] += 1
            rs = keep
        if n is not None:
            rs = random.Random(seed).sample(rs, min(n, len(rs)))
        return [(r["text"], r["label"]) for r in rs]

    oos = [(t, "oos") for t, _ in take("train", "id_oos", n=300, seed=1)]
    d = out / "data"
    d.mkdir(parents=True, exist_ok=True)
    dev_oos = [
        (t, "oos") for t, _ in take("valid", "ood_oos", n=100) + take("valid", "id_oos", n=100)
    ]
    return {
        "train": _write(d / "train.csv", take("train", "in_scope", per_label=30)),
        "train_oos": _write(d / "train_oos.csv", take("train", "in_scope", per_label=30) + oos),
        "dev": _write(d / "dev.csv", take("valid", "in_scope", per_label=6) + dev_oos),
        "dev_in": _write(d / "dev_in.csv", take("valid", "in_scope", per_label=6)),
        "test": _write(
            d / "test.csv",
            take("test", "in_scope") + [(t, "oos") for t, _ in take("test", "ood_oos")],
        ),
        "test_in": _write(d / "test_in.csv", take("test", "in_scope")),
        "in_domain_oos": [t for t, _ in take("test", "id_oos")],
        "general_oos": [t for t, _ in take("test", "ood_oos")],
        "in_scope": take("test", "in_scope"),
        "train_rows": take("train", "in_scope", per_label=30),
    }


def every_score(pred, train_texts: list[str], texts: list[str]) -> dict:
    """msp, energy and knn for ``texts`` from one loaded run (whatever score it chose)."""
    from tunewise.data import Example
    from tunewise.tasks.classification import abstain as ab

    keep = pred._bank
    pred._bank = np.zeros((1, pred.model.config.hidden_size), np.float32)  # embeddings too
    try:
        enc = pred.task.encode
        _, bank = pred.forward_encoded(
            enc([Example(t, None) for t in train_texts], pred.tokenizer, pred.max_length, False)
        )
        logits, emb = pred.forward_encoded(
            enc([Example(t, None) for t in texts], pred.tokenizer, pred.max_length, False)
        )
    finally:
        pred._bank = keep
    settings = pred.abstain or {}
    oos_class = pred.labels.index("oos") if "oos" in pred.labels else None
    scores = ab.logit_scores(logits, pred.temperature, oos_class)
    scores["knn"] = ab.knn_score(ab.normalise(emb), ab.normalise(bank), int(settings.get("k", 10)))
    pred_ids = logits.argmax(axis=1)
    if oos_class is not None:
        for v in scores.values():
            v[pred_ids == oos_class] = ab.PREDICTED_OOS
    return {"scores": scores, "labels": [pred.labels[i] for i in pred_ids]}


def intents(a, out: Path) -> dict:
    import tunewise
    from tunewise.tasks.classification import abstain as ab

    data = intent_data(out)
    records = []
    for seed in range(a.first_seed, a.first_seed + a.seeds):
        for variant in ("plain", "abstain", "abstain+oos"):
            run = out / "runs" / f"{variant}-{seed}"
            cfg = {
                "model": {"name": a.model},
                "data": {
                    "train": str(data["train_oos" if variant == "abstain+oos" else "train"]),
                    "dev": str(data["dev_in" if variant == "plain" else "dev"]),
                    "test": str(data["test_in" if variant == "plain" else "test"]),
                },
                "task": {"label_issues": False}
                | ({"abstain": True, "oos_label": "oos"} if variant != "plain" else {}),
                "train": {"seed": seed},
                "out": str(run),
            }
            t0 = time.time()
            if not (run / "metrics.json").is_file():
                tunewise.train(cfg, overwrite=True)
            m = json.loads((run / "metrics.json").read_text())
            rec = {"variant": variant, "seed": seed, "seconds": round(time.time() - t0, 1)}
            if variant == "plain":
                rec["in_scope_accuracy"] = m["test"]["accuracy"]
            else:
                abst = m["abstain"]
                t = abst["test"]
                rec.update(
                    score=abst["score"],
                    in_scope_accuracy_no_abstention=t["in_scope_accuracy_no_abstention"],
                    in_scope_accuracy=t["in_scope_accuracy"],
                    general={
                        "oos_recall": t["oos_recall"],
                        "oos_precision": t["oos_precision"],
                        "auroc": t["auroc"],
                        "fpr_at_95": t.get("fpr_at_95_in_scope_recall"),
                    },
                )
                pred = tunewise.load(run)
                ins = [x for x, _ in data["in_scope"]]
                sc_in = every_score(pred, [x for x, _ in data["train_rows"]], ins)
                per = {}
                for name, texts in (
                    ("general", data["general_oos"]),
                    ("in_domain", data["in_domain_oos"]),
                ):
                    sc_out = every_score(pred, [x for x, _ in data["train_rows"]], texts)
                    is_oos = np.r_[np.zeros(len(ins), bool), np.ones(len(texts), bool)]
                    per[name] = {
                        s: ab.auroc(np.r_[sc_in["scores"][s], sc_out["scores"][s]], is_oos)
                        for s in ab.SCORES
                    }
                    chosen = np.r_[sc_in["scores"][abst["score"]], sc_out["scores"][abst["score"]]]
                    per[name]["oos_recall_at_threshold"] = float(
                        ab.abstains(chosen[len(ins) :], abst["threshold"]).mean()
                    )
                rec["auroc_by_score"] = per
            records.append(rec)
            print(json.dumps(rec), flush=True)
    return {"records": records, "summary": _summarize(records)}


def _ms(vals) -> dict | None:
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return {
        "mean": round(float(np.mean(vals)), 4),
        "std": round(float(np.std(vals, ddof=1)), 4) if len(vals) > 1 else 0.0,
        "n": len(vals),
    }


def _summarize(records: list[dict]) -> dict:
    out: dict = {}
    for variant in ("plain", "abstain", "abstain+oos"):
        rs = [r for r in records if r["variant"] == variant]
        if not rs:
            continue
        s = {"in_scope_accuracy": _ms(r["in_scope_accuracy"] for r in rs)}
        if variant != "plain":
            s["in_scope_accuracy_no_abstention"] = _ms(
                r["in_scope_accuracy_no_abstention"] for r in rs
            )
            s["chosen_scores"] = [r["score"] for r in rs]
            for where in ("general", "in_domain"):
                s[where] = {
                    k: _ms(r["auroc_by_score"][where][k] for r in rs)
                    for k in ("msp", "energy", "knn", "oos_recall_at_threshold")
                }
        out[variant] = s
    return out


# point 7's candidate recipes (config overrides on top of the defaults), no abstention
RECIPES = {
    "defaults": {},
    "meanpool": {"method": {"name": "setfit", "setfit": {"pairs": 2, "head": "end_to_end"}}},
    "cosine3k": {"method": {"name": "setfit", "setfit": {"pairs": 3000, "head": "end_to_end"}}},
    "cosine12k": {"method": {"name": "setfit", "setfit": {"pairs": 12000, "head": "end_to_end"}}},
    "cosine3k_lr5e5": {
        "method": {
            "name": "setfit",
            "setfit": {"pairs": 3000, "body_lr": 5e-5, "head": "end_to_end"},
        }
    },
    "cosine3k_c10": {
        "method": {
            "name": "setfit",
            "setfit": {"pairs": 3000, "head_c": 10.0, "head": "end_to_end"},
        }
    },
    # the head's rate: logits of a unit-norm embedding grow only as fast as the head's weights
    "meanpool_hlr1e3": {
        "method": {"name": "setfit", "setfit": {"pairs": 2, "head": "end_to_end"}},
        "train": {"head_lr": 1e-3},
    },
    "meanpool_bs8": {
        "method": {"name": "setfit", "setfit": {"pairs": 2, "head": "end_to_end"}},
        "train": {"batch_size": 8},
    },
    "meanpool_e10_lr3e5": {
        "method": {"name": "setfit", "setfit": {"pairs": 2, "head": "end_to_end"}},
        "train": {"epochs": 10, "lr": 3e-5},
    },
    "meanpool_bs8_hlr1e3": {
        "method": {"name": "setfit", "setfit": {"pairs": 2, "head": "end_to_end"}},
        "train": {"batch_size": 8, "head_lr": 1e-3},
    },
    "meanpool_bs4": {
        "method": {"name": "setfit", "setfit": {"pairs": 2, "head": "end_to_end"}},
        "train": {"batch_size": 4},
    },
    "cosine3k_bs8": {
        "method": {"name": "setfit", "setfit": {"pairs": 3000, "head": "end_to_end"}},
        "train": {"batch_size": 8},
    },
    "probe_bs8": {"train": {"batch_size": 8}},
    "cosine3k_hlr1e3": {
        "method": {"name": "setfit", "setfit": {"pairs": 3000, "head": "end_to_end"}},
        "train": {"head_lr": 1e-3},
    },
    "mnrl_logistic": {
        "method": {
            "name": "setfit",
            "setfit": {"loss": "mnrl", "pairs": 6000, "body_batch_size": 32},
        }
    },
    "mnrl": {
        "method": {
            "name": "setfit",
            "setfit": {"loss": "mnrl", "pairs": 6000, "body_batch_size": 32, "head": "end_to_end"},
        }
    },
}


def recipes(a, out: Path) -> dict:
    """In-scope test accuracy of each recipe in ``--recipes`` (plain runs, seeds 42..)."""
    import tunewise

    data = intent_data(out)
    records = []
    for name in a.recipes.split(","):
        for seed in range(a.first_seed, a.first_seed + a.seeds):
            run = out / "runs" / f"recipe-{name}-{seed}"
            cfg = {
                "model": {"name": a.model},
                "data": {
                    k: str(data[v])
                    for k, v in (("train", "train"), ("dev", "dev_in"), ("test", "test_in"))
                },
                "task": {"label_issues": False},
                "out": str(run),
            } | {k: v for k, v in RECIPES[name].items() if k != "train"}
            cfg["train"] = {"seed": seed} | RECIPES[name].get("train", {})
            t0 = time.time()
            if not (run / "metrics.json").is_file():
                tunewise.train(cfg, overwrite=True)
            m = json.loads((run / "metrics.json").read_text())
            rec = {
                "recipe": name,
                "seed": seed,
                "seconds": round(time.time() - t0, 1),
                "in_scope_accuracy": m["test"]["accuracy"],
                "ci": m["test"].get("ci", {}).get("accuracy"),
                "dev_accuracy": m.get("dev", {}).get("accuracy"),
            }
            records.append(rec)
            print(json.dumps(rec), flush=True)
    by = collections.defaultdict(list)
    for r in records:
        by[r["recipe"]].append(r["in_scope_accuracy"])
    return {"records": records, "summary": {k: _ms(v) for k, v in by.items()}}


def faq(a, out: Path) -> dict:
    import tunewise

    src = list(csv.DictReader(open(SHARED / "bank_faqs" / "faq.csv", encoding="utf-8")))
    d = out / "data"
    d.mkdir(parents=True, exist_ok=True)
    _csv(
        d / "faq_all.csv",
        ["question", "answer", "answer_id"],
        ((r["question"], r["answer"], r["answer_id"]) for r in src),
    )
    _faq_corpus(d / "corpus.csv", src)
    tag = "".join(f"-{k}{v}" for k, v in sorted(a.faq_options.items()))
    run = out / "runs" / ("faq-cv-rerank" + tag if a.faq_rerank else "faq-cv")
    opts = {"cv_folds": 5} | ({"rerank": True} | a.faq_options if a.faq_rerank else {})
    cfg = {
        "model": {"name": a.model},
        "data": {
            "train": str(d / "faq_all.csv"),
            "corpus": str(d / "corpus.csv"),
            "text_column": "question",
            "text_pair_column": "answer",
        },
        "task": {"type": "retrieval", "options": opts},
        "train": {"epochs": a.faq_epochs, "seed": 42},
        "out": str(run),
    }
    t0 = time.time()
    if not (run / "metrics.json").is_file():
        tunewise.train(cfg, overwrite=True)
    m = json.loads((run / "metrics.json").read_text())
    keep = ("mrr_at_10", "recall_at_1", "recall_at_5", "recall_at_10", "ndcg_at_10")
    rec = {"seconds": round(time.time() - t0, 1), "n": m["test"].get("n")}
    rec["fine_tuned"] = {k: m["test"].get(k) for k in keep}
    rec["ci"] = m["test"].get("ci")
    rec["baselines"] = m.get("baselines")
    if m.get("reranked"):
        rec["reranked"] = {k: m["reranked"].get(k) for k in keep} | {"ci": m["reranked"].get("ci")}
    print(json.dumps(rec, indent=1), flush=True)
    return rec


def faq_heldout_run(a, out: Path, rerank: bool) -> tuple[Path, list[dict]]:
    """A retriever fine-tuned on bank_faqs less its 33 held-out paraphrases (one question of
    each answer that has more than one; every answer stays in the corpus), as
    the acceptance check splits it; (run, the held-out rows)."""
    import tunewise

    src = list(csv.DictReader(open(SHARED / "bank_faqs" / "faq.csv", encoding="utf-8")))
    by = collections.defaultdict(list)
    for r in src:
        by[r["answer_id"]].append(r)
    rng, tr, te = random.Random(0), [], []
    for _, rs in sorted(by.items(), key=lambda kv: int(kv[0])):
        rng.shuffle(rs)
        (te if len(rs) > 1 and len(te) < 150 else tr).append(rs[0])
        tr.extend(rs[1:])
    d = out / "data"
    d.mkdir(parents=True, exist_ok=True)
    for name, rs in (("faq_train", tr), ("faq_test", te)):
        _csv(d / f"{name}.csv", ["question", "answer"], ((r["question"], r["answer"]) for r in rs))
    _faq_corpus(d / "faq_corpus.csv", src)
    tag = "".join(f"-{k}{v}" for k, v in sorted(a.faq_options.items()))
    run = out / "runs" / ("faq-heldout-rerank" + tag if rerank else "faq-heldout")
    if not (run / "metrics.json").is_file():
        tunewise.train(
            {
                "model": {"name": a.model},
                "data": {
                    "train": str(d / "faq_train.csv"),
                    "test": str(d / "faq_test.csv"),
                    "corpus": str(d / "faq_corpus.csv"),
                    "text_column": "question",
                    "text_pair_column": "answer",
                },
                "task": {
                    "type": "retrieval",
                    "options": {"rerank": True} | a.faq_options if rerank else {},
                },
                "train": {"epochs": a.faq_epochs, "seed": 42},
                "out": str(run),
            },
            overwrite=True,
        )
    return run, te


def faq_heldout(a, out: Path) -> dict:
    """The 33 held-out paraphrases: BM25, untuned, fine-tuned and, with ``--faq-rerank``,
    fine-tuned + the cross-encoder reranker, in one run."""
    t0 = time.time()
    run, te = faq_heldout_run(a, out, rerank=a.faq_rerank)
    m = json.loads((run / "metrics.json").read_text())
    keep = ("mrr_at_10", "recall_at_1", "recall_at_5", "recall_at_10", "ndcg_at_10")
    rec = {"seconds": round(time.time() - t0, 1), "n": m["test"].get("n"), "held_out": len(te)}
    rec["fine_tuned"] = {k: m["test"].get(k) for k in keep} | {"ci": m["test"].get("ci")}
    rec["baselines"] = m.get("baselines")
    if m.get("reranked"):
        rec["reranked"] = {k: m["reranked"].get(k) for k in keep} | {"ci": m["reranked"].get("ci")}
    rec["reranker"] = m.get("reranker")
    print(json.dumps(rec, indent=1), flush=True)
    return rec


def _free_port() -> int:
    import socket

    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        return sk.getsockname()[1]


def turn(a, out: Path) -> dict:
    """Latency of a full assistant turn: the intents run ``abstain-SEED`` (trained here if
    absent) and a FAQ retriever fine-tuned on bank_faqs less its 33 held-out paraphrases, built
    into an assistant; ``--turns`` messages (a third in-scope test questions, a third general
    out-of-scope, and the held-out FAQ questions, at most a third: there are 33), one session
    each. In process
    (``assist eval``'s replay: both models and the policy, no store) and over HTTP (``tunewise
    assist serve``: masking and the SQLite log too), one request at a time."""
    import httpx

    import tunewise
    from tunewise.apps.assist.build import build_assistant, load_assistant
    from tunewise.apps.assist.evaluate import evaluate

    data = intent_data(out)
    seed = a.first_seed
    intents_run = out / "runs" / f"abstain-{seed}"
    if not (intents_run / "metrics.json").is_file():
        tunewise.train(
            {
                "model": {"name": a.model},
                "data": {
                    "train": str(data["train"]),
                    "dev": str(data["dev"]),
                    "test": str(data["test"]),
                },
                "task": {"label_issues": False, "abstain": True, "oos_label": "oos"},
                "train": {"seed": seed},
                "out": str(intents_run),
            },
            overwrite=True,
        )
    faq_run, te = faq_heldout_run(a, out, rerank=False)
    app = out / "assistant"
    build_assistant(intents_run, faq_run, app, overwrite=True, echo=lambda *_: None)
    k = a.turns // 3
    pick = random.Random(seed)
    rows = [
        {"message": t, "intent": y, "faq_id": None} for t, y in pick.sample(data["in_scope"], k)
    ]
    rows += [
        {"message": t, "intent": "oos", "faq_id": None} for t in pick.sample(data["general_oos"], k)
    ]
    rows += [
        {"message": r["question"], "intent": "oos", "faq_id": r["answer_id"]}
        for r in pick.sample(te, min(k, len(te)))
    ]
    pick.shuffle(rows)
    for i, r in enumerate(rows):
        r |= {"session_id": f"s{i}", "line": i + 1}
    assistant = load_assistant(app)
    evaluate(assistant, rows[:10])  # warm-up: the first calls build caches
    ev = evaluate(assistant, rows)
    rec = {
        "turns": len(rows),
        "threads": int(os.environ.get("OMP_NUM_THREADS", "0")) or None,
        "in_process": {k: ev["metrics"][k] for k in ("latency_p50_ms", "latency_p95_ms")},
        "decisions": ev["decisions"],
        "metrics": {k: v["value"] for k, v in ev["metrics"].items()},
    }
    port = _free_port()
    log = open(out / "assist_serve.log", "w")
    exe = Path(sys.executable).with_name("tunewise")
    db = out / "turns.sqlite"
    cmd = [str(exe), "assist", "serve", str(app), "--port", str(port), "--db", str(db)]
    srv = subprocess.Popen(cmd, stdout=log, stderr=log)
    try:
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(timeout=60) as c:
            for _ in range(600):
                try:
                    if c.get(url + "/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            for r in rows[:10]:
                c.post(
                    url + "/v1/assist",
                    json={"session_id": "w" + r["session_id"], "message": r["message"]},
                )
            ms = []
            for r in rows:
                t0 = time.perf_counter()
                resp = c.post(
                    url + "/v1/assist",
                    json={"session_id": r["session_id"], "message": r["message"]},
                )
                ms.append((time.perf_counter() - t0) * 1000)
                resp.raise_for_status()
    finally:
        srv.terminate()
        srv.wait(30)
    ms = np.asarray(ms)
    rec["http"] = {
        "latency_p50_ms": float(np.quantile(ms, 0.5)),
        "latency_p95_ms": float(np.quantile(ms, 0.95)),
        "mean_ms": float(ms.mean()),
    }
    print(json.dumps(rec, indent=1), flush=True)
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--part", choices=("intents", "faq", "faq-heldout", "recipes", "turn"), required=True
    )
    ap.add_argument("--recipes", default="defaults", help="comma list of " + ",".join(RECIPES))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=42, help="seeds first..first+seeds-1")
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--faq-epochs", type=float, default=1.0)
    ap.add_argument("--faq-rerank", action="store_true", help="also fine-tune the reranker")
    ap.add_argument(
        "--faq-options",
        type=json.loads,
        default={},
        help="with --faq-rerank: more task options, JSON (e.g. '{\"rerank_lr\": 1e-4}')",
    )
    ap.add_argument("--turns", type=int, default=300, help="--part turn: messages replayed")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/assist"))
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    rec = {
        "intents": intents,
        "faq": faq,
        "recipes": recipes,
        "turn": turn,
        "faq-heldout": faq_heldout,
    }[a.part](a, a.out)
    (a.out / f"bench_assist_{a.part}.json").write_text(json.dumps(rec, indent=2))
    if a.part in ("intents", "recipes"):
        print(json.dumps(rec["summary"], indent=2))


if __name__ == "__main__":
    main()
