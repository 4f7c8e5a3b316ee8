"""Text-based recommendation (``task.type=recommend``): a two-tower bi-encoder over item texts.

The user tower is the text of the user's latest liked items (most recent first, truncated at
max_length), the item tower the item's text; both are the one encoder of the retrieval task
(mean pooling, L2 norm, MultipleNegativesRankingLoss with in-batch negatives and one hard
negative per pair mined from the untuned model, faiss index over every item), of which this
task is a subclass. What it adds: the rows are (history, next liked item) pairs built per user
by ``tunewise recommend fit`` (``apps/recommend``), hard negatives never one of the user's own
liked items, and the evaluation of a recommender (``evaluate.py``): warm and cold-start items,
seen items excluded, popularity / item-kNN / untuned / random baselines and a hybrid, with
intervals over users.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from tunewise.tasks.base import TaskData
from tunewise.tasks.retrieval.task import RetrievalOptions, RetrievalTask


class RecommendOptions(RetrievalOptions):
    """``task.options`` of a recommend run (the retrieval options, and these)."""

    bundle: str | None = None
    """The catalog, users and split (``bundle.json`` written by ``tunewise recommend fit``);
    none: plain (history text, item text) pairs, evaluated as retrieval only."""
    history_items: int = Field(5, ge=1)
    """Latest liked items whose texts make the user tower's input."""
    hybrid_weight: float | None = Field(None, ge=0, le=1)
    """Weight of the text model in the hybrid score (the rest: item-kNN), each min-max scaled
    over the user's candidates; none: chosen on a validation split carved from training by
    time (each user's last liked training item held out, item-kNN refitted without them),
    never on the test."""
    neighbours: int = Field(100, ge=1)
    """Item-kNN: similar items kept per item."""
    reranker: str | None = None
    """A cross-encoder (a sequence-pair classifier, liked / other) fine-tuned on (history,
    item) pairs by ``recommend fit --rerank``; it reranks the text model's top ``rerank_top``
    at evaluation (beside the text model) and is kept as ``model/reranker/``."""


class RecommendTask(RetrievalTask):
    """A user's liked items (as text) -> the items they like next."""

    name = "recommend"
    summary = (
        "text-based recommendation: two-tower bi-encoder over item texts, warm and cold-start "
        "items vs popularity, item-kNN, the untuned encoder and random"
    )
    options = RecommendOptions
    doctor_checks = ("short_texts", "length", "unknown_tokens")

    def __init__(self, corpus, opts=None, tokenizer=None, max_length: int = 128):
        super().__init__(corpus, opts or RecommendOptions(), tokenizer, max_length)
        self.bundle: dict | None = None
        self.tokenizer = tokenizer
        self.max_length = max_length

    @classmethod
    def read_data(cls, cfg) -> TaskData:
        from tunewise.tasks.recommend.bundle import read_bundle
        from tunewise.tasks.retrieval.data import read_data

        data = read_data(cfg)
        bundle = (cfg.task.options or {}).get("bundle")
        data.bundle = read_bundle(bundle) if bundle else None  # type: ignore[attr-defined]
        return data

    @classmethod
    def from_data(cls, cfg, data: TaskData, tokenizer) -> RecommendTask:
        opts = RecommendOptions.model_validate(cfg.task.options or {})
        task = cls(data.corpus, opts, tokenizer, cfg.model.max_length)
        task.bundle = getattr(data, "bundle", None)
        return task

    @classmethod
    def from_meta(cls, meta, tokenizer=None) -> RecommendTask:
        from tunewise.tasks.retrieval.data import Corpus

        opts = RecommendOptions.model_validate(meta.get("options") or {})
        corpus = Corpus.from_dict(meta.get("corpus") or {"ids": [], "texts": []})
        return cls(corpus, opts, tokenizer, int(meta.get("max_length") or 128))

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        from tunewise.tasks.retrieval.task import _tokenize

        return _tokenize(self.tokenizer, texts, self.max_length)[0]

    def before_training(self, model, enc, data, cfg, accelerator, pad_id, tokenizer, echo) -> dict:
        """The untuned encoder's ranks (retrieval's baseline) and, with a bundle, its
        recommendation metrics and one hard negative per training pair: the untuned model's
        best item that the pair's user never liked in training."""
        if self.bundle is None:
            return super().before_training(
                model, enc, data, cfg, accelerator, pad_id, tokenizer, echo
            )
        from tunewise.tasks.recommend.evaluate import evaluate_scores, user_views
        from tunewise.tasks.retrieval.encoder import embed_rows
        from tunewise.tasks.retrieval.metrics import ranks_of

        echo("untuned encoder: baseline scores and hard negatives")
        model = model.to(accelerator.device)
        bs = cfg.train.batch_size * 2
        p = embed_rows(model, self.corpus_tokens, pad_id, bs)
        out: dict = {"untuned_ranks": {}}
        for name in ("dev", "test"):
            if enc.get(name) is not None and enc[name].labels is not None:
                _, _, order = self.rank(model, enc[name], pad_id, bs, p)
                out["untuned_ranks"][name] = ranks_of(order[:, :100], enc[name].labels).tolist()
        views = user_views(self.bundle, self.opts.history_items)
        out["untuned_recommend"] = {}
        for part, view in views.items():
            q = embed_rows(model, self.tokenize(view.queries), pad_id, bs)
            out["untuned_recommend"][part] = evaluate_scores(q @ p.T, view)
        if self.opts.hard_negatives and len(self.corpus_tokens) > 1:
            pairs = self.bundle.get("pairs", {}).get("train") or []
            if len(pairs) != len(enc["train"]):  # not the rows the bundle describes
                pairs = []
            liked = {u: set(r["train"]) for u, r in self.bundle["users"].items()}
            q = embed_rows(model, enc["train"].input_ids, pad_id, bs)
            top = np.argsort(-(q @ p.T), axis=1)[:, :50]
            cold = set(self.bundle.get("cold_items") or [])
            negs = []
            for n, row in enumerate(top):
                user = pairs[n][0] if n < len(pairs) else None
                own = liked.get(user, set()) | {int(enc["train"].labels[n])} | cold
                negs.append(next((int(i) for i in row if int(i) not in own), -1))
            out["hard_negatives"] = negs
            self._set_negatives(enc["train"], negs)
        return out

    def evaluate(self, fitted) -> dict:
        from tunewise.tasks.recommend.evaluate import evaluate

        return evaluate(self, fitted)

    @classmethod
    def print_summary(cls, metrics: dict, console) -> None:
        from tunewise.tasks.recommend.summary import print_metrics

        print_metrics(metrics, console)

    @classmethod
    def report_sections(cls, run_data) -> list:
        from tunewise.tasks.recommend.summary import report_sections

        return report_sections(run_data)
