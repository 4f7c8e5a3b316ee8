"""Opt-in [speed] levers that change the numbers: token-budget batches, frozen word embeddings,
torch.compile. Each must do what it says; their accuracy cost is measured in benchmarks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import tunewise
from tests.conftest import make_rows, tiny_config, write_jsonl
from tunewise.training.batching import plan_batches


def test_token_budget_batches_hold_the_budget_and_every_row_once():
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 60, size=500).tolist() + [200]  # one row longer than the budget
    plan = plan_batches(lengths, 16, seed=3, epoch=1, token_budget=256)
    flat = sorted(i for b in plan for i in b)
    assert flat == list(range(len(lengths)))
    for b in plan:
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 256
    sizes = {len(b) for b in plan}
    assert max(sizes) > 16 and min(sizes) < 16  # rows per batch follow the lengths
    assert plan == plan_batches(lengths, 16, seed=3, epoch=1, token_budget=256)  # resumable
    assert plan != plan_batches(lengths, 16, seed=3, epoch=2, token_budget=256)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("levers")
    return {
        "train": write_jsonl(tmp / "train.jsonl", make_rows(96, 1)),
        "dev": write_jsonl(tmp / "dev.jsonl", make_rows(24, 2)),
    }


def test_a_run_with_a_token_budget_plans_its_steps_from_the_budget(tiny_model_dir, data, tmp_path):
    r = tunewise.train(
        tiny_config(tiny_model_dir, data, tmp_path / "out", epochs=2, token_budget=64)
    )
    log = [json.loads(x) for x in (r.path / "train_log.jsonl").read_text().splitlines()]
    steps = max(x["step"] for x in log if "step" in x)
    # 96 rows of ~8-12 tokens at 64 padded tokens a batch: several times more steps than the
    # 6 batches of 16 rows a plain run of 2 epochs takes
    assert steps > 12
    losses = [x["loss"] for x in log if x.get("type") == "train"]
    assert losses[-1] < losses[0]  # it trains


def test_frozen_embeddings_stay_as_loaded_and_the_rest_trains(tiny_model_dir, data, tmp_path):
    r = tunewise.train(
        tiny_config(tiny_model_dir, data, tmp_path / "out", epochs=2, freeze_embeddings=True)
    )
    before = load_file(str(tiny_model_dir / "model.safetensors"))
    after = load_file(str(r.path / "model" / "model.safetensors"))
    base = {k.removeprefix("bert."): v for k, v in before.items()}  # saved with the head now
    tuned = {k.removeprefix("bert."): v for k, v in after.items()}
    word = "embeddings.word_embeddings.weight"
    assert torch.equal(base[word], tuned[word])
    moved = [k for k in tuned if "encoder" in k and not torch.equal(base[k], tuned[k])]
    assert moved  # the encoder did train


def test_compile_trains_the_same_model_as_eager(tiny_model_dir, data, tmp_path):
    plain = tunewise.train(tiny_config(tiny_model_dir, data, tmp_path / "a", max_steps=2))
    comp = tunewise.train(
        tiny_config(
            tiny_model_dir,
            data,
            tmp_path / "b",
            max_steps=2,
            compile=True,
            compile_backend="aot_eager",
        )
    )
    a = load_file(str(plain.path / "model" / "model.safetensors"))
    b = load_file(str(comp.path / "model" / "model.safetensors"))
    assert a.keys() == b.keys()  # compiled in place: the saved weights keep their names
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-4), k
    assert "compile" in (comp.path / "config.yaml").read_text()


def test_set_dropout_draws_no_masks_and_leaves_the_saved_config_alone():
    from tests.unit.test_exact_levers import _tiny_bert
    from tunewise.run.fit import set_dropout

    model = _tiny_bert("eager")
    ids = torch.randint(5, 120, (4, 10), generator=torch.Generator().manual_seed(0))
    model.train()
    a, b = (model(input_ids=ids).logits for _ in range(2))
    assert not torch.allclose(a, b)  # dropout on: two training passes differ
    n = set_dropout(model, 0.0)
    assert n == sum(isinstance(m, torch.nn.Dropout) for m in model.modules()) and n > 0
    a, b = (model(input_ids=ids).logits for _ in range(2))
    model.eval()
    assert torch.equal(a, b) and torch.allclose(a, model(input_ids=ids).logits, atol=1e-6)
    assert model.config.hidden_dropout_prob == 0.1  # the modules only


def test_a_run_with_dropout_zero_trains_another_model_and_saves_the_models_config(
    tiny_model_dir, data, tmp_path
):
    runs = {
        p: tunewise.train(
            tiny_config(tiny_model_dir, data, tmp_path / str(p), max_steps=6, dropout=p)
        )
        for p in (None, 0.0)
    }
    a, b = (load_file(str(r.path / "model" / "model.safetensors")) for r in runs.values())
    assert any(not torch.allclose(a[k], b[k]) for k in a)  # the masks were gone
    saved = json.loads((runs[0.0].path / "model" / "config.json").read_text())
    base = json.loads((tiny_model_dir / "config.json").read_text())
    assert saved["hidden_dropout_prob"] == base["hidden_dropout_prob"]
    with pytest.raises(tunewise.UserError, match="train.dropout"):
        tunewise.train(tiny_config(tiny_model_dir, data, tmp_path / "bad", dropout=1.0))
