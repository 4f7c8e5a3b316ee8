"""Supervised fine-tuning of causal (GPT-style) decoders: instructions, chats, plain text.

The task owns how examples become tokens (the chat template, see
:mod:`tunewise.tasks.chat_template`), the labels (-100 on everything but assistant turns, the
end-of-turn token kept so the model learns to stop), optional packing, the shifted
next-token loss and dev loss/perplexity. The loop and checkpoints are the shared ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from tunewise.tasks.chat_template import encode_conversation

IGNORE = -100


@dataclass
class SFTEncoded:
    """A tokenized split: unpadded ids and labels per row (a packed row holds several examples,
    its ``position_ids`` restarting at 0 where each begins)."""

    input_ids: list[list[int]]
    labels: list[list[int]]
    position_ids: list[list[int]] | None = None
    rows: list[list[int]] | None = None
    """For packed rows: the example indices each row holds."""
    truncated: int = 0
    stats: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def lengths(self) -> list[int]:
        return [len(x) for x in self.input_ids]

    def subset(self, idx) -> SFTEncoded:
        idx = list(idx)
        pos = None if self.position_ids is None else [self.position_ids[i] for i in idx]
        return SFTEncoded([self.input_ids[i] for i in idx], [self.labels[i] for i in idx], pos)


class SFTTask:
    """Causal language modelling on assistant tokens (or every token of plain text)."""

    name = "sft"
    peft_task_type = "CAUSAL_LM"
    lower_is_better = ("loss", "perplexity")
    log_keys = ("loss", "perplexity", "tokens")

    def __init__(self, eot: str):
        self.eot = eot
        """The end-of-turn token string (kept in the labels)."""

    def default_metric(self) -> str:
        return "loss"

    def head_modules(self, model) -> list[str]:
        """No new head: the LM head is the pretrained one (tied to the embeddings here)."""
        return []

    # -- data -------------------------------------------------------------------------------
    def encode(self, examples, tokenizer, max_length: int) -> SFTEncoded:
        """Tokenize with the chat template; plain texts are cut into ``max_length`` blocks
        (continued pretraining), conversations are truncated at ``max_length``."""
        ids_out, labels_out, full_lens = [], [], []
        truncated = dropped = 0
        eos = tokenizer.eos_token_id
        for ex in examples:
            if ex.messages is None:
                ids = tokenizer(ex.text, add_special_tokens=False)["input_ids"] + [eos]
                full_lens.append(len(ids))
                for s in range(0, len(ids), max_length):
                    block = ids[s : s + max_length]
                    if len(block) > 1:
                        ids_out.append(block)
                        labels_out.append(list(block))
                continue
            ids, labels = encode_conversation(tokenizer, ex.messages, self.eot)
            full_lens.append(len(ids))
            if len(ids) > max_length:
                truncated += 1
                ids, labels = ids[:max_length], labels[:max_length]
            if all(x == IGNORE for x in labels[1:]):
                dropped += 1  # nothing left to learn after truncation
                continue
            ids_out.append(ids)
            labels_out.append(labels)
        n = max(len(full_lens), 1)
        stats = {
            "rows": len(full_lens),
            "sequences": len(ids_out),
            "truncated": truncated,
            "truncated_share": truncated / n,
            "dropped_after_truncation": dropped,
            "max_length": max_length,
            "mean_tokens": float(np.mean(full_lens)) if full_lens else 0.0,
            "p95_tokens": float(np.percentile(full_lens, 95)) if full_lens else 0.0,
            "trained_tokens": int(
                sum(sum(1 for x in lab[1:] if x != IGNORE) for lab in labels_out)
            ),
        }
        return SFTEncoded(ids_out, labels_out, None, None, truncated, stats)

    def pack(self, data: SFTEncoded, max_length: int) -> SFTEncoded:
        """Concatenate consecutive examples into rows of at most ``max_length`` tokens.

        Each example's positions restart at 0, which transformers turns into a block-diagonal
        causal mask (no attention across examples; flash-attention's varlen path reads the same
        position ids) -- provided the model runs without a KV cache (``use_cache=False``; the
        sft flow sets it for training). An example's first token is never a target, so nothing
        is learned across a boundary either.
        """
        rows, cur = [], []
        for i, n in enumerate(data.lengths):
            if cur and sum(data.lengths[j] for j in cur) + n > max_length:
                rows.append(cur)
                cur = []
            cur.append(i)
        if cur:
            rows.append(cur)
        ids, labels, pos = [], [], []
        for r in rows:
            ids.append([t for i in r for t in data.input_ids[i]])
            labels.append([t for i in r for t in [IGNORE] + data.labels[i][1:]])
            pos.append([p for i in r for p in range(len(data.input_ids[i]))])
        stats = dict(data.stats, packed_rows=len(rows))
        return SFTEncoded(ids, labels, pos, rows, data.truncated, stats)

    def collate(self, data: SFTEncoded, idx: list[int], pad_id: int) -> dict[str, torch.Tensor]:
        """Pad ``idx`` to their longest row. Padding is never a target (its id is often EOS:
        masking targets by pad id would mask EOS and the model would never stop).

        Returns ``input_ids``, ``attention_mask`` (or ``position_ids`` for packed rows),
        ``logits_to_keep`` (a [B, T] bool mask of the positions whose next token is trained:
        the model projects only those onto the vocabulary, which saves most of the memory of
        [B, T, vocab] logits) and ``labels``: the next-token targets at those positions, in
        row-major order, matching the model's flattened logits.
        """
        width = max(len(data.input_ids[i]) for i in idx)
        ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
        labels = torch.full((len(idx), width), IGNORE, dtype=torch.long)
        for r, i in enumerate(idx):
            n = len(data.input_ids[i])
            ids[r, :n] = torch.tensor(data.input_ids[i], dtype=torch.long)
            labels[r, :n] = torch.tensor(data.labels[i], dtype=torch.long)
        keep = torch.zeros((len(idx), width), dtype=torch.bool)
        keep[:, :-1] = labels[:, 1:] != IGNORE
        out = {"input_ids": ids, "logits_to_keep": keep, "labels": labels[:, 1:][keep[:, :-1]]}
        if data.position_ids is None:
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for r, i in enumerate(idx):
                mask[r, : len(data.input_ids[i])] = 1
            out["attention_mask"] = mask
            return out
        # packed: no 2-D mask; padding is one more segment (positions from 0) that no real
        # token attends to, so transformers builds the block-diagonal mask from positions
        pos = torch.zeros((len(idx), width), dtype=torch.long)
        for r, i in enumerate(idx):
            n = len(data.position_ids[i])
            pos[r, :n] = torch.tensor(data.position_ids[i], dtype=torch.long)
            pos[r, n:] = torch.arange(width - n)
        out["position_ids"] = pos
        return out

    # -- loss and metrics -------------------------------------------------------------------
    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean next-token loss over the trained tokens (``logits``: [N, vocab] at the kept
        positions, ``labels``: [N] targets, both from :meth:`collate`)."""
        return torch.nn.functional.cross_entropy(logits.float(), labels)

    def evaluate(self, model, data: SFTEncoded, batch_size: int, accelerator, pad_id: int) -> dict:
        """Dev loss (token-weighted over the whole split) and perplexity."""
        from tunewise.training.batching import eval_batches, shard

        was_training = model.training
        model.eval()
        plan = shard(
            eval_batches(data.lengths, batch_size),
            accelerator.process_index,
            accelerator.num_processes,
        )
        per_row = {}
        with torch.inference_mode():
            for idx in plan:
                batch = {
                    k: v.to(accelerator.device) for k, v in self.collate(data, idx, pad_id).items()
                }
                labels = batch.pop("labels")
                logits = model(**batch, use_cache=False).logits
                ce = torch.nn.functional.cross_entropy(logits.float(), labels, reduction="none")
                rows = batch["logits_to_keep"].nonzero()[:, 0]  # row of each kept position
                sums = torch.zeros(len(idx), device=ce.device).index_add_(0, rows, ce)
                counts = torch.bincount(rows, minlength=len(idx))
                for i, s, c in zip(idx, sums.tolist(), counts.tolist()):
                    per_row[i] = (s, c)
        if accelerator.num_processes > 1:
            from accelerate.utils import gather_object

            for part in gather_object([per_row]):
                per_row.update(part)
        if was_training:
            model.train()
        total = sum(s for s, _ in per_row.values())
        count = sum(c for _, c in per_row.values())
        loss = total / max(count, 1)
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "tokens": int(count)}
