"""A retrieval run in use: ``tunewise.load(run).predict(questions)`` -> for each question
the top-k passages with their corpus ids and scores (cosine similarity; the cross-encoder's
score when the run reranks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tunewise.rundir import model_dir_of, read_meta


class RetrievalPredictor:
    """The fine-tuned bi-encoder and its faiss index over the corpus, loaded from a run."""

    @staticmethod
    def task_class():
        """The task this predictor loads (a subclass's own task: recommend)."""
        from tunewise.tasks.retrieval.task import RetrievalTask

        return RetrievalTask

    def __init__(
        self, path: str | Path, batch_size: int = 64, loader=None, top_k: int | None = None
    ):
        from tunewise.models.loading import load_tokenizer
        from tunewise.tasks.retrieval.encoder import INDEX_FILE, build_index, load_index

        self.run, model_dir = model_dir_of(path)
        self.meta = read_meta(model_dir)
        self.max_length = int(self.meta.max_length)
        self.tokenizer = load_tokenizer(str(model_dir))
        self.task = self.task_class().from_meta(self.meta, self.tokenizer)
        self.batch_size = batch_size
        self.top_k = top_k or self.task.opts.top_k
        self.model = self.task.load_saved(model_dir, self.meta.to_dict(), loader)
        self.pad = self.tokenizer.pad_token_id or 0
        if (model_dir / INDEX_FILE).is_file():
            self.index = load_index(model_dir / INDEX_FILE)
        else:  # an exported model directory without the index: rebuild it from the corpus
            self.index = build_index(self._embed_rows(self.task.corpus_tokens))
        self.reranker = None
        self.model_dir = model_dir
        self.labels = None

    @property
    def rerank_dir(self) -> str | None:
        """The cross-encoder this run reranks with (trained with it, or named), or None."""
        from tunewise.tasks.retrieval.rerank import reranker_dir

        return reranker_dir(self.model_dir, self.task.opts)

    def _embed_rows(self, rows) -> np.ndarray:
        from tunewise.tasks.retrieval.encoder import embed_rows

        return embed_rows(self.model, rows, self.pad, self.batch_size)

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised embeddings of ``texts`` (what the index is searched with)."""
        rows = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)
        with torch.inference_mode():
            return self._embed_rows(list(rows["input_ids"]))

    def predict(self, inputs, top_k: int | None = None) -> list[dict]:
        """One ``{"passages": [{"id", "text", "score"}, ...]}`` per question, best first."""
        from tunewise.tasks.retrieval.encoder import search

        if isinstance(inputs, str):
            inputs = [inputs]
        if not inputs:
            return []
        k = top_k or self.top_k
        opts = self.task.opts
        depth = max(k, opts.rerank_top) if self.rerank_dir else k
        scores, order = search(self.index, self.embed(inputs), depth)
        if self.rerank_dir:
            scores, order = self._rerank(list(inputs), order)
        c = self.task.corpus
        return [
            {
                "passages": [
                    {"id": c.ids[int(j)], "text": c.texts[int(j)], "score": round(float(s), 6)}
                    for j, s in zip(order[i, :k], scores[i, :k])
                    if j >= 0
                ]
            }
            for i in range(len(inputs))
        ]

    def _rerank(self, queries: list[str], order: np.ndarray):
        from sentence_transformers import CrossEncoder

        if self.reranker is None:
            self.reranker = CrossEncoder(self.rerank_dir, device="cpu")
        texts = self.task.corpus.texts
        out_s, out_o = [], []
        for q, row in zip(queries, order):
            s = np.asarray(
                self.reranker.predict([(q, texts[j]) for j in row], show_progress_bar=False)
            ).reshape(-1)
            o = np.argsort(-s, kind="stable")
            out_s.append(s[o])
            out_o.append(row[o])
        return np.array(out_s), np.array(out_o)

    # -- the predictor protocol (tunewise.tasks.base.Predictor) ------------------------------
    def read_inputs(self, path: Path, require_label: bool = False) -> list:
        from tunewise.tasks.retrieval.data import read_pairs
        from tunewise.tasks.text import read_lines

        if Path(path).suffix.lower() == ".txt" and not require_label:
            return read_lines(Path(path))
        data = self.run.data_settings() if self.run is not None else {}
        return read_pairs(Path(path), data, require_passage=require_label)

    def predict_rows(self, examples: list) -> list[dict]:
        if not examples:
            return []
        results = self.predict([e.text for e in examples])
        return [{"text": e.text, **r} for e, r in zip(examples, results)]

    def evaluate_file(self, path: Path) -> dict:
        from tunewise.tasks.retrieval.metrics import ranks_of, summarize

        exs = self.read_inputs(path, require_label=True)
        c = self.task.corpus
        gold = [c.index_of(e.text_pair) for e in exs]
        keep = [i for i, g in enumerate(gold) if g is not None]
        from tunewise.tasks.retrieval.encoder import search

        _, order = search(self.index, self.embed([exs[i].text for i in keep]), 100)
        out = summarize(ranks_of(order, np.array([gold[i] for i in keep])))
        out["not_in_corpus"] = len(exs) - len(keep)
        return {"test": out}

    def parity_outputs(self, texts: list[str]) -> np.ndarray:
        return self.embed(list(texts))

    def predict_batch(self, items: list) -> list:
        return self.predict(list(items))
