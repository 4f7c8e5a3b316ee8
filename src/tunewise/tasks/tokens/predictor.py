"""A token-classification run in use: entities with character offsets for raw texts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tunewise.errors import UserError
from tunewise.rundir import model_dir_of, read_meta
from tunewise.tasks.tokens.conll import TokenExample, split_words


class TokenPredictor:
    """``tunewise.load(run)`` for a tokens run: ``predict(texts)`` gives entities per text."""

    def __init__(self, path: str | Path, batch_size: int = 32, loader=None):
        """Load the token run (or model directory) ``path``.

        Args:
            loader: stands in for :func:`tunewise.methods.load_trained` (see ``Predictor``).
        """
        from tunewise.models.loading import load_tokenizer
        from tunewise.tasks.tokens.task import TokenTask

        self.run, model_dir = model_dir_of(path)
        self.meta = read_meta(model_dir)
        self.max_length = int(self.meta.max_length)
        self.task = TokenTask.from_meta(self.meta)
        self.labels = self.task.labels
        self.tokenizer = load_tokenizer(str(model_dir))
        self.model = self.task.load_saved(model_dir, self.meta.to_dict(), loader)
        self.batch_size = batch_size

    def _chunks(self, ex: TokenExample) -> list[tuple[int, int]]:
        """Word ranges that each fit max_length in sub-tokens (a long text is read in pieces
        instead of being cut off)."""
        if not ex.words:
            return []
        enc = self.tokenizer([ex.words], is_split_into_words=True, add_special_tokens=False)
        per_word = np.bincount(
            [w for w in enc.word_ids(0) if w is not None], minlength=len(ex.words)
        )
        budget = max(1, self.max_length - self.tokenizer.num_special_tokens_to_add())
        out, start, used = [], 0, 0
        for i, n in enumerate(per_word):
            if used + n > budget and i > start:
                out.append((start, i))
                start, used = i, 0
            used += n
        out.append((start, len(ex.words)))
        return out

    def word_logits(self, examples: list[TokenExample]) -> list[np.ndarray]:
        """Word-level logits of every example (long ones in pieces), in input order."""
        from tunewise.training.batching import INFER_MAX_PAD, eval_batches

        pieces, owner = [], []
        for k, ex in enumerate(examples):
            for a, b in self._chunks(ex):
                pieces.append(TokenExample(ex.words[a:b], None))
                owner.append(k)
        data = self.task.encode(pieces, self.tokenizer, self.max_length, with_labels=False)
        outs: list = [None] * len(pieces)
        pad = self.tokenizer.pad_token_id or 0
        for idx in eval_batches(data.lengths, self.batch_size, INFER_MAX_PAD):
            logits = self.batch_logits(self.task.collate(data, idx, pad))
            for i, w in zip(idx, self.task.row_outputs(logits, data, idx)):
                outs[i] = w
        c = len(self.labels)
        result = [[] for _ in examples]
        for k, w in zip(owner, outs):
            result[k].append(w)
        return [np.concatenate(r) if r else np.zeros((0, c), np.float32) for r in result]

    def batch_logits(self, batch: dict) -> np.ndarray:
        """fp32 sub-token logits [rows, tokens, tags] of one collated batch."""
        with torch.inference_mode():
            return self.model(**batch).logits.float().numpy()

    def predict(self, texts: list[str] | str) -> list[dict]:
        """Entities of raw texts.

        Words are whitespace-separated (leading/trailing punctuation split off; each Chinese
        character a word), as in CoNLL-style training data.

        Returns:
            One dict per text: ``entities``, each with ``type``, ``text``, ``start`` and ``end``
            (character offsets into the text, end exclusive) and ``score`` (mean probability of
            the entity's tags).
        """
        if isinstance(texts, str):
            texts = [texts]
        exs = []
        for t in texts:
            if not isinstance(t, str):
                raise UserError(f"expected texts as strings, got {type(t).__name__}")
            offs = split_words(t)
            exs.append(TokenExample([t[a:b] for a, b in offs], None, "", t, offs))
        logits = self.word_logits(exs)
        return [
            {"entities": self.task.entities(ex.text, ex.offsets, w)} for ex, w in zip(exs, logits)
        ]

    def evaluate(self, examples: list[TokenExample], source: str | Path = "data") -> dict:
        """Entity metrics of this model on tagged sentences (whole file at once)."""
        from tunewise.tasks.tokens.metrics import bootstrap_f1, entity_metrics

        types = {t[2:] for ex in examples for t in ex.tags if t != "O"}
        unknown = sorted(types - {lab[2:] for lab in self.labels if lab != "O"})
        pred = [self.task.decode_tags(w)[0] for w in self.word_logits(examples)]
        gold = [ex.tags for ex in examples]
        out = entity_metrics(gold, pred)
        out["ci"] = bootstrap_f1(gold, pred)
        if unknown:
            out["types_unknown_to_model"] = unknown
        return out

    def _data_config(self):
        from tunewise.config import DataConfig

        cfg = self.run.data_settings() if self.run is not None else {}
        keep = ("token_format", "tag_column", "token_column", "tag_scheme", "text_column")
        return DataConfig(**{k: v for k, v in cfg.items() if k in keep})

    def evaluate_file(self, path: Path) -> dict:
        """Read a tagged file with the run's data settings and evaluate on it."""
        from tunewise.tasks.tokens.data import read_tagged, require_valid_examples

        data = self._data_config()
        exs, _ = read_tagged(path, data, data.tag_scheme)
        require_valid_examples(exs)
        return {"task": self.task.name, "test": self.evaluate(exs, path)}

    # -- the predictor protocol (tunewise.tasks.base.Predictor) ------------------------------
    def read_inputs(self, path: Path, require_label: bool = False) -> list:
        """Texts of a file: a table's text column (CSV, TSV, JSONL, Parquet), one text a line
        (.txt), or the sentences of a tagged file (CoNLL ...) read with the run's settings."""
        from tunewise.data.readers import FORMATS, read_examples
        from tunewise.tasks.text import columns, read_lines

        path = Path(path)
        if path.suffix.lower() == ".txt" and not require_label:
            return read_lines(path)
        if path.suffix.lower() not in FORMATS:
            from tunewise.tasks.tokens.data import read_tagged

            data = self._data_config()
            return read_tagged(path, data, data.tag_scheme)[0]
        cols = columns(self.run.data_settings() if self.run is not None else {})
        cols["text_pair_column"] = None
        return read_examples(path, require_label=False, **cols)

    def predict_rows(self, examples: list) -> list[dict]:
        results = self.predict([e.text for e in examples]) if examples else []
        return [{"text": e.text, **r} for e, r in zip(examples, results)]

    def parity_outputs(self, texts: list[str]) -> np.ndarray:
        """Word-level logits of raw texts, every word of every text one row."""
        exs = []
        for t in texts:
            offs = split_words(t)
            exs.append(TokenExample([t[a:b] for a, b in offs], None, "", t, offs))
        parts = self.word_logits(exs)
        return np.concatenate(parts) if parts else np.zeros((0, len(self.labels)), np.float32)

    def predict_batch(self, items: list) -> list:
        return self.predict(list(items))
