"""What tasks that read text (and an optional second text) share: tokenizing once without
padding, and padding each batch to its own longest row (dynamic padding)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from tunewise.data.text_type import Text
from tunewise.errors import UserError
from tunewise.tasks.base import EncodedRows, Route


@dataclass
class Encoded(EncodedRows):
    """A tokenized split: unpadded token ids per example, labels, and truncation stats."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None
    labels: np.ndarray | None
    """int64 [n] for single-label, float32 [n, C] for multi-label."""
    truncated: int = 0
    stats: dict = field(default_factory=dict)

    def subset(self, idx) -> Encoded:
        """The rows ``idx`` of this split."""
        idx = list(idx)
        return Encoded(
            [self.input_ids[i] for i in idx],
            None if self.token_type_ids is None else [self.token_type_ids[i] for i in idx],
            None if self.labels is None else self.labels[idx],
        )


def encode_texts(examples, tokenizer, max_length: int, labels=None) -> Encoded:
    """Tokenize ``examples`` (``.text``, ``.text_pair``) once, without padding; record how
    many were truncated and their token-length statistics."""
    texts = [e.text for e in examples]
    pairs = [e.text_pair for e in examples]
    has_pair = any(p is not None for p in pairs)
    if has_pair:
        pairs = [p if p is not None else "" for p in pairs]
        full = tokenizer(texts, pairs, truncation=False, add_special_tokens=True)
        enc = tokenizer(texts, pairs, truncation=True, max_length=max_length)
    else:
        full = tokenizer(texts, truncation=False, add_special_tokens=True)
        enc = tokenizer(texts, truncation=True, max_length=max_length)
    full_lens = [len(x) for x in full["input_ids"]]
    truncated = sum(1 for n in full_lens if n > max_length)
    ttype = enc.get("token_type_ids") if has_pair else None
    n = max(len(texts), 1)
    stats = {
        "rows": len(texts),
        "truncated": truncated,
        "truncated_share": truncated / n,
        "max_length": max_length,
        "mean_tokens": float(np.mean(full_lens)) if full_lens else 0.0,
        "p95_tokens": float(np.percentile(full_lens, 95)) if full_lens else 0.0,
    }
    return Encoded(list(enc["input_ids"]), ttype, labels, truncated, stats)


def encode_for_inference(tokenizer, texts: list[str], pairs: list[str] | None, max_length: int):
    """Texts (and pairs) tokenized for prediction only: one truncating pass, no statistics."""
    args = (texts, pairs) if pairs is not None else (texts,)
    enc = tokenizer(*args, truncation=True, max_length=max_length)
    tt = enc.get("token_type_ids") if pairs is not None else None
    return Encoded(list(enc["input_ids"]), tt, None)


def collate_texts(data: Encoded, idx: list[int], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad the examples ``idx`` to the longest among them (dynamic padding).

    Not transformers' ``DataCollatorWithPadding``: it builds identical tensors but took 1.8x as
    long on 32 rows (0.57 vs 0.32 ms, benchmarks/bench_libraries.py) and wants a dict per row.
    """
    seqs = [data.input_ids[i] for i in idx]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, s in enumerate(seqs):
        ids[r, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[r, : len(s)] = 1
    batch = {"input_ids": ids, "attention_mask": mask}
    if data.token_type_ids is not None:
        tt = torch.zeros((len(seqs), width), dtype=torch.long)
        for r, i in enumerate(idx):
            t = data.token_type_ids[i]
            tt[r, : len(t)] = torch.tensor(t, dtype=torch.long)
        batch["token_type_ids"] = tt
    if data.labels is not None:
        batch["labels"] = torch.from_numpy(data.labels[idx])
    return batch


def read_lines(path: Path) -> list:
    """A .txt file's non-empty lines as examples without labels."""
    from tunewise.data.examples import Example

    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        lines = path.read_bytes().decode("utf-8").split("\n")
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise UserError(f"{path} line {line}: not valid UTF-8; save the file as UTF-8") from None
    exs = [
        Example(t.rstrip("\r"), None, None, f"{path} line {i + 1}")
        for i, t in enumerate(lines)
        if t.strip()
    ]
    if not exs:
        raise UserError(f"{path}: empty file (no rows)")
    return exs


def columns(data) -> dict:
    """The text reader's column settings from a DataConfig (or a run's saved ``data`` dict)."""
    get = data.get if isinstance(data, dict) else lambda k, d=None: getattr(data, k, d)
    return {
        "text_column": get("text_column") or "text",
        "text_pair_column": get("text_pair_column"),
        "label_column": get("label_column") or "label",
        "label_sep": get("label_sep") or "|",
        "quoting": get("quoting") or "auto",
    }


class TextsRequest(BaseModel):
    """A request of raw texts for a task's route (``{"texts": [...], "model": name}``)."""

    model_config = ConfigDict(extra="forbid")
    texts: list[Text] = Field(min_length=1, description="Texts to answer (at least one).")
    model: str | None = Field(None, description="Model name; may be left out with one model.")


def texts_route(path: str, summary: str, response: type, request: type = TextsRequest) -> Route:
    """The route of a task that answers each text on its own: the texts join the model's
    micro-batch as they are and come back as ``results``, in order."""
    return Route(
        path=path,
        summary=summary,
        request=request,
        response=response,
        items=lambda req: list(req.texts),
        respond=lambda req, results: {"results": results},
        texts=lambda req: [("texts", req.texts)],
    )
