"""Token classification (named entities): a tag per word, scored per entity.

Alignment: the fast tokenizer splits each word into sub-tokens (``word_ids``); only the first
sub-token of a word carries the word's tag, the others and the special tokens get -100 and the
loss ignores them. Predictions are read at first sub-tokens only, mapped back to words, decoded
under the BIO constraints (no ``I-X`` without ``B-X`` before it) and then to character spans.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from tunewise.errors import UserError
from tunewise.tasks.base import EncodedRows, Task, TaskData
from tunewise.tasks.tokens.tagging import to_spans

IGNORE = -100
_OFF = -30.0
"""Logit of every non-O tag at a word the model never saw (cut by max_length)."""


@dataclass
class TokenEncoded(EncodedRows):
    """A tokenized split: sub-token ids, where each word's first sub-token is, word tags."""

    input_ids: list[list[int]]
    first: list[list[int]]
    """Per example, per word: position of its first sub-token; -1 when the word was cut by
    max_length or has no sub-token."""
    labels: list[np.ndarray] | None
    """Per example, the tag id of every word (all words, also the cut ones)."""
    truncated: int = 0
    stats: dict = field(default_factory=dict)
    token_type_ids = None

    def subset(self, idx) -> TokenEncoded:
        idx = list(idx)
        return TokenEncoded(
            [self.input_ids[i] for i in idx],
            [self.first[i] for i in idx],
            None if self.labels is None else [self.labels[i] for i in idx],
        )


def word_positions(word_ids: list[int | None], n_words: int) -> list[int]:
    """Position of the first sub-token of each of ``n_words`` words (-1 where none)."""
    first = [-1] * n_words
    for pos, w in enumerate(word_ids):
        if w is not None and first[w] < 0:
            first[w] = pos
    return first


def constrained_decode(logp: np.ndarray, labels: list[str]) -> list[int]:
    """The best tag sequence (Viterbi on log-probabilities) that is valid BIO."""
    n, c = logp.shape
    if n == 0:
        return []
    kind = [lab[:2] for lab in labels]
    allowed = np.ones((c, c), dtype=bool)
    for j, lab in enumerate(labels):
        if kind[j] == "I-":
            allowed[:, j] = [labels[i] in (f"B-{lab[2:]}", lab) for i in range(c)]
    trans = np.where(allowed, 0.0, -np.inf)
    score = np.where([k == "I-" for k in kind], -np.inf, logp[0])
    back = np.zeros((n, c), dtype=np.int64)
    for t in range(1, n):
        cand = score[:, None] + trans
        back[t] = cand.argmax(0)
        score = cand.max(0) + logp[t]
    path = [int(score.argmax())]
    for t in range(n - 1, 0, -1):
        path.append(int(back[t][path[-1]]))
    return path[::-1]


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


LR_FACTOR = 3.0
"""Token classification's default lr for full fine-tuning: this times the model's rate."""


class TokenTask(Task):
    """Tagging over BIO ``labels`` (O first); ``gold_tags`` may hold dev/test-only tags."""

    name = "tokens"
    summary = "a tag per word: named entities (CoNLL, one character per line, JSONL spans)"
    multi_label = False
    peft_task_type = "TOKEN_CLS"
    """What peft calls this task (methods read it; see tunewise.methods.base)."""
    log_keys = ("micro_f1", "macro_f1", "micro_precision", "micro_recall", "token_accuracy")
    headline = ("micro_f1", "entity F1")
    doctor_checks = (
        "unknown_tokens",
        "shared_sentences",
        "tag_scheme",
        "entity_types",
        "sentence_truncation",
    )
    hf_architectures = ("ForTokenClassification",)

    # -- configuration and data -------------------------------------------------------------
    @classmethod
    def configure(cls, cfg) -> None:
        if "batch_size" not in cfg.train.model_fields_set:
            cfg.train.batch_size = 16  # more steps on the small tagged sets NER starts from
        if cfg.task.multi_label:
            raise UserError("invalid config: task.multi_label is for classification, not tokens")
        if cfg.task.class_weights != "none":
            raise UserError("invalid config: task.class_weights is for classification, not tokens")

    @classmethod
    def default_lr(cls, cfg, lr: float) -> float:
        # a fresh per-token head on O-dominated tags: at the sentence-task rate minilm still
        # tagged everything O after an epoch of 2,900 WNUT-17 sentences (dev F1 0.04);
        # 3x (with batch 16) reached dev F1 0.42 after the same epoch
        return lr * LR_FACTOR if cfg.method.name == "full" else lr

    @classmethod
    def read_data(cls, cfg) -> TaskData:
        from tunewise.tasks.tokens.data import read_data

        return read_data(cfg.data)

    @classmethod
    def group_key(cls, example):
        return tuple(w.lower() for w in example.words)

    @classmethod
    def from_data(cls, cfg, data: TaskData, tokenizer) -> TokenTask:
        gold = sorted({t for part in (data.dev, data.test) for ex in part or [] for t in ex.tags})
        return cls(data.info["labels"], gold)

    @classmethod
    def from_meta(cls, meta) -> TokenTask:
        return cls(meta.get("labels"))

    def meta(self) -> dict:
        return {"labels": self.labels, "multi_label": False, "scheme": "BIO"}

    def labels_record(self) -> dict:
        types = sorted({lab[2:] for lab in self.labels if lab != "O"})
        return {
            "labels": self.labels,
            "multi_label": False,
            "task": self.name,
            "scheme": "BIO",
            "entity_types": types,
        }

    def data_record(self, data: TaskData) -> dict:
        return {
            "words": {
                k: sum(len(e.words) for e in getattr(data, k) or [])
                for k in ("train", "dev", "test")
            }
        }

    def validate(self, data: TaskData) -> None:
        from tunewise.tasks.tokens.data import require_valid

        require_valid(data)

    def evaluate(self, fitted) -> dict:
        from tunewise.tasks.tokens.evaluate import evaluate

        return evaluate(self, fitted)

    def collapse_check(self, logits, split: str) -> dict:
        n_ent = sum(t[:2] == "B-" for tags in self.predict_tags(logits) for t in tags)
        return {
            "ok": n_ent > 0,
            "predicted_entities": n_ent,
            "message": f"{n_ent} entities predicted on {split}"
            if n_ent
            else f"no entity predicted on {split}: every word got O",
        }

    @classmethod
    def print_summary(cls, metrics: dict, console) -> None:
        from tunewise.tasks.tokens.evaluate import print_token_metrics

        print_token_metrics(metrics, console)

    def __init__(self, labels: list[str], gold_tags: list[str] | None = None):
        self.labels = list(labels)
        self.label2id = {l: i for i, l in enumerate(self.labels)}
        extra = [t for t in gold_tags or [] if t not in self.label2id]
        self.tag_names = self.labels + extra
        """Names of every tag id: the model's labels, then dev/test tags train lacks."""
        self.tag2id = {t: i for i, t in enumerate(self.tag_names)}

    # -- model ------------------------------------------------------------------------------
    def auto_model(self):
        from transformers import AutoModelForTokenClassification

        return AutoModelForTokenClassification

    def model_kwargs(self) -> dict:
        return {
            "num_labels": len(self.labels),
            "id2label": dict(enumerate(self.labels)),
            "label2id": dict(self.label2id),
        }

    # -- data -------------------------------------------------------------------------------
    def encode(self, examples, tokenizer, max_length: int, with_labels: bool = True):
        """Tokenize words once, without padding; record each word's first sub-token."""
        if not getattr(tokenizer, "is_fast", False):
            raise UserError(
                "token classification needs a fast tokenizer (word_ids); this model's is slow"
            )
        words = [list(ex.words) for ex in examples]
        first, ids, truncated, cut_words, no_piece, full_lens = [], [], 0, 0, 0, []
        if words:
            full = tokenizer(words, is_split_into_words=True, truncation=False)
            enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
            for i, ws in enumerate(words):
                n_full = len(full["input_ids"][i])
                full_lens.append(n_full)
                f = word_positions(enc.word_ids(i), len(ws))
                missing = sum(p < 0 for p in f)
                whole = word_positions(full.word_ids(i), len(ws))
                no_piece += sum(p < 0 for p in whole)
                if n_full > max_length:
                    truncated += 1
                    cut_words += missing - sum(p < 0 for p in whole)
                first.append(f)
                ids.append(list(enc["input_ids"][i]))
        labels = None
        if with_labels:
            labels = [
                np.array([self.tag2id[t] for t in ex.tags], dtype=np.int64) for ex in examples
            ]
        n = max(len(words), 1)
        stats = {
            "rows": len(words),
            "words": sum(len(w) for w in words),
            "truncated": truncated,
            "truncated_share": truncated / n,
            "words_cut": cut_words,
            "words_without_subtokens": no_piece,
            "max_length": max_length,
            "mean_tokens": float(np.mean(full_lens)) if full_lens else 0.0,
            "p95_tokens": float(np.percentile(full_lens, 95)) if full_lens else 0.0,
        }
        return TokenEncoded(ids, first, labels, truncated, stats)

    def collate(self, data: TokenEncoded, idx: list[int], pad_id: int) -> dict:
        """Pad to the longest in the batch; labels only at first sub-tokens, -100 elsewhere."""
        seqs = [data.input_ids[i] for i in idx]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for r, s in enumerate(seqs):
            ids[r, : len(s)] = torch.tensor(s, dtype=torch.long)
            mask[r, : len(s)] = 1
        batch = {"input_ids": ids, "attention_mask": mask}
        if data.labels is not None:
            lab = torch.full((len(seqs), width), IGNORE, dtype=torch.long)
            for r, i in enumerate(idx):
                for w, pos in enumerate(data.first[i]):
                    tag = int(data.labels[i][w])
                    if pos >= 0 and tag < len(self.labels):
                        lab[r, pos] = tag
            batch["labels"] = lab
        return batch

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        # soft-prompt methods (prompt tuning, P-tuning) prepend virtual tokens: the real
        # tokens are the last positions
        logits = logits[:, logits.shape[1] - labels.shape[1] :].float()
        if not (labels != IGNORE).any():
            return logits.sum() * 0.0
        return torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE
        )

    # -- decoding ---------------------------------------------------------------------------
    def row_outputs(self, logits: np.ndarray, data: TokenEncoded, idx: list[int]) -> list:
        """Word-level logits [words, C] of each row of a batch, read at first sub-tokens;
        a word the model did not see gets O."""
        out = []
        c = logits.shape[-1]
        # virtual tokens of soft-prompt methods come first: skip them
        shift = logits.shape[1] - max(len(data.input_ids[i]) for i in idx)
        for r, i in enumerate(idx):
            f = np.asarray(data.first[i], dtype=np.int64) + shift
            w = np.full((len(f), c), _OFF, dtype=np.float32)
            w[:, 0] = 0.0
            ok = f >= shift
            w[ok] = logits[r, f[ok]]
            out.append(w)
        return out

    def decode_tags(self, word_logits: np.ndarray) -> tuple[list[str], np.ndarray]:
        """BIO tags of one sentence and the probability of each chosen tag."""
        logp = log_softmax(word_logits)
        path = constrained_decode(logp, self.labels)
        return [self.labels[k] for k in path], np.exp(logp[np.arange(len(path)), path])

    def predict_tags(self, logits: list[np.ndarray]) -> list[list[str]]:
        return [self.decode_tags(w)[0] for w in logits]

    def metrics(self, logits: list[np.ndarray], labels: list[np.ndarray], threshold=None) -> dict:
        """Entity-level metrics over the whole split (see :mod:`tunewise.tasks.tokens.metrics`)."""
        from tunewise.tasks.tokens.metrics import entity_metrics

        if len(logits) != len(labels):
            raise RuntimeError(f"{len(logits)} predictions for {len(labels)} sentences")
        gold = [[self.tag_names[k] for k in y] for y in labels]
        return entity_metrics(gold, self.predict_tags(logits))

    def entities(self, text: str, offsets, word_logits: np.ndarray) -> list[dict]:
        """Entities of one text: type, text, start and end (characters), score (mean
        probability of the entity's tags)."""
        tags, p = self.decode_tags(word_logits)
        out = []
        for typ, s, e in to_spans(tags, "BIO"):
            a, b = offsets[s][0], offsets[e - 1][1]
            out.append(
                {
                    "type": typ,
                    "text": text[a:b],
                    "start": int(a),
                    "end": int(b),
                    "score": round(float(p[s:e].mean()), 6),
                }
            )
        return out
