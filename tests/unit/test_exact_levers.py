"""[speed] exact levers: the attention kernel chosen by measurement, the next batch collated
ahead, no per-step host synchronisation. Each leaves the numbers as they were (up to float
rounding for the attention kernel, bit for bit for the other two)."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from safetensors.torch import load_file

import tunewise
from tests.conftest import make_rows, tiny_config, write_jsonl
from tunewise.models import attention


def _tiny_bert(attn: str):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    return BertForSequenceClassification(
        BertConfig(
            vocab_size=120,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            max_position_embeddings=64,
            hidden_dropout_prob=0.1,
            attention_probs_dropout_prob=0.2,  # dropout on: the two kernels must draw alike
            num_labels=3,
            attn_implementation=attn,
        )
    )


def _train(model, bf16: bool, steps: int = 4, seed: int = 3):
    # SGD (see test_head_positions: Adam magnifies float noise on exactly-zero gradients)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 120, (6, 12), generator=g)
    mask = torch.ones(6, 12, dtype=torch.long)
    for i in range(6):
        mask[i, 12 - i :] = 0
    y = torch.randint(0, 3, (6,), generator=g)
    torch.manual_seed(seed)  # the dropout masks
    losses = []
    model.train()
    for _ in range(steps):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(input_ids=ids, attention_mask=mask, labels=y).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    return losses, {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("bf16", [False, True])
def test_sdpa_and_eager_train_the_same_model_with_dropout_on(bf16):
    a = _tiny_bert("sdpa")
    b = _tiny_bert("sdpa")
    attention.use(b, "eager")
    assert attention.current(b) == "eager" and attention.current(a) == "sdpa"
    la, wa = _train(a, bf16)
    lb, wb = _train(b, bf16)
    tol = 2e-2 if bf16 else 1e-5  # bf16 rounds differently in the two paths; fp32 barely
    assert la == pytest.approx(lb, rel=tol, abs=tol)
    for k in wa:
        assert torch.allclose(wa[k], wb[k], atol=tol), k
    # other dropout masks move the weights by far more than that: the check can fail
    _, wc = _train(_tiny_bert("sdpa"), bf16, seed=4)
    assert any(not torch.allclose(wa[k], wc[k], atol=tol) for k in wa)


def test_eager_and_sdpa_draw_the_same_dropout_masks():
    """Equal to float rounding in fp32: the same generator draws, in the same order, for
    both (other masks would change the losses in the second decimal)."""
    la, _ = _train(_tiny_bert("sdpa"), False, steps=2)
    lb, _ = _train(_tiny_bert("eager"), False, steps=2)
    lc, _ = _train(_tiny_bert("eager"), False, steps=2, seed=5)
    assert max(abs(x - y) for x, y in zip(la, lb)) < 1e-6
    assert max(abs(x - y) for x, y in zip(la, lc)) > 1e-4


def test_measure_times_both_kernels_and_leaves_the_random_generator_alone():
    m = _tiny_bert("sdpa")
    before = torch.get_rng_state()
    times = attention.measure(m, training=True, bf16=False, batch=4, length=16, rounds=2)
    assert set(times) == {"sdpa", "eager"} and all(t > 0 for t in times.values())
    assert torch.equal(before, torch.get_rng_state())
    assert all(p.grad is None for p in m.parameters())  # the probe ran on its own tensors
    pick, seconds = attention.choose(m, training=True, bf16=False, batch=4, length=16)
    assert (
        pick in attention.CHOICES
        and attention.current(m) == pick
        and set(seconds)
        == {
            "sdpa",
            "eager",
        }
    )


def test_models_of_other_shapes_are_left_alone():
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=50))
    impl = attention.current(gpt)
    assert attention.choose(gpt, training=True, bf16=False, batch=2, length=8) == (None, {})
    assert attention.current(gpt) == impl


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("exact")
    return {
        "train": write_jsonl(tmp / "train.jsonl", make_rows(96, 1)),
        "dev": write_jsonl(tmp / "dev.jsonl", make_rows(24, 2)),
    }


def test_a_run_records_its_attention_kernels_and_saves_a_plain_model(
    tiny_model_dir, data, tmp_path
):
    r = tunewise.train(tiny_config(tiny_model_dir, data, tmp_path / "out", epochs=1))
    chosen = r.metrics["training"]["attention"]
    assert chosen["train"] in attention.CHOICES and chosen["eval"] in attention.CHOICES
    assert set(chosen["seconds"]["train"]) == {"sdpa", "eager"}
    saved = json.loads((r.path / "model" / "config.json").read_text())
    assert saved.get("_attn_implementation") in (None, "sdpa", "eager")


def test_a_set_kernel_is_used_and_the_runs_agree(tiny_model_dir, data, tmp_path):
    runs = {
        k: tunewise.train(tiny_config(tiny_model_dir, data, tmp_path / k, max_steps=6, attention=k))
        for k in ("sdpa", "eager")
    }
    assert runs["eager"].metrics["training"]["attention"]["train"] == "eager"
    a, b = (load_file(str(r.path / "model" / "model.safetensors")) for r in runs.values())
    # AdamW: exactly-zero gradients (key biases) turn float noise into +-lr steps; the rest
    # must agree
    for k in a:
        if "key.bias" not in k:
            assert torch.allclose(a[k], b[k], atol=2e-3), k


def test_collating_ahead_trains_bit_for_bit_the_same_model(tiny_model_dir, data, tmp_path):
    runs = [
        tunewise.train(tiny_config(tiny_model_dir, data, tmp_path / str(p), epochs=2, prefetch=p))
        for p in (True, False)
    ]
    a, b = (load_file(str(r.path / "model" / "model.safetensors")) for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    logs = [(r.path / "train_log.jsonl").read_text() for r in runs]
    strip = [
        [{k: v for k, v in json.loads(x).items() if "per_s" not in k} for x in lg.splitlines()]
        for lg in logs
    ]
    assert strip[0] == strip[1]


def test_the_loop_reads_the_loss_only_where_it_is_shown(
    tiny_model_dir, data, tmp_path, monkeypatch
):
    """200 steps, a train record every 10: the loop reads a tensor's value (a host
    synchronisation on a GPU) a few dozen times, not once per step."""
    import tunewise.training.loop as loop

    reads = {"n": 0}
    item, to_float = torch.Tensor.item, torch.Tensor.__float__

    def counted(fn):
        def wrapper(self, *a, **k):
            if sys._getframe(1).f_code.co_filename == loop.__file__:
                reads["n"] += 1
            return fn(self, *a, **k)

        return wrapper

    monkeypatch.setattr(torch.Tensor, "item", counted(item))
    monkeypatch.setattr(torch.Tensor, "__float__", counted(to_float))
    cfg = tiny_config(
        tiny_model_dir, data, tmp_path / "out", max_steps=200, epochs=100, batch_size=4
    )
    cfg["data"].pop("dev")
    cfg["train"]["checkpoint_every"] = None
    tunewise.train(cfg)
    # 20 records + 20 progress lines + 9 end-of-epoch checkpoints (24 batches an epoch); the
    # loop that read every step's loss made over 200
    assert 0 < reads["n"] <= 60, reads
