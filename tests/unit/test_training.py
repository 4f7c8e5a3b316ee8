"""End-to-end training on a tiny random BERT: learning, determinism, run directory, reload."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file

import tunewise
from tests.conftest import make_rows, tiny_config, write_jsonl
from tunewise.rundir import RunDir


@pytest.fixture(scope="module")
def trained(tiny_model_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    data = {
        "train": write_jsonl(tmp / "train.jsonl", make_rows(160, 1)),
        "dev": write_jsonl(tmp / "dev.jsonl", make_rows(40, 2)),
        "test": write_jsonl(tmp / "test.jsonl", make_rows(60, 3)),
    }
    result = tunewise.train(tiny_config(tiny_model_dir, data, tmp / "out"))
    return result, data


def test_model_learns_and_beats_majority(trained):
    result, _ = trained
    m = result.metrics
    assert m["test"]["n"] == 60
    assert m["test"]["accuracy"] >= 0.85
    assert m["test"]["accuracy"] > m["baselines"]["majority"]["accuracy"] + 0.2
    assert "tfidf_logreg" in m["baselines"]
    for name in (
        "eval_mode",
        "reload_parity",
        "collapse",
        "padding",
        "overfitting",
        "selection",
        "baselines",
    ):
        assert name in m["checks"], name
    assert m["checks"]["reload_parity"]["ok"] and m["checks"]["eval_mode"]["ok"]
    assert m["checks"]["selection"]["selected_on"] == "dev"
    assert m["checks"]["overfitting"]["gaps"], "train-subset evaluations were not recorded"


def test_run_directory_layout(trained):
    result, _ = trained
    run = RunDir(result.path)
    assert run.status() == "completed"
    for f in (run.config, run.labels, run.data, run.log, run.metrics, run.model / "config.json"):
        assert f.is_file(), f
    assert not run.checkpoints.exists()
    assert json.loads(run.labels.read_text())["labels"] == ["neg", "pos"]
    cfg = json.loads((run.model / "config.json").read_text())
    assert cfg["id2label"] == {"0": "neg", "1": "pos"}
    log = [json.loads(line) for line in run.log.read_text().splitlines()]
    assert any(r["type"] == "eval" for r in log) and any(r["type"] == "train" for r in log)
    data = json.loads(run.data.read_text())
    assert data["tokens"]["train"]["truncated"] == 0
    preds = [json.loads(line) for line in (run.predictions / "test.jsonl").read_text().splitlines()]
    assert [p["row"] for p in preds] == list(range(60))
    acc = sum(p["gold"] == p["pred"] for p in preds) / len(preds)
    assert acc == pytest.approx(result.metrics["test"]["accuracy"])


def test_saved_model_reload_parity(trained):
    """The model reloaded fresh gives the metrics computed in memory at the end of training,
    and plain transformers gives the same logits as tunewise.load."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    result, data = trained
    pred = tunewise.load(result.path)
    rows = [json.loads(line) for line in data["test"].read_text().splitlines()]
    texts = [r["text"] for r in rows]
    from tunewise.data import read_examples

    metrics = pred.evaluate(read_examples(data["test"]))
    assert metrics["accuracy"] == pytest.approx(result.metrics["test"]["accuracy"])
    ours = pred.predict(texts)
    model_dir = result.path / "model"
    tok = AutoTokenizer.from_pretrained(model_dir)
    hf = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    with torch.no_grad():
        logits = hf(**tok(texts[:8], padding=True, return_tensors="pt")).logits.numpy()
    ours_logits = pred.logits(read_examples(data["test"])[:8])
    np.testing.assert_allclose(ours_logits, logits, atol=1e-5)
    pipe = pipeline("text-classification", model=str(model_dir), device="cpu")
    assert [o["label"] for o in pipe(texts)] == [o["label"] for o in ours]


def test_same_seed_same_run(tiny_model_dir, tiny_data, tmp_path):
    a = tunewise.train(tiny_config(tiny_model_dir, tiny_data, tmp_path / "a", epochs=1))
    b = tunewise.train(tiny_config(tiny_model_dir, tiny_data, tmp_path / "b", epochs=1))
    wa = load_file(str(a.path / "model" / "model.safetensors"))
    wb = load_file(str(b.path / "model" / "model.safetensors"))
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k])
    assert a.metrics["test"] == b.metrics["test"]
    c = tunewise.train(tiny_config(tiny_model_dir, tiny_data, tmp_path / "c", epochs=1, seed=8))
    wc = load_file(str(c.path / "model" / "model.safetensors"))
    assert any(not np.array_equal(wa[k], wc[k]) for k in wa)


def test_only_train_given_makes_recorded_stratified_split(tiny_model_dir, tmp_path):
    train = write_jsonl(tmp_path / "all.jsonl", make_rows(200, 5))
    r = tunewise.train(tiny_config(tiny_model_dir, {"train": train}, tmp_path / "o", epochs=1))
    info = json.loads((r.path / "data.json").read_text())
    assert info["split"]["seed"] == 0 and info["split"]["dev"] == 0.1
    assert r.metrics["test"]["n"] == 20 and r.metrics["dev"]["n"] == 20


def test_multilabel_threshold_tuned_on_dev(tiny_model_dir, tmp_path):
    data = {
        s: write_jsonl(tmp_path / f"{s}.jsonl", make_rows(n, i, multi=True))
        for i, (s, n) in enumerate((("train", 160), ("dev", 40), ("test", 40)))
    }
    r = tunewise.train(
        tiny_config(tiny_model_dir, data, tmp_path / "ml") | {"task": {"multi_label": True}}
    )
    assert 0.05 <= r.metrics["threshold"] <= 0.95
    assert r.metrics["test"]["micro_f1"] > 0.6
    out = tunewise.load(r.path).predict(["the film was good", "the film was awful"])
    assert all(isinstance(o["labels"], list) for o in out)
    cfg = json.loads((r.path / "model" / "config.json").read_text())
    assert cfg["problem_type"] == "multi_label_classification"


def test_sentence_pairs(tiny_model_dir, tmp_path):
    def pairs(n, seed):
        rows = make_rows(n, seed)
        return [{"a": "the film", "b": r["text"], "label": r["label"]} for r in rows]

    data = {
        s: write_jsonl(tmp_path / f"{s}.jsonl", pairs(n, i))
        for i, (s, n) in enumerate((("train", 160), ("dev", 40), ("test", 40)))
    }
    cfg = tiny_config(tiny_model_dir, data, tmp_path / "p")
    cfg["data"] |= {"text_column": "a", "text_pair_column": "b"}
    r = tunewise.train(cfg)
    assert r.metrics["test"]["accuracy"] >= 0.8
    p = tunewise.load(r.path).predict(["the film"], pairs=["good good good"])
    assert p[0]["label"] == "pos"


def test_class_weights_balanced_upweight_the_rare_class():
    from tunewise.tasks.classification.task import class_weight_tensor

    w = class_weight_tensor("balanced", ["a", "b"], np.array([0, 0, 0, 1]), False)
    assert w[1] > w[0] and float(w[0]) == pytest.approx(4 / 6)


def test_gradient_accumulation_counts_optimizer_steps(tiny_model_dir, tiny_data, tmp_path):
    # 160 rows, batch 8, accumulate 2 -> 10 optimizer steps per epoch
    r = tunewise.train(
        tiny_config(
            tiny_model_dir, tiny_data, tmp_path / "acc", epochs=2, batch_size=8, grad_accum=2
        )
    )
    assert r.metrics["training"]["steps"] == 20


def test_early_stopping_stops_and_keeps_best(tiny_model_dir, tiny_data, tmp_path):
    # lr so small nothing improves after the first evaluation
    r = tunewise.train(
        tiny_config(
            tiny_model_dir,
            tiny_data,
            tmp_path / "es",
            lr=1e-9,
            early_stopping_patience=2,
            eval_every=2,
        )
    )
    t = r.metrics["training"]
    assert t["stopped_early"] and t["steps"] == 6
    assert r.metrics["best_step"] == 2


def test_train_after_another_accelerator_in_the_same_process(tiny_model_dir, tiny_data, tmp_path):
    # e.g. a Hugging Face Trainer with bf16 run first in a notebook: accelerate's process-wide
    # state then holds mixed_precision="bf16", and a plain Accelerator() would raise
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state()  # earlier tests in this process set it to "no"
    Accelerator(mixed_precision="bf16", cpu=True)
    assert AcceleratorState().mixed_precision == "bf16"
    r = tunewise.train(tiny_config(tiny_model_dir, tiny_data, tmp_path / "a", epochs=1))
    assert r.metrics["training"]["steps"] > 0
