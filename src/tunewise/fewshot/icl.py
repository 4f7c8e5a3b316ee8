"""``--method icl``: in-context classification with a decoder (smollm2 packaged).

The prompt is the instruction, then the demonstrations (the draw's train rows, classes
interleaved in a seeded order; none for zero-shot), then the query ending where the label word
would start. Each label's word is scored by its log-likelihood after the prompt (summed over
its tokens): the answer is never parsed from generated text. Contextual calibration (Zhao et
al. 2021) divides each label's probability by the probability the same prompt gives it for
content-free inputs ("N/A", "", "[MASK]"), then renormalises; both the calibrated and raw
figures are recorded, the option says which is the run's answer.

The run directory has what any classification run's evaluation has (metrics.json with test
metrics and bootstrap intervals, predictions/test.jsonl, report) plus ``prompt.json`` (the
template, instruction, label words and demonstrations: the exact prompt) and ``prompt.txt``.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import numpy as np

from tunewise.config import Config, config_to_dict
from tunewise.errors import UserError
from tunewise.rundir import RunDir, prepare_out, write_json


def label_word(opts, label: str) -> str:
    return opts.label_words.get(label, label)


def split_template(template: str) -> tuple[str, str]:
    """(the part of the template before ``{label}``, the part after); both must be there."""
    if "{text}" not in template or "{label}" not in template:
        raise UserError(
            "icl.template: needs both {text} and {label}, e.g. 'Text: {text}\\nAnswer: {label}'"
        )
    head, _, tail = template.partition("{label}")
    if "{text}" not in head:
        raise UserError("icl.template: {text} must come before {label}")
    return head, tail


def order_demos(examples, seed: int) -> list:
    """The demonstrations with classes interleaved (round robin over a seeded shuffle), so no
    class sits all at the end of the prompt (recency bias)."""
    rng = np.random.default_rng(seed)
    by: dict = {}
    for i in rng.permutation(len(examples)):
        by.setdefault(examples[int(i)].label, []).append(examples[int(i)])
    out, queues = [], [by[k] for k in sorted(by)]
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def build_prefix(opts, demos) -> str:
    """Instruction + filled-in demonstrations: the shared start of every query's prompt."""
    head, tail = split_template(opts.template)
    parts = [opts.instruction.strip()] if opts.instruction.strip() else []
    for d in demos:
        text = d.text[: opts.max_demo_chars]
        parts.append(head.format(text=text) + label_word(opts, d.label) + tail)
    return "".join(p + "\n\n" for p in parts)


class Scorer:
    """Log-likelihood of each label word after a prompt, with the shared prefix cached."""

    def __init__(self, model, tokenizer, prefix: str, head: str, words: list[str]):
        import torch

        self.torch, self.model, self.tok = torch, model, tokenizer
        self.head = head
        lead = " " if head.endswith(" ") else ""
        self.head_stripped = head[: len(head) - len(lead)] if lead else head
        self.word_ids = [tokenizer(lead + w, add_special_tokens=False)["input_ids"] for w in words]
        if any(not ids for ids in self.word_ids):
            raise UserError("icl.label_words: a label word is empty after tokenization")
        bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
        self.prefix_ids = bos + tokenizer(prefix, add_special_tokens=False)["input_ids"]
        self.cache = None
        if self.prefix_ids:
            with torch.inference_mode():
                out = model(input_ids=torch.tensor([self.prefix_ids]), use_cache=True)
            # transformers 5 names it ``cache`` (``past_key_values`` is deprecated)
            self.cache = getattr(out, "cache", None) or out.past_key_values
            self.prefix_last = out.logits[0, -1].float()
        self.single = all(len(ids) == 1 for ids in self.word_ids)

    def scores(self, text: str) -> np.ndarray:
        """Summed log-probabilities of every label word after the prompt for ``text``."""
        torch = self.torch
        q = self.tok(self.head_stripped.format(text=text), add_special_tokens=False)["input_ids"]
        out = np.zeros(len(self.word_ids))
        with torch.inference_mode():
            if self.single:
                logits = self._forward(q)
                logp = torch.log_softmax(logits[-1].float(), -1)
                return np.array([float(logp[ids[0]]) for ids in self.word_ids])
            for k, ids in enumerate(self.word_ids):
                logits = self._forward(q + ids)
                logp = torch.log_softmax(logits.float(), -1)
                # the token at position p is predicted by the logits at p - 1
                start = len(q) - 1
                out[k] = float(sum(logp[start + j, t] for j, t in enumerate(ids)))
        return out

    def _forward(self, ids: list[int]):
        torch = self.torch
        if not ids:
            return self.prefix_last[None]
        kw = {}
        if self.cache is not None:
            kw["cache"] = copy.deepcopy(self.cache)  # a forward appends to the cache
        out = self.model(input_ids=torch.tensor([ids]), use_cache=self.cache is not None, **kw)
        return out.logits[0]


def normalise(logp: np.ndarray) -> np.ndarray:
    """Rows of summed log-probabilities -> probabilities over the labels."""
    z = logp - logp.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def contextual_calibration(probs: np.ndarray, content_free: np.ndarray) -> np.ndarray:
    """Zhao et al. 2021: W = diag(p_cf)^-1, b = 0, then renormalise each row."""
    w = 1.0 / np.clip(content_free, 1e-12, None)
    cal = probs * w
    return cal / cal.sum(axis=-1, keepdims=True)


def _load_decoder(name: str):
    from transformers import AutoModelForCausalLM

    from tunewise.models.loading import load_pretrained, load_tokenizer

    resolved, model = load_pretrained(name, AutoModelForCausalLM.from_pretrained)
    tok = load_tokenizer(resolved.path)
    return resolved, model.eval(), tok


def run_icl(cfg: Config, overwrite: bool = False, echo=None, demonstrations: bool = False):
    """One in-context run: demonstrations are ``cfg.data.train``'s rows when
    ``demonstrations`` (a K-shot draw's sub-run), none otherwise (zero-shot). Returns a
    RunResult."""
    from tunewise.evaluation.honest import add_intervals
    from tunewise.evaluation.metrics import classification_metrics, majority_baseline
    from tunewise.methods import resolve
    from tunewise.run.result import RunResult
    from tunewise.run.runner import resolve_config, split
    from tunewise.tasks.classification.evaluate import write_predictions
    from tunewise.tasks.classification.task import ClassificationTask

    echo = echo or (lambda line: None)
    task_cls = resolve_config(cfg)
    if not task_cls.classifies_texts or cfg.task.multi_label:
        raise UserError("method icl: single-label classification only")
    _, opts = resolve(cfg.method)
    head, _ = split_template(opts.template)
    data = task_cls.read_data(cfg)
    cfg.data.split.dev = 0.0  # nothing is selected on dev: no rows are taken from train for it
    info = split(task_cls, data, cfg, echo)
    labels = data.info["labels"]
    if cfg.out is None:
        cfg.out = Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    run = RunDir(cfg.out)
    prepare_out(run.path, overwrite)
    run.start(config_to_dict(cfg), resume=False)
    try:
        t0 = time.perf_counter()
        resolved, model, tok = _load_decoder(cfg.model.name)
        demos = order_demos(data.train, cfg.train.seed) if demonstrations else []
        prefix = build_prefix(opts, demos)
        words = [label_word(opts, l) for l in labels]
        scorer = Scorer(model, tok, prefix, head, words)
        echo(
            f"icl: {resolved.name}, {len(demos)} demonstrations ({len(scorer.prefix_ids)} prompt "
            f"tokens), label words {', '.join(repr(w) for w in words)}; scoring {len(data.test)} test rows"
        )
        cf = normalise(np.array([scorer.scores(t) for t in opts.content_free])).mean(axis=0)
        raw_lp = np.zeros((len(data.test), len(labels)))
        for i, e in enumerate(data.test):
            raw_lp[i] = scorer.scores(e.text)
            if (i + 1) % max(1, len(data.test) // 10) == 0:
                echo(f"icl: {i + 1}/{len(data.test)} test rows")
        raw = normalise(raw_lp)
        cal = contextual_calibration(raw, cf)
        task = ClassificationTask(labels)
        y = task.encode_labels(data.test)
        chosen = cal if opts.calibrate else raw
        logits = np.log(np.clip(chosen, 1e-12, None)).astype(np.float32)
        test = classification_metrics(y, logits.argmax(1), labels)
        add_intervals(test, task, y, logits, 0.5)
        other = classification_metrics(y, (raw if opts.calibrate else cal).argmax(1), labels)
        seconds = time.perf_counter() - t0
        prompt = {
            "template": opts.template,
            "instruction": opts.instruction,
            "label_words": dict(zip(labels, words)),
            "demonstrations": [{"text": d.text, "label": d.label, "where": d.where} for d in demos],
            "prefix": prefix,
            "query_example": head.format(text="<text>"),
        }
        write_json(run.path / "prompt.json", prompt)
        (run.path / "prompt.txt").write_text(prefix + head.format(text="{text}"), encoding="utf-8")
        metrics = {
            "task": task_cls.name,
            "headline": ["accuracy", "accuracy"],
            "metric_for_best": "accuracy",
            "test": test,
            "baselines": {
                "majority": majority_baseline(task.encode_labels(data.train), y, labels, False)
            },
            "method": {"name": "icl", "options": opts.model_dump(mode="json")},
            "icl": {
                "shots": len(demos) // max(1, len(labels)) if demos else 0,
                "demonstrations": len(demos),
                "prompt_tokens": len(scorer.prefix_ids),
                "calibration": {
                    "on": opts.calibrate,
                    "content_free": opts.content_free,
                    "content_free_probs": dict(zip(labels, np.round(cf, 6).tolist())),
                    "accuracy_calibrated": (test if opts.calibrate else other)["accuracy"],
                    "accuracy_raw": (other if opts.calibrate else test)["accuracy"],
                },
                "scoring": "summed log-likelihood of each label word after the prompt",
            },
            "training": {"steps": 0, "train_seconds": 0.0, "score_seconds": round(seconds, 2)},
            "checks": {},
            "seeds": {"values": [cfg.train.seed], "single_seed": True},
        }

        class _Enc:  # write_predictions reads the gold labels from .labels
            pass

        enc = _Enc()
        enc.labels = y
        write_predictions(run.predictions / "test.jsonl", data.test, enc, logits, task, 0.5)
        write_json(run.data, {**info, "model": {"name": resolved.name, "path": resolved.path}})
        write_json(run.metrics, metrics)
        run.set_status("completed", finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    except BaseException as e:
        run.set_status("failed", error=str(e)[:500])
        raise
    try:
        from tunewise.run.finish import write_report

        html, _ = write_report(run.path)
        echo(f"report: {html}")
    except Exception as e:  # the figures are written; a report that cannot render says so
        echo(f"report: not written ({type(e).__name__}: {e})")
    return RunResult(run.path, metrics)


def read_prompt(run: Path) -> dict:
    return json.loads((Path(run) / "prompt.json").read_text())
