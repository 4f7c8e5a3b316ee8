"""Real weights on real data: minilm fine-tuned on a CI-sized subset of SST-2 learns."""

import csv
import json

import pytest

import tunewise
from tests.conftest import SHARED

pytestmark = [pytest.mark.real, pytest.mark.shared]


def _subset(src, dst, n):
    with open(src, encoding="utf-8") as f:
        lines = f.readlines()
    dst.write_text("".join(lines[: n + 1]), encoding="utf-8")
    return dst


@pytest.fixture(scope="module")
def sst2_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sst2")
    src = SHARED / "sst2_sentences"
    data = {
        "train": _subset(src / "train.tsv", tmp / "train.tsv", 640),
        "dev": _subset(src / "dev.tsv", tmp / "dev.tsv", 160),
        "test": _subset(src / "test.tsv", tmp / "test.tsv", 300),
    }
    cfg = {
        "model": {"name": "minilm", "max_length": 64},
        "data": {k: str(v) for k, v in data.items()} | {"text_column": "sentence"},
        "train": {"epochs": 2, "batch_size": 32, "lr": 1e-4, "checkpoint_every": None},
        "out": str(tmp / "run"),
    }
    return tunewise.train(cfg), data


def test_minilm_learns_sst2(sst2_run):
    result, _ = sst2_run
    m = result.metrics
    assert m["test"]["n"] == 300  # every row of the split, once
    majority = m["baselines"]["majority"]["accuracy"]
    assert m["test"]["accuracy"] >= majority + 0.15, (m["test"]["accuracy"], majority)
    assert m["test"]["mcc"] > 0.3


def test_plain_transformers_pipeline_agrees_with_predict(sst2_run):
    from transformers import pipeline

    result, data = sst2_run
    with open(data["test"], encoding="utf-8") as f:
        texts = [r["sentence"] for r in csv.DictReader(f, delimiter="\t")][:64]
    ours = tunewise.load(result.path).predict(texts)
    pipe = pipeline("text-classification", model=str(result.path / "model"), device="cpu")
    assert [o["label"] for o in pipe(texts, batch_size=16)] == [o["label"] for o in ours]
    cfg = json.loads((result.path / "model" / "config.json").read_text())
    assert set(cfg["id2label"].values()) == {"0", "1"}


@pytest.mark.real
def test_packaged_minilm_resolves_offline():
    from tunewise.models.registry import resolve_model

    r = resolve_model("minilm")
    assert r.source == "packaged"
    cfg = json.loads(open(f"{r.path}/config.json").read())
    assert cfg["num_hidden_layers"] == 6 and cfg["hidden_size"] == 384
