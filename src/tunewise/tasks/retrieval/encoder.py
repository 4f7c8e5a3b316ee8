"""The bi-encoder's arithmetic: mean-pooled, L2-normalised embeddings (how all-MiniLM-L6-v2
and most sentence-transformers models pool), the exact inner-product ``faiss`` index over the
corpus, and the in-batch-negatives loss (sentence-transformers' MultipleNegativesRankingLoss)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

INDEX_FILE = "index.faiss"


def pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    n = max((len(r) for r in rows), default=1)
    ids = torch.full((len(rows), n), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), n), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, : len(r)] = 1
    return ids, mask


def mean_pool(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the last hidden states over real tokens, L2-normalised, in fp32."""
    hidden = model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state.float()
    m = attention_mask.unsqueeze(-1).to(hidden.dtype)
    emb = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(emb, dim=-1)


def embed_rows(model, rows: list[list[int]], pad_id: int, batch_size: int = 64) -> np.ndarray:
    """Embeddings of token-id rows (length-sorted batches; rows come back in their order)."""
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    params = getattr(model, "parameters", None)  # a served AdapterView has none of its own
    device = next(params()).device if params else torch.device("cpu")
    order = np.argsort([len(r) for r in rows], kind="stable")
    out: np.ndarray | None = None
    was_training = getattr(model, "training", False)
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(rows), batch_size):
            idx = order[s : s + batch_size]
            ids, mask = pad([rows[i] for i in idx], pad_id)
            e = mean_pool(model, ids.to(device), mask.to(device)).cpu().numpy()
            if out is None:
                out = np.zeros((len(rows), e.shape[1]), dtype=np.float32)
            out[idx] = e
    if was_training:
        model.train()
    return out


def build_index(passages: np.ndarray):
    """An exact inner-product faiss index (cosine on normalised embeddings)."""
    import faiss

    index = faiss.IndexFlatIP(passages.shape[1])
    index.add(np.ascontiguousarray(passages, dtype=np.float32))
    return index


def search(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, corpus indices), each [n, k] best first."""
    k = min(k, index.ntotal)
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def save_index(index, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def load_index(path: Path):
    import faiss

    return faiss.read_index(str(path))


def in_batch_loss(q: torch.Tensor, docs: list[torch.Tensor], doc_ids: list[torch.Tensor], scale):
    """MultipleNegativesRankingLoss over (query, positive[, hard negative]) columns, with
    every other query's passages as in-batch negatives. A candidate that *is* the query's own
    passage (the same answer in two rows of the batch, or mined as another row's negative) is
    masked out instead of being pushed away as a false negative."""
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.util import cos_sim

    pos = doc_ids[0]
    cand = torch.cat(doc_ids)
    false_neg = cand.unsqueeze(0) == pos.unsqueeze(1)  # [bs, bs * columns]
    own = torch.zeros_like(false_neg)
    own[torch.arange(len(pos)), torch.arange(len(pos))] = True
    mask = false_neg & ~own

    def sim(a, b):
        return cos_sim(a, b).masked_fill(mask, float("-inf"))

    loss = MultipleNegativesRankingLoss(None, scale=scale, similarity_fct=sim)
    return loss.compute_loss_from_embeddings([q, *docs], None)
