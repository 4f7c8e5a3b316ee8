"""PEFT runs killed mid-training resume to what an uninterrupted run saves.

LoRA's adapter weights and head come back from the checkpoint like any weights. AdaLoRA also
keeps state outside the weights (its rank allocator's running importance scores and the rank
pattern); without them in the checkpoint a resumed run prunes other ranks than the
uninterrupted one, and this test fails.
"""

import numpy as np
import pytest
import torch
import yaml
from safetensors.numpy import load_file

import tunewise
from tests.conftest import kill_after_checkpoint, make_rows, tiny_config, write_jsonl
from tunewise.training.checkpoint import METHOD_FILE, latest_checkpoint


def _weights(run_dir):
    files = sorted((run_dir / "model").glob("*.safetensors"))
    assert files, f"no weights saved in {run_dir / 'model'}"
    out = {}
    for f in files:
        out.update({f"{f.name}:{k}": v for k, v in load_file(str(f)).items()})
    return out


@pytest.mark.parametrize(
    "method, kill_at",
    [
        ("lora", 40),
        # 400 steps: allocation runs from step 40 to 320 (tinit 0.1, tfinal 0.2); killed inside it
        ("adalora", 150),
    ],
)
def test_killed_peft_run_resumes_to_identical_adapter(tiny_model_dir, tmp_path, method, kill_at):
    data = {
        "train": write_jsonl(tmp_path / "train.jsonl", make_rows(160, 1)),
        "dev": write_jsonl(tmp_path / "dev.jsonl", make_rows(40, 2)),
        "test": write_jsonl(tmp_path / "test.jsonl", make_rows(40, 3)),
    }
    settings = dict(epochs=40, checkpoint_every=3)

    def config(out):
        cfg = tiny_config(tiny_model_dir, data, out, **settings)
        cfg["method"] = {"name": method}
        return cfg

    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(config(tmp_path / "killed")))
    ckpts = tmp_path / "killed" / "checkpoints"
    kill_after_checkpoint(tmp_path / "cfg.yaml", ckpts, kill_at)
    last = latest_checkpoint(ckpts)
    killed_at = int(last.name.split("-")[1])
    assert killed_at < 400
    if method == "adalora":
        saved = torch.load(last / METHOD_FILE, weights_only=False)
        assert saved["ipt"], "the allocator's importance scores are not in the checkpoint"

    resumed = tunewise.train(resume=tmp_path / "killed")
    straight = tunewise.train(config(tmp_path / "straight"))
    wa, wb = _weights(resumed.path), _weights(straight.path)
    assert wa.keys() == wb.keys()
    assert any("classifier" in k for k in wa), "the head is not saved with the adapter"
    for k in wa:
        np.testing.assert_allclose(wa[k], wb[k], rtol=0, atol=1e-6, err_msg=k)
    assert resumed.metrics["test"]["accuracy"] == straight.metrics["test"]["accuracy"]
    assert resumed.metrics["best_step"] == straight.metrics["best_step"]


def test_adalora_allocator_state_round_trips(tiny_model_dir):
    """The state a checkpoint stores is the allocator's own, and loading it into a fresh
    model's allocator gives the next reallocation the same inputs as the uninterrupted run."""
    from transformers import AutoModelForSequenceClassification

    from tunewise.methods import apply_method, method_hooks
    from tunewise.tasks import ClassificationTask

    task = ClassificationTask(["a", "b"])
    cfg = {"name": "adalora", "adalora": {"init_r": 4, "target_r": 2, "delta_t": 1}}

    def build():
        torch.manual_seed(0)
        base = AutoModelForSequenceClassification.from_pretrained(str(tiny_model_dir), num_labels=2)
        model = apply_method(base, cfg, task, total_steps=40)
        return model, method_hooks(model, cfg)

    x = {"input_ids": torch.tensor([[2, 40, 41, 42, 3], [2, 50, 51, 52, 3]])}
    y = torch.tensor([0, 1])

    def step(model, hooks, i):
        model.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(**x).logits, y) + hooks.extra_loss()
        loss.backward()
        hooks.after_step(i)

    a, ha = build()
    for i in range(8):
        step(a, ha, i)
    saved = ha.state()
    alloc = a.base_model.rankallocator
    assert saved["ipt"] and set(saved["ipt"]) == set(alloc.ipt)

    b, hb = build()
    b.load_state_dict(a.state_dict())
    assert not b.base_model.rankallocator.exp_avg_ipt  # a fresh allocator knows nothing
    hb.load_state(saved)
    for k in ("ipt", "exp_avg_ipt", "exp_avg_unc"):
        mine, theirs = getattr(b.base_model.rankallocator, k), getattr(alloc, k)
        assert mine.keys() == theirs.keys()
        assert all(torch.equal(mine[n], theirs[n]) for n in mine)
    step(a, ha, 8)
    step(b, hb, 8)
    for n, t in alloc.exp_avg_unc.items():
        assert torch.allclose(b.base_model.rankallocator.exp_avg_unc[n], t)
