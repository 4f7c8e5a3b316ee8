"""Methods through the real pipeline and CLI on the tiny model: AdaLoRA's allocation runs from
the loop, the head is saved with the adapter, merge/export parity, the clear errors."""

from __future__ import annotations

import json

import pytest
import torch

import tunewise
from tests.conftest import make_rows, tiny_config, write_jsonl
from tunewise.cli.main import main


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("data")
    return {
        "train": write_jsonl(tmp / "train.jsonl", make_rows(96, 1)),
        "dev": write_jsonl(tmp / "dev.jsonl", make_rows(24, 2)),
        "test": write_jsonl(tmp / "test.jsonl", make_rows(32, 3)),
    }


def _train(tiny_model_dir, data, out, method: dict, **train):
    cfg = tiny_config(tiny_model_dir, data, out, **{"epochs": 3, **train})
    cfg["method"] = method
    cfg["doctor"] = {"enabled": False}
    return tunewise.train(cfg)


def test_adalora_ranks_are_reallocated_by_the_loop(tiny_model_dir, data, tmp_path):
    init_r = 6
    r = _train(
        tiny_model_dir,
        data,
        tmp_path / "ada",
        {"name": "adalora", "adalora": {"init_r": init_r, "target_r": 2, "delta_t": 1}},
    )
    saved = json.loads((r.path / "model" / "adapter_config.json").read_text())
    ranks = saved["rank_pattern"]
    assert ranks, "update_and_allocate never ran: no rank pattern was saved"
    kept = [sum(bool(x) for x in mask) for mask in ranks.values()]
    assert sum(kept) < init_r * len(kept), f"ranks did not change: {kept}"
    assert len(set(kept)) > 1 or max(kept) < init_r
    # the reloaded run predicts what the run evaluated (head + reallocated adapter)
    logits = [json.loads(line)["logits"] for line in (r.path / "predictions/test.jsonl").open()]
    exs = [json.loads(line)["text"] for line in data["test"].open()]
    from tunewise.data import Example

    pred = tunewise.load(r.path)
    ours = pred.logits([Example(t, None) for t in exs])
    torch.testing.assert_close(torch.tensor(ours), torch.tensor(logits), atol=1e-4, rtol=0)


def test_loop_calls_method_hooks_every_step(tiny_model_dir, data, tmp_path, monkeypatch):
    from tunewise.methods import MethodHooks
    from tunewise.methods.lora import Lora

    calls = []

    def hooks(self, model, opts):
        return MethodHooks(after_step=calls.append, extra_loss=lambda: torch.zeros(()))

    monkeypatch.setattr(Lora, "hooks", hooks)
    r = _train(tiny_model_dir, data, tmp_path / "hooks", {"name": "lora"}, epochs=1)
    steps = r.metrics["training"]["steps"]
    assert calls == list(range(steps))


@pytest.fixture(scope="module")
def lora_run(tiny_model_dir, data, tmp_path_factory):
    out = tmp_path_factory.mktemp("lora") / "run"
    return _train(tiny_model_dir, data, out, {"name": "lora", "lora": {"r": 4}}, epochs=4, lr=5e-3)


def test_lora_run_saves_small_adapter_with_head(lora_run):
    model_dir = lora_run.path / "model"
    cfg = json.loads((model_dir / "adapter_config.json").read_text())
    assert "classifier" in cfg["modules_to_save"]
    assert not (model_dir / "model.safetensors").exists()
    from safetensors import safe_open

    with safe_open(str(model_dir / "adapter_model.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert any("classifier" in k for k in keys), "the task head was not saved with the adapter"
    m = lora_run.metrics
    assert m["method"]["name"] == "lora" and m["method"]["percent"] < 50
    assert m["checks"]["reload_parity"]["ok"]


def test_export_merge_is_plain_transformers_with_parity(lora_run, tiny_model_dir, tmp_path):
    from transformers import pipeline

    out = tmp_path / "merged"
    main(["export", str(lora_run.path), "--merge", "--out", str(out)])
    assert not (out / "adapter_config.json").exists() and (out / "model.safetensors").exists()
    rec = json.loads((out / "export.json").read_text())
    assert rec["parity"]["ok"] and rec["parity"]["rows"] == 24 and rec["plain_transformers"]
    assert rec["parity"]["max_abs_logit_diff"] <= 1e-4
    assert json.loads((lora_run.path / "exports" / "merged.json").read_text()) == rec
    # the LoRA update really is in the weights (not a copy of the base model)
    from safetensors.torch import load_file

    merged = load_file(str(out / "model.safetensors"))
    base = load_file(str(tiny_model_dir / "model.safetensors"))
    key = "encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(merged["bert." + key], base.get(key, base.get("bert." + key)))
    texts = [r["text"] for r in make_rows(20, 9)]
    ours = tunewise.load(lora_run.path).predict(texts)
    theirs = pipeline("text-classification", model=str(out), device="cpu")(texts)
    assert [o["label"] for o in ours] == [t["label"] for t in theirs]


def test_export_parity_failure_is_loud_and_writes_nothing(lora_run, tmp_path, capsys):
    out = tmp_path / "bad"
    with pytest.raises(SystemExit) as e:
        main(["export", str(lora_run.path), "--merge", "--out", str(out), "--atol", "-1"])
    assert e.value.code == 2
    assert "export parity failed" in capsys.readouterr().err
    assert not out.exists()


def test_unmergeable_method_says_so(tiny_model_dir, data, tmp_path, capsys):
    r = _train(
        tiny_model_dir,
        data,
        tmp_path / "prompt",
        {"name": "prompt", "prompt": {"num_virtual_tokens": 4}},
        epochs=1,
    )
    with pytest.raises(SystemExit) as e:
        main(["export", str(r.path), "--merge", "--out", str(tmp_path / "m")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "cannot be merged" in err and "lora" in err
    # without --merge the adapter itself is exported and reloads to the same outputs
    main(["export", str(r.path), "--out", str(tmp_path / "a")])
    rec = json.loads((tmp_path / "a" / "export.json").read_text())
    assert rec["parity"]["ok"] and not rec["plain_transformers"]


def test_adapter_reloaded_in_fresh_process_gives_same_logits(tiny_model_dir, tmp_path):
    """Train LoRA (head included) in this process, save, and load it in another process."""
    import subprocess
    import sys

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from tunewise.data import Example
    from tunewise.methods import apply_method, method_record, save_trained
    from tunewise.tasks import ClassificationTask
    from tunewise.tasks.classification.predictor import Predictor

    task = ClassificationTask(["neg", "pos"])
    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    torch.manual_seed(0)
    base = AutoModelForSequenceClassification.from_pretrained(
        str(tiny_model_dir), **task.model_kwargs()
    )
    model = apply_method(base, {"name": "lora", "lora": {"r": 4}}, task)
    texts = [r["text"] for r in make_rows(24, 5)]
    labels = torch.tensor([int(r["label"] == "pos") for r in make_rows(24, 5)])
    batch = tok(texts, padding=True, return_tensors="pt")
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(5):
        task.loss(model(**batch).logits, labels).backward()
        opt.step()
        opt.zero_grad()
    out = tmp_path / "model"
    out.mkdir()
    save_trained(model, out, {"name": "lora", "lora": {"r": 4}})
    tok.save_pretrained(str(out))
    meta = {
        "labels": task.labels,
        "max_length": 32,
        "base_model": str(tiny_model_dir),
        "method": method_record({"name": "lora", "lora": {"r": 4}}),
    }
    (out / "tunewise.json").write_text(json.dumps(meta))
    model.eval()
    # the Predictor's batching and padding, on the in-memory trained model
    before = Predictor.__new__(Predictor)
    before.__dict__.update(
        task=task,
        tokenizer=tok,
        max_length=32,
        batch_size=64,
        labels=task.labels,
        abstain=None,
        _bank=None,
    )
    before.model = model
    expected = before.logits([Example(t, None) for t in texts])
    code = (
        "import json, sys, tunewise; from tunewise.data import Example; "
        "p = tunewise.load(sys.argv[1]); "
        "print(json.dumps(p.logits([Example(t, None) for t in json.loads(sys.argv[2])]).tolist()))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, str(out), json.dumps(texts)],
        capture_output=True,
        text=True,
        check=True,
    )
    fresh = torch.tensor(json.loads(res.stdout.strip().splitlines()[-1]))
    torch.testing.assert_close(fresh, torch.tensor(expected), atol=1e-6, rtol=0)
