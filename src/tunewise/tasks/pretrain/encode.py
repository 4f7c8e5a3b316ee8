"""Pretraining text -> rows of token ids: masked-LM rows (with word indices) and packed
causal-LM blocks; collating them; and the held-out loss over a whole split."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from tunewise.tasks.base import EncodedRows
from tunewise.tasks.pretrain.masking import IGNORE, choose_masks, corrupt

BATCH = 1024


@dataclass
class LMEncoded(EncodedRows):
    """Unpadded rows; ``word_ids`` (masked LM) gives each token's word (-1: special token);
    ``docs`` the document each row came from (a packed causal-LM row: its first document)."""

    input_ids: list[list[int]]
    word_ids: list[list[int]] | None = None
    docs: list[int] = field(default_factory=list)
    dynamic: bool = False
    """Train rows: new masks at every visit (held-out rows keep theirs)."""
    truncated: int = 0
    stats: dict = field(default_factory=dict)
    visits: dict = field(default_factory=dict)

    def subset(self, idx) -> LMEncoded:
        idx = list(idx)
        words = None if self.word_ids is None else [self.word_ids[i] for i in idx]
        return LMEncoded(
            [self.input_ids[i] for i in idx], words, [self.docs[i] for i in idx], self.dynamic
        )


def _tokenize(tokenizer, texts: list[str]):
    from tunewise.models.loading import quiet_transformers

    with quiet_transformers():  # no "longer than the maximum" warnings: rows are chunked
        for s in range(0, len(texts), BATCH):
            enc = tokenizer(texts[s : s + BATCH], add_special_tokens=False, truncation=False)
            for j, ids in enumerate(enc["input_ids"]):
                yield ids, enc.word_ids(j)


def _stats(n_docs: int, rows: list[list[int]], doc_tokens: list[int], max_length: int) -> dict:
    return {
        "rows": n_docs,
        "sequences": len(rows),
        "max_length": max_length,
        "tokens": int(sum(len(r) for r in rows)),
        "mean_tokens": float(np.mean(doc_tokens)) if doc_tokens else 0.0,
        "p95_tokens": float(np.percentile(doc_tokens, 95)) if doc_tokens else 0.0,
    }


def encode_mlm(texts: list[str], tokenizer, max_length: int) -> LMEncoded:
    """``[CLS] piece [SEP]`` rows: a document longer than ``max_length`` is cut into pieces
    (nothing is thrown away)."""
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    width = max_length - 2
    ids_out, words_out, docs, lens = [], [], [], []
    for d, (ids, wids) in enumerate(_tokenize(tokenizer, texts)):
        lens.append(len(ids))
        wids = [-1 if w is None else w for w in wids]
        for s in range(0, max(len(ids), 1), width):
            piece = ids[s : s + width]
            if not piece:
                continue
            ids_out.append([cls_id, *piece, sep_id])
            words_out.append([-1, *wids[s : s + width], -1])
            docs.append(d)
    return LMEncoded(ids_out, words_out, docs, stats=_stats(len(texts), ids_out, lens, max_length))


def encode_clm(texts: list[str], tokenizer, max_length: int, pack: bool = True) -> LMEncoded:
    """Documents ending in EOS; with ``pack`` concatenated and cut into ``max_length`` blocks
    (no padding at all; a block may span documents, as in GPT-2 and run_clm), else one or more
    rows per document (what the predictor scores)."""
    eos = tokenizer.eos_token_id
    rows, docs, lens = [], [], []
    stream: list[int] = []
    stream_doc: list[int] = []
    for d, (ids, _) in enumerate(_tokenize(tokenizer, texts)):
        ids = [*ids, eos]
        lens.append(len(ids))
        if pack:
            stream.extend(ids)
            stream_doc.extend([d] * len(ids))
            continue
        for s in range(0, len(ids), max_length):
            if len(ids[s : s + max_length]) > 1:
                rows.append(ids[s : s + max_length])
                docs.append(d)
    for s in range(0, len(stream), max_length):
        block = stream[s : s + max_length]
        if len(block) > 1:
            rows.append(block)
            docs.append(stream_doc[s])
    return LMEncoded(rows, None, docs, stats=_stats(len(texts), rows, lens, max_length))


def _pad(data: LMEncoded, idx: list[int], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(data.input_ids[i]) for i in idx)
    ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    for r, i in enumerate(idx):
        n = len(data.input_ids[i])
        ids[r, :n] = torch.tensor(data.input_ids[i], dtype=torch.long)
        mask[r, :n] = 1
    return ids, mask


def collate_mlm(task, data: LMEncoded, idx: list[int], pad_id: int) -> dict:
    """Padded, masked rows: ``masked`` [B, T] marks the positions to predict, ``labels`` the
    original tokens there (row-major, matching the head's output on ``h[masked]``)."""
    ids, mask = _pad(data, idx, pad_id)
    masked = torch.zeros_like(ids, dtype=torch.bool)
    labels = torch.full_like(ids, IGNORE)
    for r, i in enumerate(idx):
        visit = data.visits.get(i, 0) if data.dynamic else 0
        if data.dynamic:
            data.visits[i] = visit + 1
        rng = np.random.default_rng([task.seed, i, visit])
        m = choose_masks(data.word_ids[i], task.mask_prob, rng, task.whole_word)
        x, y = corrupt(data.input_ids[i], m, rng, task.mask_id, task.vocab_size, task.special_ids)
        n = len(x)
        ids[r, :n] = torch.from_numpy(x)
        labels[r, :n] = torch.from_numpy(y)
        masked[r, :n] = torch.from_numpy(m)
    return {"input_ids": ids, "attention_mask": mask, "masked": masked, "labels": labels[masked]}


def collate_clm(data: LMEncoded, idx: list[int], pad_id: int) -> dict:
    """Padded rows; ``logits_to_keep`` [B, T] marks positions whose next token is a target
    (the model projects only those onto the vocabulary), ``labels`` those targets."""
    ids, mask = _pad(data, idx, pad_id)
    keep = torch.zeros_like(ids, dtype=torch.bool)
    keep[:, :-1] = mask[:, 1:].bool()
    return {
        "input_ids": ids,
        "attention_mask": mask,
        "logits_to_keep": keep,
        "labels": ids[:, 1:][keep[:, :-1]],
    }


def row_losses(task, model, data: LMEncoded, batch_size: int, accelerator, pad_id: int) -> dict:
    """Row index -> (summed cross-entropy, predicted tokens), over this process's share."""
    from tunewise.training.batching import eval_batches, shard

    plan = shard(
        eval_batches(data.lengths, batch_size), accelerator.process_index, accelerator.num_processes
    )
    out = {}
    with torch.inference_mode():
        for idx in plan:
            batch = {
                k: v.to(accelerator.device) for k, v in task.collate(data, idx, pad_id).items()
            }
            labels = batch.pop("labels")
            ce = torch.nn.functional.cross_entropy(
                task.forward(model, batch).float(), labels, reduction="none"
            )
            sel = batch["masked"] if "masked" in batch else batch["logits_to_keep"]
            rows = sel.nonzero()[:, 0]
            sums = torch.zeros(len(idx), device=ce.device).index_add_(0, rows, ce)
            counts = torch.bincount(rows, minlength=len(idx))
            for i, s, c in zip(idx, sums.tolist(), counts.tolist()):
                out[i] = (s, c)
    return out
