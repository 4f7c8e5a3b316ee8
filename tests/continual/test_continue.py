"""Point 1: --continue-from keeps and extends the label map, starts from the parent's model,
records the lineage in the run and the registry, and scores every earlier test set."""

from __future__ import annotations

import json
import sqlite3

import pytest
import torch

from tunewise.continual.head import extend_head
from tunewise.rundir import RunDir


def test_label_map_extended_parent_first(continued, root_run):
    run = RunDir(continued["naive"])
    assert json.loads(RunDir(root_run).labels.read_text())["labels"] == ["neg", "pos"]
    assert json.loads(run.labels.read_text())["labels"] == ["neg", "pos", "people", "plot"]
    cfg = json.loads((run.model / "config.json").read_text())
    assert cfg["id2label"] == {"0": "neg", "1": "pos", "2": "people", "3": "plot"}
    data = json.loads(run.data.read_text())
    assert data["continual"]["labels_added"] == ["people", "plot"]


def test_extend_head_keeps_old_rows_and_starts_new_rows_near_their_mean(tiny_model_dir):
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(str(tiny_model_dir), num_labels=2)
    old_w = model.classifier.weight.detach().clone()
    old_b = model.classifier.bias.detach().clone()
    torch.manual_seed(0)
    added = extend_head(model, ["a", "b"], ["a", "b", "c", "d"])
    assert added == [2, 3]
    w, b = model.classifier.weight, model.classifier.bias
    assert w.shape == (4, old_w.shape[1])
    assert torch.equal(w[:2], old_w) and torch.equal(b[:2], old_b)
    # the old rows' mean plus noise of their spread: the new rows differ from each other
    # (identical rows give the body no gradient that separates the new classes)
    spread = old_w.std(0)
    z = (w[2:] - old_w.mean(0)) / spread
    assert not torch.allclose(w[2], w[3]) and float(z.abs().max()) < 6
    assert 0.5 < float(z.std()) < 1.5 and torch.allclose(b[2:], old_b.mean().expand(2))
    again = AutoModelForSequenceClassification.from_pretrained(str(tiny_model_dir), num_labels=2)
    again.classifier.weight.data.copy_(old_w)
    again.classifier.bias.data.copy_(old_b)
    torch.manual_seed(0)
    extend_head(again, ["a", "b"], ["a", "b", "c", "d"])
    assert torch.equal(again.classifier.weight, w)  # seeded: the same rows again
    assert model.config.id2label == {0: "a", 1: "b", 2: "c", 3: "d"} and model.num_labels == 4
    with pytest.raises(ValueError):
        extend_head(model, ["a", "b"], ["b", "a", "c"])  # old order must be kept


def test_starts_from_parent_weights(continued, root_run, tiny_model_dir):
    """The continued encoder is nearer its parent's than the pretrained base's: it started
    from the parent (a fresh start from the base would be nearer the base)."""
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification

    parent = load_file(str(RunDir(root_run).model / "model.safetensors"))
    child = load_file(str(RunDir(continued["naive"]).model / "model.safetensors"))
    base = AutoModelForSequenceClassification.from_pretrained(str(tiny_model_dir), num_labels=2)
    base = base.state_dict()
    keys = [k for k in child if k.startswith("bert.encoder") and k in parent and k in base]
    assert keys

    def dist(a):
        return sum(float(((child[k] - a[k]) ** 2).sum()) for k in keys)

    assert dist(parent) < 0.5 * dist(base)


def test_lineage_in_run_json_stage_and_registry(continued, root_run, two_tasks):
    import os

    run = RunDir(continued["replay"])
    info = run.info()
    assert info["parent"] == str(root_run.resolve())
    assert [e["run"] for e in info["lineage"]] == [str(root_run.resolve())]
    assert info["lineage"][0]["train"] == str(two_tasks["a"]["train"].resolve())
    assert info["continual"]["strategy"] == "replay"
    stage = json.loads((run.path / "continual" / "stage.json").read_text())
    assert [e["task"] for e in stage["lineage"]] == ["a", "b"]
    assert stage["lineage"][1]["test"] == str(two_tasks["b"]["test"].resolve())
    con = sqlite3.connect(os.environ["TUNEWISE_REGISTRY"])
    parent, lineage = con.execute(
        "SELECT parent, lineage FROM runs WHERE path=?", (str(run.path.resolve()),)
    ).fetchone()
    assert parent == str(root_run.resolve())
    assert json.loads(lineage)[0]["task"] == "a"


def test_scored_on_every_test_set_of_the_lineage(continued):
    m = json.loads(RunDir(continued["naive"]).metrics.read_text())
    tests = m["continual"]["tests"]
    assert [t["task"] for t in tests] == ["a", "b"]
    assert [t["n"] for t in tests] == [60, 60]
    stage = json.loads((continued["naive"] / "continual" / "stage.json").read_text())
    assert len(stage["row"][0]["correct"]) == 60
    # the cell agrees with its own per-row record
    c = stage["row"][1]
    assert c["accuracy"] == pytest.approx(c["correct"].count("1") / 60)


def test_old_registry_file_gains_the_lineage_columns(tmp_path):
    from tunewise.registry import Registry

    p = tmp_path / "old.db"
    con = sqlite3.connect(p)
    con.execute(
        "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL UNIQUE, name TEXT NOT NULL, status TEXT NOT NULL, pid INTEGER, host TEXT, started TEXT, updated TEXT, finished TEXT, model TEXT, task TEXT, study TEXT, config TEXT, metrics TEXT, error TEXT)"
    )
    con.commit()
    con.close()
    reg = Registry(p)
    reg.upsert({"path": "/x", "name": "x", "status": "completed", "parent": "/p", "lineage": "[]"})
    assert reg.runs()[0]["parent"] == "/p"
