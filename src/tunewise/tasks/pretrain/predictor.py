"""A pretraining run in use: the loss and perplexity of each text under the model."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from tunewise.rundir import model_dir_of, read_meta


class _Device:
    """What :func:`row_losses` asks of an accelerator, for one CPU process."""

    device = torch.device("cpu")
    process_index, num_processes = 0, 1


class PretrainPredictor:
    """A pretrained model loaded from a run directory (or its ``model/`` directory)."""

    def __init__(self, path: str | Path, batch_size: int = 32, loader=None):
        from tunewise.models.loading import load_tokenizer
        from tunewise.tasks.pretrain.task import PretrainTask

        self.run, model_dir = model_dir_of(path)
        self.meta = read_meta(model_dir)
        self.tokenizer = load_tokenizer(str(model_dir))
        self.task = PretrainTask.from_meta(self.meta).bind(self.tokenizer)
        self.max_length = int(self.meta.max_length)
        self.batch_size = batch_size
        self.model = self.task.load_saved(model_dir)

    def _scores(self, texts: list[str]) -> list[tuple[float, int]]:
        from tunewise.tasks.pretrain.data import TextDoc
        from tunewise.tasks.pretrain.encode import row_losses

        docs = [TextDoc(t) for t in texts]
        enc = self.task.encode(docs, self.tokenizer, self.max_length, pack=False)
        pad = self.tokenizer.pad_token_id or 0
        per_row = row_losses(self.task, self.model, enc, self.batch_size, _Device(), pad)
        out = [[0.0, 0] for _ in texts]
        for i, (s, c) in per_row.items():
            out[enc.docs[i]][0] += s
            out[enc.docs[i]][1] += c
        return [(s, c) for s, c in out]

    def predict(self, inputs) -> list[dict]:
        """One ``{"loss", "perplexity", "tokens"}`` per text (masked LM: fixed 15% masks)."""
        if isinstance(inputs, str):
            inputs = [inputs]
        res = []
        for s, c in self._scores(list(inputs)):
            loss = s / c if c else 0.0
            res.append(
                {
                    "loss": round(loss, 6),
                    "perplexity": round(math.exp(min(loss, 50)), 4),
                    "tokens": c,
                }
            )
        return res

    # -- the predictor protocol (tunewise.tasks.base.Predictor) ------------------------------
    def read_inputs(self, path: Path, require_label: bool = False) -> list:
        from tunewise.tasks.pretrain.data import read_texts

        col = (self.run.data_settings() if self.run is not None else {}).get("text_column")
        return read_texts(path, [c.strip() for c in (col or "text").split(",")])

    def predict_rows(self, examples: list) -> list[dict]:
        return [
            {"text": e.text, **r}
            for e, r in zip(examples, self.predict([e.text for e in examples]))
        ]

    def evaluate_file(self, path: Path) -> dict:
        scores = self._scores([e.text for e in self.read_inputs(path)])
        total, count = sum(s for s, _ in scores), sum(c for _, c in scores)
        loss = total / max(count, 1)
        return {"test": {"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "tokens": count}}

    def parity_outputs(self, texts: list[str]) -> np.ndarray:
        return np.array([r["loss"] for r in self.predict(list(texts))]).reshape(-1, 1)

    def predict_batch(self, items: list) -> list:
        return self.predict(list(items))
