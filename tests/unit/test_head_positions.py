"""train.first_position_only: the last layer computes the [CLS] position only, an exact lever
(the same losses and weights as the plain model, up to float rounding)."""

from __future__ import annotations

import copy

import pytest
import torch

from tunewise.models.head_positions import first_position_only, is_patched


def _tiny(kind: str, attn: str, num_labels: int = 3):
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        BertForTokenClassification,
        RobertaConfig,
        RobertaForSequenceClassification,
    )

    common = dict(
        vocab_size=120,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        num_labels=num_labels,
        attn_implementation=attn,
    )
    torch.manual_seed(0)
    if kind == "bert":
        return BertForSequenceClassification(BertConfig(**common))
    if kind == "roberta":
        return RobertaForSequenceClassification(RobertaConfig(pad_token_id=1, **common))
    return BertForTokenClassification(BertConfig(**common))


def _batch(n: int = 6, t: int = 12):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 120, (n, t), generator=g)
    mask = torch.ones(n, t, dtype=torch.long)
    for i in range(n):  # padded rows of different lengths
        mask[i, t - i :] = 0
    ids[mask == 0] = 1
    return ids, mask, torch.randint(0, 3, (n,), generator=g)


def _train(model, steps: int = 4):
    # SGD, not Adam: a key bias has a gradient that is exactly zero in exact arithmetic (softmax
    # ignores a shift shared by all keys), so what it gets is float noise of ~1e-7, and Adam's
    # g / sqrt(v) turns that noise into full +-lr steps that differ between any two kernels
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    ids, mask, y = _batch()
    losses = []
    model.train()
    for _ in range(steps):
        loss = model(input_ids=ids, attention_mask=mask, labels=y).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("kind", ["bert", "roberta"])
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_same_losses_and_weights_with_the_lever_on_and_off(kind, attn):
    plain = _tiny(kind, attn)
    lever = copy.deepcopy(plain)
    assert first_position_only(lever) and is_patched(lever) and not is_patched(plain)
    a, b = _train(plain), _train(lever)
    assert a == pytest.approx(b, abs=1e-5)
    assert a[0] != pytest.approx(a[-1])  # it really trained
    for (name, p), q in zip(plain.named_parameters(), lever.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-5), name


def test_the_last_layer_really_computes_one_row():
    model = _tiny("bert", "sdpa")
    first_position_only(model)
    seen = {}
    last = model.bert.encoder.layer[-1]

    def hook(module, inputs, output):
        seen["shape"] = output.shape

    last.output.dense.register_forward_hook(hook)
    ids, mask, _ = _batch()
    model.eval()
    with torch.no_grad():
        model(input_ids=ids, attention_mask=mask)
    assert seen["shape"][:2] == (6, 1)  # feed-forward of the last layer: one position per row


def test_with_lora_the_lever_is_exact_too():
    from peft import LoraConfig, get_peft_model

    base = _tiny("bert", "sdpa")
    cfg = LoraConfig(task_type="SEQ_CLS", r=4, target_modules=["query", "value", "dense"])
    plain = get_peft_model(copy.deepcopy(base), cfg)
    lever = get_peft_model(copy.deepcopy(base), cfg)
    for p, q in zip(plain.parameters(), lever.parameters(), strict=True):  # same LoRA init
        q.data.copy_(p.data)
    assert first_position_only(lever)
    assert _train(plain) == pytest.approx(_train(lever), abs=1e-5)


def test_with_prefix_tuning_the_cache_is_read_and_the_lever_is_exact():
    from peft import PrefixTuningConfig, get_peft_model

    from tunewise.methods.prefix_shim import PrefixModel

    base = _tiny("bert", "sdpa")
    cfg = PrefixTuningConfig(task_type="SEQ_CLS", num_virtual_tokens=5)
    plain = PrefixModel(get_peft_model(copy.deepcopy(base), cfg))  # tunewise's prefix path
    lever = PrefixModel(get_peft_model(copy.deepcopy(base), cfg))
    for p, q in zip(plain.parameters(), lever.parameters(), strict=True):
        q.data.copy_(p.data)
    assert first_position_only(lever)
    a, b = _train(plain), _train(lever)
    assert a == pytest.approx(b, abs=1e-5)
    assert a[0] != pytest.approx(a[-1])


def test_token_classifiers_and_other_shapes_are_left_alone():
    tagger = _tiny("tokens", "sdpa")
    # the runner only asks for a task that reads position 0; the function itself refuses
    # modules without a BERT-shaped encoder
    assert first_position_only(torch.nn.Linear(3, 3)) is False
    assert not is_patched(tagger)


def test_the_runner_applies_it_only_to_tasks_that_read_position_zero():
    from tunewise.tasks import get_task

    assert get_task("classification").reads_first_position
    assert get_task("regression").reads_first_position
    assert not get_task("tokens").reads_first_position
    assert not get_task("sft").reads_first_position
