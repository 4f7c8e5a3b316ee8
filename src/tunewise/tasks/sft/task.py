"""Supervised fine-tuning of causal (GPT-style) decoders: instructions, chats, plain text.

The task owns how examples become tokens (the chat template, see
:mod:`tunewise.tasks.sft.chat_template`), the labels (-100 on everything but assistant turns, the
end-of-turn token kept so the model learns to stop), optional packing, the shifted
next-token loss and dev loss/perplexity. The loop and checkpoints are the shared ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from tunewise.errors import UserError
from tunewise.tasks.base import EncodedRows, Route, Task, TaskData
from tunewise.tasks.sft.chat_template import encode_conversation

IGNORE = -100


@dataclass
class SFTEncoded(EncodedRows):
    """A tokenized split: unpadded ids and labels per row (a packed row holds several examples,
    its ``position_ids`` restarting at 0 where each begins)."""

    input_ids: list[list[int]]
    labels: list[list[int]]
    position_ids: list[list[int]] | None = None
    rows: list[list[int]] | None = None
    """For packed rows: the example indices each row holds."""
    truncated: int = 0
    stats: dict = field(default_factory=dict)

    def subset(self, idx) -> SFTEncoded:
        idx = list(idx)
        pos = None if self.position_ids is None else [self.position_ids[i] for i in idx]
        return SFTEncoded([self.input_ids[i] for i in idx], [self.labels[i] for i in idx], pos)


class SFTTask(Task):
    """Causal language modelling on assistant tokens (or every token of plain text)."""

    name = "sft"
    summary = "supervised fine-tuning of a decoder on instructions, chats or plain text"
    peft_task_type = "CAUSAL_LM"
    lower_is_better = ("loss", "perplexity")
    log_keys = ("loss", "perplexity", "tokens")
    headline = ("perplexity", "perplexity")
    doctor_checks = (
        "duplicates",
        "cross_split_overlap",
        "same_splits",
        "label_conflicts",
        "near_duplicates",
        "empty_answers",
        "sft_length",
        "end_of_turn",
    )
    route = Route(path="/v1/generate", summary="Generation (and chat completions)", generation=True)
    hf_architectures = ("ForCausalLM", "ForConditionalGeneration")
    saves_plain_model = True
    parity_atol = 1e-3
    """Saved merged weights vs the in-memory adapter: the same function up to float rounding
    of W + BA (measured ~1e-5 relative on SmolLM2 logits)."""

    def __init__(self, eot: str, stop_ids: list[int] | None = None, chat: bool = True):
        self.eot = eot
        """The end-of-turn token string (kept in the labels)."""
        self.stop_ids = list(stop_ids or [])
        self.chat = chat
        self.chat_template = None

    def default_metric(self) -> str:
        return "loss"

    def head_modules(self, model) -> list[str]:
        """No new head: the LM head is the pretrained one (tied to the embeddings here)."""
        return []

    # -- configuration and data -------------------------------------------------------------
    @classmethod
    def configure(cls, cfg) -> None:
        # conversations are longer than classification inputs and a truncated answer loses its
        # end-of-turn token; LM logits are large: sft defaults unless set explicitly
        if "max_length" not in cfg.model.model_fields_set:
            cfg.model.max_length = 512
        if "batch_size" not in cfg.train.model_fields_set:
            cfg.train.batch_size = 8
        if "name" not in cfg.method.model_fields_set:
            from tunewise.config import MethodConfig

            cfg.method = MethodConfig(name="lora")
        if cfg.task.multi_label or cfg.task.class_weights != "none":
            raise UserError(
                "invalid config: task.multi_label and task.class_weights are for classification"
            )

    def check_method(self, method) -> None:
        if not method.mergeable or method.name == "head":
            raise UserError(
                f"method {method.name}: sft saves a plain transformers model (what `generate`, "
                "`chat` and any transformers user load), so it needs a method that merges into "
                "the weights: lora, rslora, dora, adalora, ia3 or full"
            )

    @classmethod
    def read_data(cls, cfg) -> TaskData:
        from tunewise.tasks.sft.data import read_sft

        d = cfg.data
        if d.train is None:
            raise UserError("data.train: a training file is required (--train)")
        dev = read_sft(d.dev) if d.dev is not None else None
        test = read_sft(d.test) if d.test is not None else None
        return TaskData(read_sft(d.train), dev, test, {})

    @classmethod
    def group_key(cls, example):
        """Copies of one prompt (or text) are grouped: the same instruction in train and test
        is a leak even when the answers differ."""
        from tunewise.data.examples import normalize_text

        if example.messages is None:
            return ("text", normalize_text(example.text or ""))
        prompt = example.prompt or []
        return ("chat",) + tuple(normalize_text(m["content"]) for m in prompt)

    @classmethod
    def from_data(cls, cfg, data: TaskData, tokenizer) -> SFTTask:
        from tunewise.tasks.sft.chat_template import end_of_turn, set_template, stop_token_ids

        chat = any(ex.messages is not None for ex in data.train)
        if chat:
            set_template(tokenizer, cfg.sft.chat_template)
            eot = end_of_turn(tokenizer)
        else:
            if tokenizer.eos_token is None:
                raise UserError("this tokenizer has no EOS token; plain-text training needs one")
            eot = tokenizer.eos_token
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        task = cls(eot, stop_token_ids(tokenizer, eot), chat)
        task.chat_template = cfg.sft.chat_template or "model's own"
        return task

    @classmethod
    def from_meta(cls, meta) -> SFTTask:
        task = cls(
            meta.get("end_of_turn", ""), meta.get("stop_token_ids"), meta.get("mode") != "text"
        )
        return task

    def meta(self) -> dict:
        return {
            "mode": "chat" if self.chat else "text",
            "end_of_turn": self.eot,
            "stop_token_ids": self.stop_ids,
            "chat_template": self.chat_template or "model's own",
            "merged": True,
        }

    def data_record(self, data: TaskData) -> dict:
        return {"mode": "chat" if self.chat else "text", "end_of_turn": self.eot}

    @classmethod
    def doctor_view(cls, examples: list) -> list:
        from tunewise.tasks.sft.doctor import doctor_view

        return doctor_view(examples)

    # -- model ------------------------------------------------------------------------------
    def auto_model(self):
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM

    def model_kwargs(self) -> dict:
        return {"dtype": torch.float32}

    def prepare_model(self, model) -> None:
        # no KV cache while training: transformers then reads packed position ids as example
        # boundaries (with a cache it would let packed examples attend to each other)
        model.config.use_cache = False

    def save_model(self, raw, path: Path, method_cfg, tokenizer) -> None:
        """A plain transformers causal LM: the method merged into a copy (training goes on
        with the adapters), generation stopping at the end-of-turn token."""
        from tunewise.methods import merged_copy

        m = merged_copy(raw, method_cfg)
        m.generation_config.eos_token_id = self.stop_ids
        m.generation_config.pad_token_id = tokenizer.pad_token_id
        m.config.use_cache = True  # for users' generate(); restored below for training
        try:
            m.save_pretrained(path)
        finally:
            m.config.use_cache = False
        tokenizer.save_pretrained(path)  # with the chat template training used

    def load_saved(self, path: Path, meta=None, loader=None):
        from tunewise.models.loading import quiet_transformers

        with quiet_transformers():
            return self.auto_model().from_pretrained(str(path), dtype=torch.float32)

    def reloads_saved(self, method) -> bool:
        return True

    def forward(self, model, batch: dict):
        return model(**batch, use_cache=False).logits

    def prepare_train(self, data, cfg):
        """Packed rows when ``sft.packing`` is on."""
        return self.pack(data, cfg.model.max_length) if cfg.sft.packing else data

    def split_metrics(self, model, data, batch_size: int, accelerator, pad_id: int) -> dict:
        return self.evaluate_loss(model, data, batch_size, accelerator, pad_id)

    def before_training(self, model, enc, data, cfg, accelerator, pad_id, tokenizer, echo) -> dict:
        from tunewise.tasks.sft.evaluate import before_training

        return before_training(self, model, enc, data, cfg, accelerator, pad_id, tokenizer, echo)

    def evaluate(self, fitted) -> dict:
        from tunewise.tasks.sft.evaluate import evaluate

        return evaluate(self, fitted)

    @classmethod
    def print_summary(cls, metrics: dict, console) -> None:
        from tunewise.tasks.sft.summary import print_sft_metrics

        print_sft_metrics(metrics, console)

    @classmethod
    def report_sections(cls, run_data) -> list:
        from tunewise.tasks.sft.summary import report_sections

        return report_sections(run_data)

    # -- data -------------------------------------------------------------------------------
    def encode(self, examples, tokenizer, max_length: int, with_labels: bool = True) -> SFTEncoded:
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

    def evaluate_loss(
        self, model, data: SFTEncoded, batch_size: int, accelerator, pad_id: int
    ) -> dict:
        """Loss (token-weighted over every row of the split) and perplexity."""
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
