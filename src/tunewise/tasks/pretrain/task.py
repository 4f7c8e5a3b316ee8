"""Continued pretraining on the user's own unlabeled text: masked LM for encoders, causal LM
for decoders (``--task pretrain``, or ``tunewise pretrain``).

Masked LM (``objective: mlm``): dynamic masking of 15% of the words (whole words for English,
single characters for Chinese; BERT's 80/10/10), the head projects only the masked positions
onto the vocabulary; a model without an MLM head (minilm is a bare BertModel) gets one whose
decoder is tied to the input embeddings. Causal LM (``objective: clm``): documents joined by
EOS and packed into full ``max_length`` blocks. Either way held-out perplexity (a split of
the text, ``data.split.dev``) is measured before training and after, with the same masks, and
written to ``metrics.json`` as ``{"perplexity": {"before", "after"}}``. The saved model is a
plain transformers directory that ``tunewise train --model RUN/model`` fine-tunes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from tunewise.errors import UserError
from tunewise.tasks.base import Task, TaskData
from tunewise.tasks.pretrain.encode import (
    collate_clm,
    collate_mlm,
    encode_clm,
    encode_mlm,
    row_losses,
)


class PretrainOptions(BaseModel):
    """``task.options`` of a pretraining run."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    objective: Literal["mlm", "clm"] = "mlm"
    """mlm: masked LM (encoders); clm: causal LM with packing (decoders)."""
    mask_prob: float = Field(0.15, gt=0, lt=1)
    """Masked LM: share of words masked in each row."""
    whole_word: bool = True
    """Masked LM: mask every piece of a word together (a CJK character is a word)."""
    dedup_against: list[str] = []
    """Labeled test sets (files or folders) whose texts must not be in the pretraining text."""
    dedup: bool = True
    """Drop pretraining documents that are (or hold) a test text; false: the doctor stops."""


class PretrainTask(Task):
    """Masked or causal language modelling on unlabeled text."""

    name = "pretrain"
    summary = "continued pretraining on your own text: masked LM (encoders) or causal LM"
    options = PretrainOptions
    peft_task_type = "CAUSAL_LM"
    lower_is_better = ("loss", "perplexity")
    log_keys = ("loss", "perplexity", "tokens")
    headline = ("perplexity", "held-out perplexity")
    doctor_checks = ("duplicates", "cross_split_overlap", "unknown_tokens", "test_texts_in_text")
    parity_atol = 1e-3

    def __init__(self, opts: PretrainOptions | None = None, seed: int = 0):
        self.opts = opts or PretrainOptions()
        self.seed = seed
        self.mask_prob, self.whole_word = self.opts.mask_prob, self.opts.whole_word
        self.mask_id, self.vocab_size = 0, 0
        self.special_ids = np.zeros(0, dtype=np.int64)

    @property
    def mlm(self) -> bool:
        return self.opts.objective == "mlm"

    def bind(self, tokenizer) -> PretrainTask:
        """Take the mask token, vocabulary size and special tokens from ``tokenizer``."""
        if self.mlm:
            if tokenizer.mask_token_id is None or tokenizer.cls_token_id is None:
                raise UserError(
                    "this model's tokenizer has no [MASK]/[CLS] token, so it is not a masked-LM "
                    "encoder; for a decoder use --objective clm"
                )
            self.mask_id = tokenizer.mask_token_id
        elif tokenizer.eos_token_id is None:
            raise UserError("this tokenizer has no EOS token; --objective clm needs one")
        elif tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.vocab_size = len(tokenizer)
        self.special_ids = np.array(sorted(set(tokenizer.all_special_ids)), dtype=np.int64)
        return self

    # -- configuration and data -------------------------------------------------------------
    @classmethod
    def configure(cls, cfg) -> None:
        if cfg.task.multi_label or cfg.task.class_weights != "none":
            raise UserError(
                "invalid config: task.multi_label and task.class_weights are for classification"
            )
        if cfg.data.test is not None:
            raise UserError(
                "pretrain: --test is not used (pretraining has no labels); held-out text is "
                "split from the text (data.split.dev) or given with --dev; name labeled test "
                "sets to keep out of the text with --dedup-against"
            )
        if "test" not in cfg.data.split.model_fields_set:
            cfg.data.split.test = 0.0
        if "max_length" not in cfg.model.model_fields_set:
            cfg.model.max_length = 128

    def check_method(self, method) -> None:
        mlm = getattr(self, "opts", None) is None or self.mlm
        if mlm and method.name != "full":
            raise UserError(
                f"method {method.name}: masked-LM pretraining trains the whole encoder "
                "(method full), which later fine-tuning starts from"
            )
        if not method.mergeable or method.name == "head":
            raise UserError(
                f"method {method.name}: pretraining saves a plain transformers model, so it "
                "needs a method that merges into the weights: full, lora, rslora, dora, ia3"
            )

    @classmethod
    def read_data(cls, cfg) -> TaskData:
        from tunewise.tasks.pretrain.data import find_test_copies, read_test_texts, read_texts

        opts = PretrainOptions.model_validate(cfg.task.options or {})
        if cfg.data.train is None:
            raise UserError("no text to pretrain on: give --text FILE (or a folder)")
        cols = [c.strip() for c in cfg.data.text_column.split(",") if c.strip()]
        docs = read_texts(cfg.data.train, cols, cfg.data.quoting)
        dev = read_texts(cfg.data.dev, cols, cfg.data.quoting) if cfg.data.dev else None
        info: dict = {}
        if opts.dedup_against:
            tests = read_test_texts(opts.dedup_against, cols, cfg.data.quoting)
            found = sum(find_test_copies(part, tests) for part in (docs, dev or []))
            info["test_sets"] = {"files": opts.dedup_against, "texts": len(tests)}
            if opts.dedup:
                docs = [d for d in docs if d.in_test is None]
                dev = None if dev is None else [d for d in dev if d.in_test is None]
                info["test_sets"]["dropped_documents"] = found
            if not docs:
                raise UserError(f"{cfg.data.train}: every document is a test text")
        return TaskData(docs, dev, None, info)

    @classmethod
    def group_key(cls, example):
        from tunewise.data.examples import normalize_text

        return normalize_text(example.text)

    @classmethod
    def from_data(cls, cfg, data: TaskData, tokenizer) -> PretrainTask:
        opts = PretrainOptions.model_validate(cfg.task.options or {})
        if not data.dev:
            raise UserError(
                f"{cfg.data.train}: no held-out text; perplexity before/after needs some "
                "(data.split.dev > 0, or --dev FILE)"
            )
        return cls(opts, cfg.train.seed).bind(tokenizer)

    @classmethod
    def from_meta(cls, meta) -> PretrainTask:
        return cls(PretrainOptions.model_validate(meta.get("options") or {}), meta.get("seed", 0))

    def meta(self) -> dict:
        return {"options": self.opts.model_dump(mode="json"), "seed": self.seed}

    def data_record(self, data: TaskData) -> dict:
        return {"objective": self.opts.objective}

    # -- model ------------------------------------------------------------------------------
    def auto_model(self):
        from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

        return AutoModelForMaskedLM if self.mlm else AutoModelForCausalLM

    def model_kwargs(self) -> dict:
        return {"dtype": torch.float32}

    def head_modules(self, model) -> list[str]:
        return []

    def prepare_model(self, model) -> None:
        """A new MLM head's decoder shares the input embeddings (minilm has no head)."""
        model.config.use_cache = False if not self.mlm else getattr(model.config, "use_cache", None)
        if self.mlm:
            model.config.tie_word_embeddings = True
            model.tie_weights()

    def save_model(self, raw, path: Path, method_cfg, tokenizer) -> None:
        from tunewise.methods import merged_copy

        m = merged_copy(raw, method_cfg)
        m.save_pretrained(path)
        tokenizer.save_pretrained(path)

    def load_saved(self, path: Path, meta=None, loader=None):
        from tunewise.models.loading import quiet_transformers

        with quiet_transformers():
            return self.auto_model().from_pretrained(str(path), dtype=torch.float32).eval()

    def reloads_saved(self, method) -> bool:
        return True

    # -- training ---------------------------------------------------------------------------
    def encode(self, examples, tokenizer, max_length: int, with_labels: bool = True, pack=True):
        texts = [e.text for e in examples]
        if self.mlm:
            return encode_mlm(texts, tokenizer, max_length)
        return encode_clm(texts, tokenizer, max_length, pack)

    def prepare_train(self, data, cfg):
        data.dynamic = True
        return data

    def collate(self, data, idx: list[int], pad_id: int) -> dict:
        return collate_mlm(self, data, idx, pad_id) if self.mlm else collate_clm(data, idx, pad_id)

    def forward(self, model, batch: dict):
        """Logits at the predicted positions only, [N, vocab] (the vocabulary projection of
        every position would cost as much as the encoder itself on a small model)."""
        if not self.mlm:
            return model(**batch, use_cache=False).logits
        masked = batch["masked"]
        prefix = getattr(model, "base_model_prefix", "")
        base, head = getattr(model, prefix, None), getattr(model, "cls", None)
        inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        if base is not None and head is not None:
            return head(base(**inputs).last_hidden_state[masked])
        return model(**inputs).logits[masked]

    def loss(self, logits, labels):
        return torch.nn.functional.cross_entropy(logits.float(), labels)

    def split_metrics(self, model, data, batch_size: int, accelerator, pad_id: int) -> dict:
        """Loss over every predicted token of the split (token-weighted) and perplexity."""
        was_training = model.training
        model.eval()
        per_row = row_losses(self, model, data, batch_size, accelerator, pad_id)
        if accelerator.num_processes > 1:
            from accelerate.utils import gather_object

            for part in gather_object([per_row]):
                per_row.update(part)
        model.train(was_training)
        total = sum(s for s, _ in per_row.values())
        count = sum(c for _, c in per_row.values())
        loss = total / max(count, 1)
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "tokens": int(count)}

    def default_metric(self) -> str:
        return "perplexity"

    def before_training(self, model, enc, data, cfg, accelerator, pad_id, tokenizer, echo) -> dict:
        echo("held-out perplexity of the model before pretraining")
        m = self.split_metrics(model, enc["dev"], cfg.train.batch_size * 2, accelerator, pad_id)
        echo(f"before: held-out perplexity {m['perplexity']:.2f} ({m['tokens']:,} tokens)")
        return {"before": m}

    # -- after training and in use ----------------------------------------------------------
    def evaluate(self, fitted) -> dict:
        f = fitted
        after = self.split_metrics(
            f.model, f.enc["dev"], f.eval_batch_size, f.accelerator, f.pad_id
        )
        before = (f.extras or {}).get("before") or {}
        return {
            "dev": after,
            "perplexity": {
                "before": before.get("perplexity"),
                "after": after["perplexity"],
                "split": "held-out (dev)",
                "tokens": after["tokens"],
                "objective": self.opts.objective,
                "note": "masked LM: the same masks before and after (15% of words)"
                if self.mlm
                else "causal LM: every next token of the packed held-out blocks",
            },
        }

    @classmethod
    def print_summary(cls, metrics: dict, console) -> None:
        p = metrics.get("perplexity") or {}
        before = p.get("before")
        console.print(
            f"held-out perplexity ({p.get('objective')}): "
            + (f"before {before:.2f} -> " if before is not None else "")
            + f"after {p.get('after', float('nan')):.2f} over {p.get('tokens', 0):,} tokens"
        )
