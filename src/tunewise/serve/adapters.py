"""Thin adapters over plain transformers models, for token tagging and text generation.

They give a saved ``...ForTokenClassification`` or ``...ForCausalLM`` directory the interface
the server calls (``predict(texts)`` / ``generate(...)``), the same interface the token and
decoder tasks' own predictors offer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
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


class _Cancel:
    """A stopping criterion that ends generation when the client is gone or a stop matched."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool)


class HfGenerator:
    """Text generation from a causal LM directory (chat template used for messages)."""

    def __init__(self, model_dir: str | Path):
        from transformers import AutoModelForCausalLM

        from tunewise.models.loading import load_tokenizer, quiet_transformers

        self.tokenizer = load_tokenizer(str(model_dir))
        with quiet_transformers():
            self.model = AutoModelForCausalLM.from_pretrained(str(model_dir))
        self.model.eval()

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def render(self, prompt: str | None = None, messages: list[dict] | None = None) -> str:
        """The text the model continues: the prompt, or the messages through the chat template."""
        if messages is None:
            return prompt or ""
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError("this model has no chat template; send a prompt to /v1/generate")
        return self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )

    def generate(
        self,
        prompt: str | None = None,
        messages: list[dict] | None = None,
        max_new_tokens: int = 64,
        temperature: float = 0.0,
        top_p: float = 1.0,
        stop: list[str] | None = None,
        stream: bool = False,
        seed: int | None = None,
    ):
        """The continuation as one string, or with ``stream`` an iterator of text chunks.

        ``temperature`` 0 is greedy decoding; generation ends at EOS, ``max_new_tokens`` or
        the first ``stop`` string (which is not returned).
        """
        chunks = self._stream(prompt, messages, max_new_tokens, temperature, top_p, stop, seed)
        return chunks if stream else "".join(chunks)

    def _stream(self, prompt, messages, max_new_tokens, temperature, top_p, stop, seed):
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        text = self.render(prompt, messages)
        enc = self.tokenizer(text, return_tensors="pt", add_special_tokens=messages is None)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        cancel = threading.Event()
        kwargs = dict(
            input_ids=enc["input_ids"],
            attention_mask=enc["attention_mask"],
            max_new_tokens=max_new_tokens,
            streamer=streamer,
            stopping_criteria=StoppingCriteriaList([_Cancel(cancel)]),
            pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        )
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_p=top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        errors: list[BaseException] = []

        def work():
            try:
                if seed is not None:
                    torch.manual_seed(seed)
                with torch.inference_mode():
                    self.model.generate(**kwargs)
            except BaseException as e:  # surfaced to the reader below
                errors.append(e)
                streamer.end()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        yield from _until_stop(streamer, stop or [], cancel)
        cancel.set()
        thread.join()
        if errors:
            raise errors[0]


def _until_stop(pieces, stops: list[str], cancel: threading.Event) -> Iterator[str]:
    """Pass text through, ending before the first stop string; hold back what could be the
    start of one so a stop split across pieces is never sent."""
    hold = max((len(s) for s in stops), default=1) - 1
    buf = ""
    exhausted = False
    try:
        for piece in pieces:
            buf += piece
            hits = [buf.find(s) for s in stops if s and s in buf]
            if hits:
                if buf[: min(hits)]:
                    yield buf[: min(hits)]
                return
            safe = len(buf) - hold
            if safe > 0:
                yield buf[:safe]
                buf = buf[safe:]
        exhausted = True
        if buf:
            yield buf
    finally:
        if not exhausted:
            cancel.set()  # a stop matched or the reader went away: stop generating
            for _ in pieces:  # drain, so the generating thread never blocks on the queue
                pass
