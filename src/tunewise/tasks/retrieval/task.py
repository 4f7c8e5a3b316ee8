"""FAQ / passage retrieval (``--task retrieval``): a bi-encoder fine-tuned on (question,
passage) pairs.

The model is the pretrained encoder (``AutoModel``) with mean pooling and L2 normalisation;
the loss is sentence-transformers' MultipleNegativesRankingLoss: each question against its
passage, the other questions' passages in the batch, and one hard negative per question mined
from the untuned model (its best-ranked passage that is not the question's own). The corpus
(``--corpus FILE``) is indexed with ``faiss`` after training and saved with the run
(``model/index.faiss``). Baselines: BM25 (``bm25s``) and the untuned encoder; optional
cross-encoder reranking (``task.options.rerank_model``). Metrics: Recall@1/5/10, MRR@10 and
nDCG@10 with bootstrap intervals. ``task.options.cv_folds=K`` (``--cv-groups K``) runs a
K-fold cross-validation grouped by passage over the train file instead (see ``run/folds.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from tunewise.errors import UserError
from tunewise.tasks.base import EncodedRows, Task, TaskData
from tunewise.tasks.retrieval.data import Corpus
from tunewise.tasks.retrieval.metrics import KEYS

REFUSED_METHODS = ("head", "prefix", "prompt", "ptuning", "adalora")


class RetrievalOptions(BaseModel):
    """``task.options`` of a retrieval run."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    top_k: int = Field(10, ge=1)
    """Passages a prediction returns."""
    scale: float = Field(20.0, gt=0)
    """MultipleNegativesRankingLoss's scale (1 / temperature) on cosine similarities."""
    hard_negatives: bool = True
    """Add one hard negative per question, mined from the untuned model."""
    rerank_model: str | None = None
    """A cross-encoder directory (sentence-transformers CrossEncoder) that reranks the
    bi-encoder's top ``rerank_top`` passages (evaluated beside the bi-encoder; used by predict)."""
    rerank_top: int = Field(20, ge=2)
    """How many of the bi-encoder's passages the cross-encoder reranks."""
    rerank: bool = False
    """Also fine-tune a cross-encoder reranker after the bi-encoder (each train question with
    its passage and ``rerank_negatives`` of the fine-tuned bi-encoder's best wrong passages),
    saved as ``model/reranker/``: evaluated as ``reranked`` and used by predict."""
    rerank_negatives: int = Field(3, ge=1)
    """Wrong passages per question in the reranker's training pairs."""
    rerank_hard_negatives: int | None = Field(None, ge=0)
    """How many of the ``rerank_negatives`` are the fine-tuned bi-encoder's best wrong
    passages; the rest are drawn at random from the corpus. null = all of them."""
    rerank_epochs: float = Field(1.0, gt=0)
    """Passes over the reranker's pairs."""
    rerank_lr: float | None = Field(None, gt=0, lt=1)
    """The reranker's peak learning rate; null = the model's recommended rate (1e-4 for
    minilm, 5e-5 for other models)."""
    rerank_batch_size: int = Field(16, ge=1)
    """(question, passage) pairs per reranker step."""
    cv_folds: int = Field(0, ge=0)
    """K >= 2: K-fold cross-validation grouped by passage over the train file (every fold's
    passages unseen in its training, the corpus whole); 0: one run."""
    cv_fold: int | None = Field(None, ge=0)
    """Set by the cross-validation for each fold's run (not by hand)."""


@dataclass
class RetrievalEncoded(EncodedRows):
    """Tokenized queries, the corpus index of each query's passage (``labels``), mined hard
    negatives (``neg``, -1 where none) and the corpus's token rows (shared)."""

    input_ids: list[list[int]]
    labels: np.ndarray | None
    passages: list[list[int]]
    neg: np.ndarray | None = None
    truncated: int = 0
    stats: dict = field(default_factory=dict)

    def subset(self, idx) -> RetrievalEncoded:
        idx = list(idx)
        return RetrievalEncoded(
            [self.input_ids[i] for i in idx],
            None if self.labels is None else self.labels[idx],
            self.passages,
            None if self.neg is None else self.neg[idx],
        )


def _tokenize(tokenizer, texts: list[str], max_length: int) -> tuple[list[list[int]], dict]:
    full = [len(x) for x in tokenizer(texts, truncation=False)["input_ids"]] if texts else []
    ids = (
        list(tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]) if texts else []
    )
    truncated = sum(1 for n in full if n > max_length)
    stats = {
        "rows": len(texts),
        "truncated": truncated,
        "truncated_share": truncated / max(len(texts), 1),
        "max_length": max_length,
        "mean_tokens": float(np.mean(full)) if full else 0.0,
        "p95_tokens": float(np.percentile(full, 95)) if full else 0.0,
    }
    return ids, stats


class RetrievalTask(Task):
    """Questions -> the passages (FAQ answers) that answer them."""

    name = "retrieval"
    summary = (
        "question -> passage retrieval: bi-encoder, in-batch + hard negatives, faiss index, "
        "Recall@k/MRR@10/nDCG@10 vs BM25 and the untuned encoder"
    )
    options = RetrievalOptions
    peft_task_type = "FEATURE_EXTRACTION"
    log_keys = ("mrr_at_10", "recall_at_1", "recall_at_10", "ndcg_at_10")
    headline = ("mrr_at_10", "MRR@10")
    doctor_checks = (
        "duplicates",
        "cross_split_overlap",
        "same_splits",
        "retrieval_pairs",
        "retrieval_test_in_train",
        "short_texts",
        "length",
        "unknown_tokens",
    )

    def __init__(
        self,
        corpus: Corpus,
        opts: RetrievalOptions | None = None,
        tokenizer=None,
        max_length: int = 128,
    ):
        self.corpus = corpus
        self.opts = opts or RetrievalOptions()
        self.labels: list[str] = []
        self.corpus_tokens: list[list[int]] = []
        self.corpus_stats: dict = {}
        if tokenizer is not None:
            self.corpus_tokens, self.corpus_stats = _tokenize(tokenizer, corpus.texts, max_length)
        self.hard_negatives: list[int] | None = None

    # -- configuration and data -------------------------------------------------------------
    @classmethod
    def configure(cls, cfg) -> None:
        if cfg.task.multi_label or cfg.task.class_weights != "none":
            raise UserError(
                "invalid config: task.multi_label and task.class_weights are for classification"
            )
        opts = cfg.task.options or {}
        if opts.get("cv_fold") is not None and int(opts.get("cv_folds") or 0) < 2:
            raise UserError("invalid config: task.options.cv_fold needs task.options.cv_folds >= 2")
        if opts.get("rerank") and opts.get("rerank_model"):
            raise UserError(
                "invalid config: task.options.rerank trains a reranker and "
                "task.options.rerank_model names one; set one of them"
            )
        if int(opts.get("cv_folds") or 0) == 1:
            raise UserError("invalid config: --cv-groups needs at least 2 folds")
        if int(opts.get("cv_folds") or 0) > 1 and opts.get("cv_fold") is None:
            if cfg.data.test is not None:
                raise UserError(
                    "--cv-groups: the folds are the test sets; give the pairs as --train only "
                    "(no --test)"
                )
            if cfg.train.seeds > 1:
                raise UserError("--cv-groups and --seeds cannot be combined; choose one")

    @classmethod
    def cv_folds(cls, cfg) -> int:
        opts = cfg.task.options or {}
        return int(opts.get("cv_folds") or 0) if opts.get("cv_fold") is None else 0

    @classmethod
    def read_data(cls, cfg) -> TaskData:
        from tunewise.tasks.retrieval.data import read_data

        return read_data(cfg)

    @classmethod
    def group_key(cls, example):
        from tunewise.data.examples import normalize_text

        return normalize_text(example.text)  # one question's rows (several answers) stay together

    @classmethod
    def from_data(cls, cfg, data: TaskData, tokenizer) -> RetrievalTask:
        opts = RetrievalOptions.model_validate(cfg.task.options or {})
        return cls(data.corpus, opts, tokenizer, cfg.model.max_length)

    @classmethod
    def from_meta(cls, meta, tokenizer=None) -> RetrievalTask:
        opts = RetrievalOptions.model_validate(meta.get("options") or {})
        corpus = Corpus.from_dict(meta.get("corpus") or {"ids": [], "texts": []})
        return cls(corpus, opts, tokenizer, int(meta.get("max_length") or 128))

    def meta(self) -> dict:
        return {"corpus": self.corpus.to_dict(), "options": self.opts.model_dump(mode="json")}

    def data_record(self, data: TaskData) -> dict:
        return {"corpus_tokens": self.corpus_stats}

    @classmethod
    def doctor_view(cls, examples: list) -> list:
        return examples

    # -- model ------------------------------------------------------------------------------
    def auto_model(self):
        from transformers import AutoModel

        return AutoModel

    def head_modules(self, model) -> list[str]:
        return []  # no head: the encoder's pooled states are the output

    def check_method(self, method) -> None:
        super().check_method(method)  # setfit/icl: text classification only
        if method.name in REFUSED_METHODS:
            raise UserError(
                f"method {method.name!r} does not apply to retrieval (no head to train, no "
                "virtual tokens or unused pooler in a mean-pooled encoder); use full, lora, "
                "rslora, dora, ia3 or adapter"
            )

    # -- training ---------------------------------------------------------------------------
    def encode(self, examples, tokenizer, max_length: int, with_labels: bool = True):
        ids, stats = _tokenize(tokenizer, [e.text for e in examples], max_length)
        labels = None
        if with_labels and all(e.text_pair is not None for e in examples):
            labels = np.array([self.corpus.index_of(e.text_pair) for e in examples], np.int64)
        return RetrievalEncoded(ids, labels, self.corpus_tokens, None, stats["truncated"], stats)

    def collate(self, data: RetrievalEncoded, idx: list[int], pad_id: int) -> dict:
        from tunewise.tasks.retrieval.encoder import pad

        ids, mask = pad([data.input_ids[i] for i in idx], pad_id)
        batch = {"input_ids": ids, "attention_mask": mask}
        if data.labels is not None:
            pos = data.labels[idx]
            batch["labels"] = torch.as_tensor(pos)
            batch["p_input_ids"], batch["p_attention_mask"] = pad(
                [data.passages[i] for i in pos], pad_id
            )
            if data.neg is not None and (data.neg[idx] >= 0).all():
                neg = data.neg[idx]
                batch["neg"] = torch.as_tensor(neg)
                batch["n_input_ids"], batch["n_attention_mask"] = pad(
                    [data.passages[i] for i in neg], pad_id
                )
        return batch

    def forward(self, model, batch: dict):
        from tunewise.tasks.retrieval.encoder import mean_pool

        return mean_pool(model, batch["input_ids"], batch["attention_mask"])

    def step(self, model, batch: dict):
        from tunewise.tasks.retrieval.encoder import in_batch_loss, mean_pool

        q = mean_pool(model, batch["input_ids"], batch["attention_mask"])
        docs = [mean_pool(model, batch["p_input_ids"], batch["p_attention_mask"])]
        ids = [batch["labels"]]
        if "n_input_ids" in batch:
            docs.append(mean_pool(model, batch["n_input_ids"], batch["n_attention_mask"]))
            ids.append(batch["neg"])
        return in_batch_loss(q, docs, ids, self.opts.scale)

    def rank(self, model, data: RetrievalEncoded, pad_id: int, batch_size: int = 64, p=None):
        """(query embeddings, corpus embeddings, ranking of the whole corpus per query)."""
        from tunewise.tasks.retrieval.encoder import embed_rows
        from tunewise.tasks.retrieval.metrics import full_ranking

        if p is None:
            p = embed_rows(model, self.corpus_tokens, pad_id, batch_size)
        q = embed_rows(model, data.input_ids, pad_id, batch_size)
        return q, p, full_ranking(q @ p.T)

    def _corpus_embeddings(self, model, pad_id: int, batch_size: int) -> np.ndarray:
        """The corpus embedded by ``model`` as its weights are now (dev and the train probe
        are evaluated one after the other with the same weights: embedded once)."""
        from tunewise.tasks.retrieval.encoder import embed_rows

        with torch.no_grad():
            stamp = (id(model), float(sum(p.detach().float().sum() for p in model.parameters())))
        cached = getattr(self, "_corpus_cache", None)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        p = embed_rows(model, self.corpus_tokens, pad_id, batch_size)
        self._corpus_cache = (stamp, p)
        return p

    def split_metrics(self, model, data, batch_size: int, accelerator, pad_id: int) -> dict:
        from tunewise.tasks.retrieval.metrics import ranks_of, summarize

        p = self._corpus_embeddings(model, pad_id, batch_size)
        _, _, order = self.rank(model, data, pad_id, batch_size, p)
        return summarize(ranks_of(order[:, :100], data.labels), intervals=False)

    def default_metric(self) -> str:
        return "mrr_at_10"

    def before_training(self, model, enc, data, cfg, accelerator, pad_id, tokenizer, echo) -> dict:
        """The untuned encoder: its ranks on dev/test (a baseline) and, from its ranking of
        the corpus for every train question, one hard negative per question."""
        from tunewise.data.examples import normalize_text
        from tunewise.tasks.retrieval.metrics import ranks_of

        echo("untuned encoder: ranking dev/test (baseline) and mining hard negatives")
        model = model.to(accelerator.device)
        bs = cfg.train.batch_size * 2
        out: dict = {"untuned_ranks": {}}
        from tunewise.tasks.retrieval.encoder import embed_rows

        p = embed_rows(model, self.corpus_tokens, pad_id, bs)
        for name in ("dev", "test"):
            if enc.get(name) is not None and enc[name].labels is not None:
                _, _, order = self.rank(model, enc[name], pad_id, bs, p)
                out["untuned_ranks"][name] = ranks_of(order[:, :100], enc[name].labels).tolist()
        if self.opts.hard_negatives and len(self.corpus_tokens) > 1:
            _, _, order = self.rank(model, enc["train"], pad_id, bs, p)
            golds: dict = {}
            for ex, g in zip(data.train, enc["train"].labels):
                golds.setdefault(normalize_text(ex.text), set()).add(int(g))
            negs = []
            for ex, row in zip(data.train, order[:, :50]):
                own = golds[normalize_text(ex.text)]
                negs.append(next((int(i) for i in row if int(i) not in own), -1))
            out["hard_negatives"] = negs
            self._set_negatives(enc["train"], negs)
        return out

    def _set_negatives(self, train: RetrievalEncoded, negs: list[int]) -> None:
        self.hard_negatives = negs
        train.neg = np.asarray(negs, dtype=np.int64)

    def prepare_train(self, data, cfg):
        if data.neg is None and self.opts.hard_negatives and cfg.out is not None:
            before = Path(cfg.out) / ".before.json"  # a resumed run: the negatives it mined
            if before.is_file():
                negs = json.loads(before.read_text()).get("hard_negatives")
                if negs and len(negs) == len(data):
                    self._set_negatives(data, negs)
        return data

    # -- after training and in use ----------------------------------------------------------
    def evaluate(self, fitted) -> dict:
        from tunewise.tasks.retrieval.evaluate import evaluate

        return evaluate(self, fitted)

    def collapse_check(self, outputs, split: str) -> dict:
        emb = np.asarray(outputs)
        spread = float(emb.std(axis=0).mean()) if len(emb) > 1 else 1.0
        ok = spread > 1e-4
        return {
            "ok": ok,
            "embedding_std": round(spread, 6),
            "message": f"query embeddings on {split} spread (mean std {spread:.4f})"
            if ok
            else f"every query on {split} has the same embedding: the encoder collapsed",
        }

    @classmethod
    def pool_folds(cls, paths: list[Path]) -> dict:
        from tunewise.tasks.retrieval.evaluate import pool_folds

        return pool_folds(paths)

    @classmethod
    def print_summary(cls, metrics: dict, console) -> None:
        from tunewise.tasks.retrieval.summary import print_metrics

        print_metrics(metrics, console)

    @classmethod
    def report_sections(cls, run_data) -> list:
        from tunewise.tasks.retrieval.summary import report_sections

        return report_sections(run_data)


__all__ = ["KEYS", "RetrievalOptions", "RetrievalTask"]
