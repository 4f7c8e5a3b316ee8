"""The retrieval task (`--task retrieval`): ranks -> Recall@k/MRR@10/nDCG@10 with intervals,
the in-batch loss's masking of a batch's duplicate passages, a tiny bi-encoder trained
through the runner (faiss index saved, baselines, predictor with corpus ids), the doctor's
pair checks, grouped cross-validation and bad input."""

from __future__ import annotations

import csv
import json
import math
import random

import numpy as np
import pytest
import torch

import tunewise
from tests.conftest import NEG, POS, tiny_config
from tunewise.errors import UserError
from tunewise.tasks.retrieval.encoder import in_batch_loss
from tunewise.tasks.retrieval.metrics import ranks_of, summarize

TOPICS = ["film", "story", "plot", "movie", "cast", "really", "very", "quite"]


def test_metrics_from_ranks():
    order = np.array([[3, 1, 2], [1, 3, 2], [2, 1, 3]])
    assert ranks_of(order, np.array([3, 3, 0])).tolist() == [1, 2, 0]
    m = summarize(np.array([1, 2, 0, 11]))
    assert m["recall_at_1"] == 0.25 and m["recall_at_5"] == 0.5 and m["recall_at_10"] == 0.5
    assert m["mrr_at_10"] == pytest.approx((1 + 0.5) / 4)
    assert m["ndcg_at_10"] == pytest.approx((1 + 1 / math.log2(3)) / 4)
    lo, hi = m["ci"]["mrr_at_10"]
    assert 0 <= lo < m["mrr_at_10"] < hi <= 1


def test_in_batch_loss_masks_a_repeated_passage():
    torch.manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    p = q.clone()
    p[1] = p[0]  # rows 0 and 1 share one passage
    same = torch.tensor([5, 5, 7])
    distinct = torch.tensor([5, 6, 7])
    masked = in_batch_loss(q, [p], [same], 20.0)
    unmasked = in_batch_loss(q, [p], [distinct], 20.0)
    # unmasked, row 0's own passage also stands as row 1's negative at the same score
    assert masked < unmasked - 0.1
    # masking is exactly dropping the duplicate column from the softmax of rows 0 and 1
    s = 20 * q @ p.T
    rows = [s[0, [0, 2]], s[1, [1, 2]], s[2]]
    expected = torch.stack([-(r[t] - torch.logsumexp(r, 0)) for r, t in zip(rows, [0, 0, 2])])
    assert masked.item() == pytest.approx(expected.mean().item(), abs=1e-5)


def _rows(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        t = rng.choice(TOPICS)
        q = " ".join([t, *rng.sample(POS + NEG, 2)])
        out.append({"question": f"what about {q}", "answer": f"{t} is explained here"})
    return out


def _csv(path, rows, cols=("question", "answer")):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(cols))
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("retr")
    train = _rows(96, 0)
    train.append({"question": train[0]["question"], "answer": "cast is explained here"})
    test = _rows(20, 2) + [dict(train[5])]  # one test question is a train question
    corpus = [{"id": f"faq-{i}", "answer": f"{t} is explained here"} for i, t in enumerate(TOPICS)]
    corpus.append({"id": "faq-extra", "answer": "nothing is explained here"})
    return {
        "train": _csv(tmp / "train.csv", train),
        "test": _csv(tmp / "test.csv", test),
        "corpus": _csv(tmp / "corpus.csv", corpus, ("id", "answer")),
        "tmp": tmp,
    }


def _cfg(tiny_model_dir, files, out, **data):
    cfg = tiny_config(
        tiny_model_dir,
        {k: files[k] for k in ("train", "test", "corpus") if k in files},
        out,
        epochs=3,
        batch_size=16,
        lr=3e-3,
    )
    cfg["data"].update(text_column="question", text_pair_column="answer", **data)
    cfg["task"] = {"type": "retrieval"}
    return cfg


@pytest.fixture(scope="module")
def run(tiny_model_dir, files):
    return tunewise.train(_cfg(tiny_model_dir, files, files["tmp"] / "run"))


def test_trains_indexes_beats_untuned_and_predicts_corpus_ids(run, files):
    m = run.metrics
    for split in ("dev", "test"):
        assert set(m[split]) >= {"recall_at_1", "recall_at_10", "mrr_at_10", "ndcg_at_10"}
    assert m["test"]["n"] == 21 and "mrr_at_10" in m["test"]["ci"]
    assert set(m["baselines"]) == {"bm25", "untuned"}
    # the random tiny encoder ranks blindly; trained, it finds the topic's passage
    assert m["test"]["mrr_at_10"] > m["baselines"]["untuned"]["mrr_at_10"] + 0.2
    assert m["test"]["mrr_at_10"] > 0.6
    assert (run.path / "model" / "index.faiss").is_file()
    assert m["corpus"]["passages"] == 9
    pred = tunewise.load(run.path)
    (res,) = pred.predict(["what about plot good bad"], top_k=3)
    assert len(res["passages"]) == 3
    best = res["passages"][0]
    assert best == {"id": "faq-2", "text": "plot is explained here", "score": best["score"]}
    scores = [p["score"] for p in res["passages"]]
    assert scores == sorted(scores, reverse=True)
    rows = [
        json.loads(x) for x in (run.path / "predictions" / "test.jsonl").read_text().splitlines()
    ]
    assert rows and {"rank_finetuned", "rank_bm25", "rank_untuned"} <= set(rows[0])


def test_doctor_flags_pairs(run):
    doc = json.loads((run.path / "doctor.json").read_text())
    text = json.dumps(doc)
    assert "several different passages" in text
    assert "also train questions" in text


def test_grouped_cross_validation(tiny_model_dir, files):
    cfg = _cfg(tiny_model_dir, {k: v for k, v in files.items() if k != "test"}, files["tmp"] / "cv")
    cfg["task"]["options"] = {"cv_folds": 2}
    cfg["train"]["epochs"] = 1
    r = tunewise.train(cfg)
    m = r.metrics
    assert m["cv"]["folds"] == 2 and m["cv"]["runs"] == ["fold-0", "fold-1"]
    assert m["test"]["n"] == 97  # every train question scored once
    assert set(m["baselines"]) == {"bm25", "untuned"} and "ci" in m["test"]
    golds = []
    for i in range(2):
        fold = json.loads((r.path / f"fold-{i}" / "data.json").read_text())
        assert fold["cv"]["fold"] == i
        meta = json.loads((r.path / f"fold-{i}" / "model" / "tunewise.json").read_text())
        assert len(meta["corpus"]["ids"]) == 9  # the corpus stays whole in every fold
        lines = (r.path / f"fold-{i}" / "predictions" / "test.jsonl").read_text().split("\n")
        golds.append({json.loads(x)["gold_id"] for x in lines if x})
    # grouped by passage: a passage's questions are all in one fold's test set, so the
    # passages each fold was tested on are the ones its training never saw
    assert golds[0] and golds[1] and golds[0].isdisjoint(golds[1])
    assert golds[0] | golds[1] == {f"faq-{i}" for i in range(8)}


def test_bad_corpus_is_one_line(tiny_model_dir, files):
    bad = _csv(files["tmp"] / "bad.csv", [{"x": "a", "y": "b"}], ("x", "y"))
    with pytest.raises(UserError, match="no passage column"):
        tunewise.train(_cfg(tiny_model_dir, {**files, "corpus": bad}, files["tmp"] / "bad"))


def test_cross_encoder_reranks_the_top_passages(run, tmp_path, tiny_model_dir):
    from sentence_transformers import CrossEncoder
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(1)
    ce_dir = tmp_path / "ce"
    cfg = BertConfig.from_pretrained(tiny_model_dir, num_labels=1)
    BertForSequenceClassification(cfg).save_pretrained(ce_dir)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(ce_dir)
    pred = tunewise.load(run.path)
    q = "what about plot good bad"
    plain = pred.predict([q], top_k=9)[0]["passages"]
    pred.task.opts.rerank_model, pred.task.opts.rerank_top = str(ce_dir), 9
    reranked = pred.predict([q], top_k=9)[0]["passages"]
    ce = CrossEncoder(str(ce_dir), device="cpu")
    want = ce.predict([(q, p["text"]) for p in plain])
    by_text = dict(zip((p["text"] for p in plain), np.asarray(want).reshape(-1)))
    assert {p["text"] for p in reranked} == set(by_text)  # the same passages, reordered
    assert [p["score"] for p in reranked] == pytest.approx(
        sorted(by_text.values(), reverse=True), abs=1e-5
    )
    assert [p["text"] for p in reranked] == sorted(by_text, key=lambda t: -by_text[t])


def test_cross_validation_refuses_a_test_file(tiny_model_dir, files):
    cfg = _cfg(tiny_model_dir, files, files["tmp"] / "cv-bad")
    cfg["task"]["options"] = {"cv_folds": 3}
    with pytest.raises(UserError, match="the folds are the test sets"):
        tunewise.train(cfg)


def test_mine_pairs_takes_own_passages_and_the_best_wrong_ones():
    from tunewise.tasks.retrieval.rerank import mine_pairs

    order = np.array([[4, 2, 7, 1], [3, 5, 6, 0]])
    pairs = mine_pairs(order, [{2}, {0, 9}], negatives=2)
    assert pairs == [(0, 2, 1.0), (0, 4, 0.0), (0, 7, 0.0), (1, 0, 1.0), (1, 9, 1.0)] + [
        (1, 3, 0.0),
        (1, 5, 0.0),
    ]


def test_question_batches_keep_a_questions_pairs_together():
    from tunewise.tasks.retrieval.rerank import question_batches

    groups = [[0, 1, 2], [3, 4], [5, 6, 7, 8], [9]]
    batches = question_batches(groups, [5, 9, 2, 7], 2, np.random.default_rng(0))
    assert sorted(k for b in batches for k in b) == list(range(10))  # each pair once
    for b in batches:
        assert all(set(g) <= set(b) or not set(g) & set(b) for g in groups)


def test_mine_pairs_mixes_hard_and_random_negatives():
    from tunewise.tasks.retrieval.rerank import mine_pairs

    order = np.array([[4, 2, 7, 1], [3, 5, 6, 0]])
    golds = [{2}, {0, 9}]
    pairs = mine_pairs(order, golds, negatives=3, hard=1, n_passages=50, seed=0)
    for q, best in ((0, 4), (1, 3)):
        neg = [p for i, p, t in pairs if i == q and t == 0.0]
        assert len(neg) == 3 and neg[0] == best  # the best wrong one, then two drawn
        assert len(set(neg)) == 3 and not set(neg) & golds[q]
    assert pairs == mine_pairs(order, golds, negatives=3, hard=1, n_passages=50, seed=0)
    # hard=0: every negative drawn; never one of the question's own passages
    rand = mine_pairs(order, golds, negatives=3, hard=0, n_passages=12, seed=1)
    assert all(p not in golds[i] for i, p, t in rand if t == 0.0)


def test_a_trained_reranker_is_evaluated_saved_and_used_by_predict(tiny_model_dir, files):
    from sentence_transformers import CrossEncoder

    cfg = _cfg(tiny_model_dir, files, files["tmp"] / "rerank")
    cfg["task"]["options"] = {"rerank": True, "rerank_epochs": 2, "rerank_lr": 3e-3}
    r = tunewise.train(cfg)
    m = r.metrics
    rec = m["reranker"]
    # every distinct train question: its own passages and 3 wrong ones; the question
    # listed with two passages is one query with two positives
    assert rec["positives"] >= rec["queries"] > 60
    assert rec["pairs"] == rec["positives"] + 3 * rec["queries"]
    # evaluated on dev (which decides whether predict uses it) and on test
    assert set(m["reranked"]) >= {"mrr_at_10", "recall_at_1"} and m["reranked"]["n"] == 21
    assert m["dev_reranked"]["n"] == m["dev"]["n"]
    used = m["dev_reranked"]["mrr_at_10"] >= m["dev"]["mrr_at_10"]
    assert rec["used"] is used and m["checks"]["reranker"]["ok"] is used
    kept = r.path / "model" / ("reranker" if used else "reranker.unused")
    assert rec["dir"] == f"model/{kept.name}" and (kept / "config.json").is_file()
    pred = tunewise.load(r.path)
    assert (pred.rerank_dir is not None) is used
    pred.task.opts.rerank_model = str(kept)  # the saved cross-encoder, used or not
    q = "what about plot good bad"
    got = pred.predict([q], top_k=5)[0]["passages"]
    # the scores are the saved cross-encoder's, best first, over the bi-encoder's top 20
    ce = CrossEncoder(str(kept), device="cpu")
    assert ce.max_seq_length == cfg["model"]["max_length"]  # the length it trained at
    texts = pred.task.corpus.texts
    want = sorted(np.asarray(ce.predict([(q, t) for t in texts])).reshape(-1), reverse=True)
    assert [p["score"] for p in got] == pytest.approx(want[:5], abs=1e-5)
    rows = [json.loads(x) for x in (r.path / "predictions" / "test.jsonl").read_text().splitlines()]
    assert rows and "rank_reranked" in rows[0]


def test_rerank_and_rerank_model_together_is_one_line(tiny_model_dir, files):
    cfg = _cfg(tiny_model_dir, files, files["tmp"] / "rerank-bad")
    cfg["task"]["options"] = {"rerank": True, "rerank_model": str(files["tmp"])}
    with pytest.raises(UserError, match="set one of them"):
        tunewise.train(cfg)


def _reranked_run(tmp_path, dev_rr: float, dev: float = 0.5):
    from types import SimpleNamespace

    model = tmp_path / "model"
    (model / "reranker").mkdir(parents=True)
    (model / "reranker" / "config.json").write_text("{}")
    metrics = {
        "reranker": {"dir": "model/reranker"},
        "dev": {"mrr_at_10": dev},
        "dev_reranked": {"mrr_at_10": dev_rr},
    }
    said: list[str] = []
    f = SimpleNamespace(main=True, run=SimpleNamespace(model=model), echo=said.append)
    return metrics, f, model, said


def test_a_reranker_that_ranks_dev_worse_is_not_used(tmp_path):
    """Seen on bank_faqs: an undertrained cross-encoder took MRR@10 from 0.59 to 0.22; predict
    (and the assistant on top) must not use such a reranker, and the run must say so."""
    from types import SimpleNamespace

    from tunewise.tasks.retrieval.evaluate import keep_reranker
    from tunewise.tasks.retrieval.rerank import reranker_dir

    metrics, f, model, said = _reranked_run(tmp_path, dev_rr=0.30)
    (model / "reranker.unused").mkdir()  # left by an earlier run into the same folder
    (model / "reranker.unused" / "old.bin").write_text("old")
    check = keep_reranker(metrics, f)
    assert check["ok"] is False and "lowers dev MRR@10 (0.300" in check["message"]
    assert metrics["reranker"]["used"] is False
    assert metrics["reranker"]["dir"] == "model/reranker.unused"
    assert not (model / "reranker").exists()
    assert sorted(p.name for p in (model / "reranker.unused").iterdir()) == ["config.json"]
    assert any("NOT used by predict" in line for line in said)
    opts = SimpleNamespace(rerank=True, rerank_model=None)
    assert reranker_dir(model, opts) is None  # predict ranks with the bi-encoder alone

    metrics, f, model, _ = _reranked_run(tmp_path / "good", dev_rr=0.62)
    assert keep_reranker(metrics, f)["ok"] and metrics["reranker"]["used"] is True
    assert reranker_dir(model, opts) == str(model / "reranker")
