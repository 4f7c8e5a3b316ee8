"""The cross-encoder reranker of a recommend run: a sequence-pair classifier (liked / other)
fine-tuned by ``tunewise recommend fit --rerank`` through the one runner (a classification run
on (history text, item text) pairs, kept as ``model/reranker/``); here it rescores each user's
top candidates of the text model with its probability of ``liked``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

RERANKER_DIR = "reranker"
LIKED = "liked"


class Reranker:
    """P(liked) of (history, item) pairs from a saved sequence-pair classifier."""

    def __init__(self, model_dir: str | Path, max_length: int = 256, batch_size: int = 64):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.dir = Path(model_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(self.dir)
        self.model = AutoModelForSequenceClassification.from_pretrained(self.dir).eval()
        labels = {str(v): int(k) for k, v in self.model.config.id2label.items()}
        self.liked = labels.get(LIKED, 1)
        self.max_length, self.batch_size = max_length, batch_size

    def score(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for s in range(0, len(pairs), self.batch_size):
                chunk = pairs[s : s + self.batch_size]
                enc = self.tokenizer(
                    [a for a, _ in chunk],
                    [b for _, b in chunk],
                    truncation=True,
                    max_length=self.max_length,
                    padding=True,
                    return_tensors="pt",
                )
                logits = self.model(**enc).logits.float()
                out.append(torch.softmax(logits, -1)[:, self.liked].numpy())
        return np.concatenate(out) if out else np.zeros(0)


def rerank_scores(reranker: Reranker, view, text: np.ndarray, texts: list[str], top: int):
    """The text model's scores with each user's ``top`` candidates lifted above the rest and
    ordered by the cross-encoder (the others keep the text model's order below them)."""
    masked = np.where(view.candidates, text, -np.inf)
    heads = np.argsort(-masked, axis=1)[:, :top]
    pairs = [(q, texts[int(j)]) for q, row in zip(view.queries, heads) for j in row]
    probs = reranker.score(pairs).reshape(len(heads), -1)
    out = text.astype(np.float32).copy()
    np.put_along_axis(out, heads, 10.0 + probs, axis=1)  # cosines are <= 1: these come first
    return out
