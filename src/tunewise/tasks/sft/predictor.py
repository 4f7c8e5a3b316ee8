"""Text generation with a fine-tuned decoder: ``tunewise.load(run).generate(...)``.

Prompts go through the chat template saved with the model (the one training used); generation
stops at the template's end-of-turn token or EOS, at a stop string, or at ``max_new_tokens``.
Greedy by default; ``temperature > 0`` samples (with ``top_p``). :meth:`Generator.stream`
yields text chunks as they are produced (what ``tunewise chat`` and an HTTP server stream).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import torch

from tunewise.errors import UserError
from tunewise.rundir import META_FILE, RUN_FILE, RunDir


class Generator:
    """A decoder loaded from a tunewise sft run (or its ``model/`` directory), or from a plain
    transformers causal-LM directory (its chat template if it has one; stops at its EOS)."""

    def __init__(self, path: str | Path, batch_size: int = 8, loader=None):
        from transformers import AutoModelForCausalLM

        from tunewise.models.loading import load_tokenizer, quiet_transformers

        path = Path(path)
        if (path / RUN_FILE).is_file():
            RunDir(path).require_complete()
            model_dir = RunDir(path).model
        elif (path / META_FILE).is_file() or _is_causal_lm(path):
            model_dir = path
        else:
            raise UserError(f"{path}: not a tunewise run directory or model directory")
        saved = model_dir / META_FILE
        self.meta = json.loads(saved.read_text()) if saved.is_file() else {"task": "sft"}
        if self.meta.get("task") != "sft":
            raise UserError(
                f"{path}: a {self.meta.get('task', 'classification')} run; generate and chat "
                "need a run trained with --task sft"
            )
        self.tokenizer = load_tokenizer(str(model_dir))
        if not saved.is_file():  # a plain causal LM: chat if it has a chat template
            self.meta["mode"] = "chat" if self._has_template() else "text"
        with quiet_transformers():
            self.model = AutoModelForCausalLM.from_pretrained(str(model_dir))
        self.model.eval()
        self.stop_ids = list(
            self.meta.get("stop_token_ids") or _eos_ids(self.model, self.tokenizer)
        )
        self.chat_mode = self.meta.get("mode", "chat") == "chat"
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.stop_ids[0]
        from tunewise.tasks.sft.task import SFTTask

        self.model_dir = model_dir
        self.run = RunDir(path) if (path / RUN_FILE).is_file() else None
        self.task = SFTTask(self.meta.get("end_of_turn", ""), self.stop_ids, self.chat_mode)
        self.max_length = int(self.meta.get("max_length", 512))

    # -- the predictor protocol (tunewise.tasks.base.Predictor) ------------------------------
    def predict(self, inputs, max_new_tokens: int = 256, **kw) -> list[dict]:
        """One greedy answer per prompt (a user message, or a list of messages):
        ``{"text", "finish_reason", "prompt_tokens", "new_tokens"}``."""
        if isinstance(inputs, str):
            inputs = [inputs]
        return [self.complete(p, max_new_tokens=max_new_tokens, **kw) for p in inputs]

    def read_inputs(self, path: Path, require_label: bool = False) -> list:
        """Prompts of a file: instruction or chat JSONL rows (answers optional), or one
        prompt per line of a .txt file."""
        from tunewise.tasks.sft.data import read_sft

        p = Path(path)
        if p.suffix.lower() == ".txt" and not require_label:
            from tunewise.tasks.sft.data import ChatExample
            from tunewise.tasks.text import read_lines

            return [
                ChatExample([{"role": "user", "content": ex.text}], None, ex.where)
                for ex in read_lines(p)
            ]
        return read_sft(p, require_answer=require_label)

    def predict_rows(self, examples: list, max_new_tokens: int = 256) -> list[dict]:
        """One answer per row: the row's prompt (its messages before the last answer)."""
        out = []
        for ex in examples:
            prompt = ex.prompt if ex.messages is not None else ex.text
            r = self.complete(prompt, max_new_tokens=max_new_tokens)
            row = {"prompt": prompt, "answer": r["text"], **r}
            if ex.reference is not None:
                row["reference"] = ex.reference
            out.append(row)
        return out

    def evaluate_file(self, path: Path) -> dict:
        """Loss and perplexity over every row of a file with answers, and generation metrics
        (exact match, ROUGE-L, stop rate with bootstrap intervals) on its prompts."""
        from accelerate import PartialState

        from tunewise.evaluation.stats import bootstrap_mean
        from tunewise.tasks.sft.generate import answers
        from tunewise.tasks.sft.metrics import generation_scores

        exs = self.read_inputs(path, require_label=True)
        enc = self.task.encode(exs, self.tokenizer, self.max_length)
        out = self.task.evaluate_loss(self.model, enc, 8, PartialState(), self.pad_id)
        rows = [ex for ex in exs if ex.messages and ex.reference is not None]
        if rows:
            got = answers(self.model, self.tokenizer, rows, 64, self.stop_ids, self.pad_id)
            scores = generation_scores(got, [ex.reference for ex in rows])
            gen: dict = {"rows": len(rows), "ci": {}}
            for k, v in scores.items():
                gen[k] = sum(v) / len(v) if v else None
                if len(v) > 1:
                    gen["ci"][k] = bootstrap_mean(v)
            out["generation"] = gen
        return {"test": out}

    def parity_outputs(self, texts: list[str]):
        """Next-token logits at the end of each prompt (an export is compared on these)."""
        import numpy as np

        rows = []
        with torch.inference_mode():
            for t in texts:
                x = torch.tensor([self.prompt_ids(t)], dtype=torch.long, device=self.model.device)
                rows.append(self.model(input_ids=x).logits[0, -1].float().cpu().numpy())
        return np.stack(rows) if rows else np.zeros((0, 0), np.float32)

    def predict_batch(self, items: list) -> list:
        return self.predict(list(items))

    def _has_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def prompt_ids(self, prompt: str | list[dict]) -> list[int]:
        """Tokens of a prompt: a user message (or a list of messages) through the saved chat
        template; a plain-text run (continued pretraining) continues the raw text."""
        from tunewise.tasks.sft.chat_template import encode_prompt
        from tunewise.tasks.sft.data import parse_row

        if isinstance(prompt, str):
            if not self.chat_mode:
                return self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
            messages = [{"role": "user", "content": prompt}]
        elif not self.chat_mode:
            raise UserError("this model has no chat template; send a prompt, not messages")
        else:
            messages = parse_row({"messages": list(prompt)}, "messages", False).messages
        return encode_prompt(self.tokenizer, messages)

    def _kwargs(self, max_new_tokens, temperature, top_p, stop, seed) -> dict:
        if max_new_tokens < 1:
            raise UserError("max_new_tokens must be at least 1")
        if temperature < 0 or not 0 < top_p <= 1:
            raise UserError("temperature must be >= 0 and top_p in (0, 1]")
        kw = {
            "max_new_tokens": int(max_new_tokens),
            "use_cache": True,
            "eos_token_id": self.stop_ids,
            "pad_token_id": self.pad_id,
            "do_sample": temperature > 0,
        }
        if temperature > 0:
            kw.update(temperature=float(temperature), top_p=float(top_p), top_k=0)
            if seed is not None:
                torch.manual_seed(seed)
        if stop:
            kw.update(stop_strings=list(stop), tokenizer=self.tokenizer)
        return kw

    def complete(
        self,
        prompt: str | list[dict],
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> dict:
        """Generate one answer; returns ``text``, ``finish_reason`` (``stop`` or ``length``),
        ``prompt_tokens`` and ``new_tokens``."""
        ids = self.prompt_ids(prompt)
        kw = self._kwargs(max_new_tokens, temperature, top_p, stop, seed)
        x = torch.tensor([ids], dtype=torch.long, device=self.model.device)
        with torch.inference_mode():
            out = self.model.generate(input_ids=x, attention_mask=torch.ones_like(x), **kw)
        new = out[0, len(ids) :].tolist()
        end = next((k for k, t in enumerate(new) if t in self.stop_ids), None)
        body = new if end is None else new[:end]
        text = self.tokenizer.decode(body, skip_special_tokens=True)
        text, cut = _cut_at_stop(text, stop)
        reason = "stop" if end is not None or cut else "length"
        return {
            "text": text,
            "finish_reason": reason,
            "prompt_tokens": len(ids),
            "new_tokens": len(new),
        }

    def generate(self, prompt: str | list[dict], **kw) -> str:
        """The answer's text (see :meth:`complete` for the arguments)."""
        return self.complete(prompt, **kw)["text"]

    def stream(
        self,
        prompt: str | list[dict],
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        """Yield the answer in text chunks as tokens are generated (stop strings excluded)."""
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        ids = self.prompt_ids(prompt)
        kw = self._kwargs(max_new_tokens, temperature, top_p, stop, seed)
        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600
        )
        x = torch.tensor([ids], dtype=torch.long, device=self.model.device)
        errors: list[BaseException] = []
        cancel = threading.Event()  # set when the reader stops early (a stop string, a client gone)
        criteria = StoppingCriteriaList([_Cancel(cancel)])

        def run() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(
                        input_ids=x,
                        attention_mask=torch.ones_like(x),
                        streamer=streamer,
                        stopping_criteria=criteria,
                        **kw,
                    )
            except BaseException as e:  # surfaced in the caller's thread
                errors.append(e)
                streamer.end()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        hold = max((len(s) for s in stop or []), default=1) - 1
        text, sent, finished, cut = "", 0, False, False
        try:
            for chunk in streamer:
                text += chunk
                cut_text, cut = _cut_at_stop(text, stop)
                if cut:
                    if len(cut_text) > sent:
                        yield cut_text[sent:]
                    sent = len(cut_text)
                    break
                safe = len(text) - hold
                if safe > sent:
                    yield text[sent:safe]
                    sent = safe
            else:
                if len(text) > sent:
                    yield text[sent:]
            finished = True
        finally:
            if not finished or cut:
                cancel.set()  # stop generating: nobody reads the rest
                for _ in streamer:  # drain, so the generating thread never blocks
                    pass
            thread.join()
        if errors:
            raise errors[0]


class _Cancel:
    """A stopping criterion that ends generation once ``event`` is set."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool)


def _is_causal_lm(path: Path) -> bool:
    cfg = path / "config.json"
    if not cfg.is_file():
        return False
    archs = json.loads(cfg.read_text()).get("architectures") or []
    return any(a.endswith(("ForCausalLM", "ForConditionalGeneration")) for a in archs)


def _eos_ids(model, tokenizer) -> list[int]:
    """A plain model's stop tokens: its generation config's EOS (one or several), else the
    tokenizer's."""
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    ids = [eos] if isinstance(eos, int) else list(eos or [])
    if not ids:
        raise UserError("this model names no end-of-sequence token; it cannot be served")
    return ids


def _cut_at_stop(text: str, stop: list[str] | None) -> tuple[str, bool]:
    """``text`` up to the first stop string (excluded), and whether one was found."""
    hits = [text.find(s) for s in stop or [] if s and s in text]
    if not hits:
        return text, False
    return text[: min(hits)], True
