"""The contract every method x task pair keeps: train a few steps -> save -> reload into a
fresh model -> identical outputs, and training really changed what is saved (head included).

Parametrized from the registries: a new method is tested without editing this file; a new task
adds one entry to TASK_CASES.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch

from tunewise.errors import UserError
from tunewise.methods import (
    METHODS,
    apply_method,
    load_trained,
    method_hooks,
    method_record,
    save_trained,
    trainable_summary,
)


@dataclass
class TaskCase:
    """How to exercise one task on the tiny model: the task, its model class, a batch and a
    loss over the model's outputs."""

    make_task: Callable
    load_fn: Callable  # (task) -> (path -> model)
    batch: Callable  # (tokenizer) -> dict of tensors (no labels)
    loss: Callable  # (task, outputs, batch) -> scalar


def _cls_batch(tok):
    texts = ["the film was good", "a dull and boring plot", "great cast", "awful flat story 12"]
    b = tok(texts, padding=True, return_tensors="pt")
    return {k: v for k, v in b.items() if k != "token_type_ids"}


def _cls_load(task):
    from transformers import AutoModelForSequenceClassification

    return lambda p: AutoModelForSequenceClassification.from_pretrained(p, **task.model_kwargs())


def _cls_task():
    from tunewise.tasks import ClassificationTask

    return ClassificationTask(["neg", "pos"])


def _tok_batch(tok):
    words = [["the", "film", "was", "great"], ["a", "dull", "plot"], ["great", "cast", "12"]]
    b = tok(words, is_split_into_words=True, padding=True, return_tensors="pt")
    return {k: v for k, v in b.items() if k != "token_type_ids"}


def _tok_load(task):
    from transformers import AutoModelForTokenClassification

    return lambda p: AutoModelForTokenClassification.from_pretrained(p, **task.model_kwargs())


def _tok_task():
    from tunewise.tasks.tokens import TokenTask

    return TokenTask(["O", "B-GOOD", "I-GOOD", "B-BAD", "I-BAD"])


def _tok_loss(task, out, b):
    # a tag per position (padding ignored, as the task's collate does with -100)
    labels = (torch.arange(b["input_ids"].shape[1]) % 5).expand_as(b["input_ids"]).clone()
    labels[b["attention_mask"] == 0] = -100
    return task.loss(out.logits, labels)


TASK_CASES = {
    "tokens": TaskCase(
        make_task=_tok_task,
        load_fn=_tok_load,
        batch=_tok_batch,
        loss=_tok_loss,
    ),
    "classification": TaskCase(
        make_task=_cls_task,
        load_fn=_cls_load,
        batch=_cls_batch,
        loss=lambda task, out, b: task.loss(out.logits, torch.tensor([1, 0, 1, 0])),
    ),
}

# options that make a few steps on a 2-layer model meaningful (everything else: defaults)
SMALL_OPTIONS = {
    "prefix": {"num_virtual_tokens": 4},
    "prompt": {"num_virtual_tokens": 4},
    "ptuning": {"num_virtual_tokens": 4, "encoder_hidden_size": 16},
    "adapter": {"size": 8},
    "adalora": {"init_r": 4, "target_r": 2, "tinit": 0.2, "tfinal": 0.2, "delta_t": 1},
    "lora": {"r": 4},
}
STEPS = 6


def _method_cfg(name: str) -> dict:
    key = METHODS[name].key
    opts = {k: v for k, v in SMALL_OPTIONS.get(key, {}).items() if k not in METHODS[name].fixed}
    return {"name": name, key: opts} if opts else {"name": name}


def _outputs(model, batch):
    model.eval()
    with torch.no_grad():
        return model(**batch).logits.float()


@pytest.mark.parametrize("task_name", sorted(TASK_CASES))
@pytest.mark.parametrize("method_name", sorted(METHODS))
def test_train_save_reload_identical(method_name, task_name, tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    from tunewise.models.loading import quiet_transformers

    case = TASK_CASES[task_name]
    task = case.make_task()
    cfg = _method_cfg(method_name)
    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    batch = case.batch(tok)
    torch.manual_seed(0)
    if not METHODS[method_name].trains_model or (
        method_name == "setfit" and task_name != "classification"
    ):
        # icl trains nothing (tests/fewshot/test_icl.py); setfit is sentence classification only
        with pytest.raises(UserError):
            apply_method(case.load_fn(task)(str(tiny_model_dir)), cfg, task, total_steps=STEPS)
        return
    with quiet_transformers():
        model = apply_method(case.load_fn(task)(str(tiny_model_dir)), cfg, task, total_steps=STEPS)
    s = trainable_summary(model)
    assert 0 < s["trainable"] <= s["total"]
    if method_name not in ("full", "setfit"):  # setfit trains the whole body
        assert s["trainable"] < s["total"] * 0.9
    before = _outputs(model, batch)
    hooks = method_hooks(model, cfg)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-2)
    model.train()
    for step in range(STEPS):
        loss = case.loss(task, model(**batch), batch)
        if hooks.extra_loss is not None:
            loss = loss + hooks.extra_loss()
        loss.backward()
        opt.step()
        if hooks.after_step is not None:
            hooks.after_step(step)
        opt.zero_grad()
    trained = _outputs(model, batch)
    assert (trained - before).abs().max() > 1e-4, "training did not change the outputs"

    out = tmp_path / "model"
    out.mkdir()
    save_trained(model, out, cfg)
    meta = {"base_model_path": str(tiny_model_dir), "method": method_record(cfg)}
    torch.manual_seed(123)  # a fresh head would come out different: only the saved one matches
    fresh = load_trained(out, case.load_fn(task), task, meta)
    torch.testing.assert_close(_outputs(fresh, batch), trained, atol=1e-6, rtol=0)
