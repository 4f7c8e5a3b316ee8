"""train.head_lr: the task head (what the pretrained checkpoint lacks) gets its own peak rate,
also under a PEFT wrapper; the schedule scales every group alike."""

from __future__ import annotations

import pytest
import torch

from tunewise.config import TrainConfig
from tunewise.training.loop import build_optimizer, is_head, linear_schedule


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=3)


def _lr_of(opt) -> dict:
    return {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}


def test_head_params_get_head_lr_and_body_keeps_lr(model):
    opt = build_optimizer(model, TrainConfig(lr=1e-4, head_lr=3e-3))
    lr = _lr_of(opt)
    names = dict(model.named_parameters())
    assert {n for n in names if is_head(n, model)} == {"classifier.weight", "classifier.bias"}
    assert lr[id(names["classifier.weight"])] == 3e-3
    assert lr[id(names["bert.encoder.layer.0.attention.self.query.weight"])] == 1e-4
    assert lr[id(names["bert.pooler.dense.weight"])] == 1e-4  # pretrained: part of the body
    # weight decay still spares biases and LayerNorm, in the head too
    wd = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    assert wd[id(names["classifier.bias"])] == 0.0 and wd[id(names["classifier.weight"])] == 0.01
    # every parameter in exactly one group
    assert sum(len(g["params"]) for g in opt.param_groups) == len(names)


def test_schedule_scales_each_group_from_its_own_peak(model):
    opt = build_optimizer(model, TrainConfig(lr=1e-4, head_lr=3e-3))
    sched = linear_schedule(opt, warmup=2, total=10)
    for _ in range(4):
        opt.step()
        sched.step()
    ratios = {round(g["lr"] / g["initial_lr"], 9) for g in opt.param_groups}
    assert len(ratios) == 1  # the same factor on body and head


def test_without_head_lr_one_rate(model):
    opt = build_optimizer(model, TrainConfig(lr=2e-5))
    assert {g["lr"] for g in opt.param_groups} == {2e-5}


def test_head_found_under_peft(model):
    import copy

    from peft import LoraConfig, get_peft_model

    m = get_peft_model(
        copy.deepcopy(model),
        LoraConfig(task_type="SEQ_CLS", r=2, target_modules=["query", "value"]),
    )
    heads = {n for n, p in m.named_parameters() if p.requires_grad and is_head(n, m)}
    assert heads and all("classifier" in n for n in heads)
    lora = [n for n, p in m.named_parameters() if "lora_" in n]
    assert lora and not any(is_head(n, m) for n in lora)
    opt = build_optimizer(m, TrainConfig(lr=1e-4, head_lr=1e-2))
    assert {g["lr"] for g in opt.param_groups} == {1e-4, 1e-2}
    assert torch.is_tensor(next(iter(opt.param_groups))["params"][0])
