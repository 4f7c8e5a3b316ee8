"""A thin adapter over a plain transformers token classifier (not a tunewise run).

It gives a saved ``...ForTokenClassification`` directory the interface the server calls
(``predict(texts)``), the one tunewise's own TokenPredictor offers for token runs. (Causal LMs,
tunewise runs or not, are served by ``tunewise.tasks.sft.predictor.Generator``.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


class HfTokenTagger:
    """Entities from a token classifier (BIO or plain tags), with character offsets."""

    def __init__(self, model_dir: str | Path, max_length: int = 512, batch_size: int = 32):
        from transformers import AutoModelForTokenClassification

        from tunewise.models.loading import load_tokenizer, quiet_transformers

        self.tokenizer = load_tokenizer(str(model_dir))
        with quiet_transformers():
            self.model = AutoModelForTokenClassification.from_pretrained(str(model_dir))
        self.model.eval()
        self.id2label = {int(k): v for k, v in self.model.config.id2label.items()}
        self.max_length = min(max_length, getattr(self.tokenizer, "model_max_length", max_length))
        self.batch_size = batch_size

    def predict_batch(self, items: list) -> list:
        return self.predict(list(items))

    def predict(self, texts: list[str]) -> list[dict]:
        """One ``{"entities": [{type, text, start, end, score}]}`` per text, in input order."""
        out: list[dict] = [{"entities": []} for _ in texts]
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # similar lengths
        for s in range(0, len(order), self.batch_size):
            idx = order[s : s + self.batch_size]
            batch = [texts[i] for i in idx]
            enc = self.tokenizer(
                batch,
                truncation=True,
                max_length=self.max_length,
                padding=True,
                return_offsets_mapping=True,
                return_special_tokens_mask=True,
                return_tensors="pt",
            )
            offsets = enc.pop("offset_mapping").tolist()
            special = enc.pop("special_tokens_mask").tolist()
            with torch.inference_mode():
                probs = torch.softmax(self.model(**enc).logits.float(), -1).numpy()
            mask = enc["attention_mask"].tolist()
            for r, i in enumerate(idx):
                keep = [t for t in range(len(mask[r])) if mask[r][t] and not special[r][t]]
                words = enc.word_ids(r)
                out[i] = {
                    "entities": self._spans(
                        batch[r],
                        probs[r][keep],
                        [offsets[r][t] for t in keep],
                        [words[t] for t in keep],
                    )
                }
        return out

    def _spans(self, text: str, probs: np.ndarray, offsets: list, words: list) -> list[dict]:
        spans: list[dict] = []
        cur = None
        prev_word = None
        for p, (a, b), w in zip(probs, offsets, words):
            k = int(p.argmax())
            tag = self.id2label[k]
            continues_word = w is not None and w == prev_word
            prev_word = w
            if cur is not None and continues_word:
                cur["end"], cur["scores"] = b, cur["scores"] + [float(p[k])]
                continue  # a word's later pieces follow its first piece
            if tag == "O":
                cur = None
                continue
            prefix, _, typ = tag.partition("-") if "-" in tag else ("I", "", tag)
            if cur is None or prefix == "B" or typ != cur["type"]:
                cur = {"type": typ, "start": a, "end": b, "scores": [float(p[k])]}
                spans.append(cur)
            else:
                cur["end"], cur["scores"] = b, cur["scores"] + [float(p[k])]
        return [
            {
                "type": s["type"],
                "text": text[s["start"] : s["end"]],
                "start": int(s["start"]),
                "end": int(s["end"]),
                "score": round(float(np.mean(s["scores"])), 6),
            }
            for s in spans
        ]
