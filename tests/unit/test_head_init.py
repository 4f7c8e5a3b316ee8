"""task.head_init=probe: the head starts as a logistic regression on the frozen model's head
inputs (LP-FT), so that with almost no fine-tuning the run already classifies."""

from __future__ import annotations

import json

import pytest

import tunewise
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def body_dir(tiny_model_dir, tmp_path_factory):
    """A body whose features carry the task (the tiny BERT fine-tuned once), saved without
    its head: a model loaded from it gets a fresh classifier, as from a pretrained checkpoint."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from tests.conftest import make_rows, write_jsonl

    d = tmp_path_factory.mktemp("body")
    files = {
        "train": write_jsonl(d / "train.jsonl", make_rows(160, 11)),
        "test": write_jsonl(d / "test.jsonl", make_rows(40, 12)),
    }
    tunewise.train(tiny_config(tiny_model_dir, files, d / "run"))
    tuned = AutoModelForSequenceClassification.from_pretrained(d / "run" / "model")
    tuned.bert.save_pretrained(d / "body")
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(d / "body")
    return d / "body"


def _run(tiny_model_dir, tiny_data, out, head_init, method=None):
    cfg = tiny_config(tiny_model_dir, tiny_data, out, epochs=1, lr=1e-9, warmup_ratio=0.0)
    cfg["task"] = {"head_init": head_init, "label_issues": False, "calibrate": False}
    if method:
        cfg["method"] = {"name": method}
    tunewise.train(cfg)
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.parametrize("method", [None, "lora"])
def test_probe_head_classifies_before_any_learning(body_dir, tiny_data, tmp_path, method):
    # lr 1e-9: training changes nothing; only the head's start differs
    probe = _run(body_dir, tiny_data, tmp_path / "p", "probe", method)
    rand = _run(body_dir, tiny_data, tmp_path / "r", "random", method)
    hi = probe["head_init"]
    assert hi["rows"] == 160 and hi["train_accuracy"] > 0.8
    assert hi["module"].split(".")[-1] in ("classifier", "default")
    assert probe["test"]["accuracy"] >= 0.85  # nothing was learned: the probe classifies
    assert "head_init" not in rand
    # the two runs differ only in the head's start (a random head may still land on either side)
    from safetensors.numpy import load_file

    def head(run):
        w = load_file(str(next((run / "model").glob("*.safetensors"))))
        return {k: v for k, v in w.items() if "classifier" in k and "lora" not in k}

    hp, hr = head(tmp_path / "p"), head(tmp_path / "r")
    assert hp and any(abs(hp[k] - hr[k]).max() > 1e-3 for k in hp)


def test_binary_probe_matches_sklearn_decisions(body_dir, tiny_data):
    """The two-row head made from sklearn's one-row binary model decides as sklearn does."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from tunewise.data.readers import read_examples
    from tunewise.tasks.classification.head_init import PROBE_C, features, head_linear, probe_head
    from tunewise.tasks.classification.task import ClassificationTask

    tok = AutoTokenizer.from_pretrained(body_dir)
    model = AutoModelForSequenceClassification.from_pretrained(body_dir, num_labels=2)
    rows = read_examples(tiny_data["train"], require_label=True)
    task = ClassificationTask(["neg", "pos"])
    data = task.encode(rows, tok, 32)
    _, lin = head_linear(model, 2)
    x = features(model, lin, task, data, 0, 16)
    ref = LogisticRegression(C=PROBE_C, max_iter=2000, random_state=0).fit(x, data.labels)
    assert probe_head(model, task, data, 0, 16, 0, print)["train_accuracy"] > 0.8
    logits = x @ lin.weight.detach().numpy().T + lin.bias.detach().numpy()
    assert (logits.argmax(1) == ref.predict(x)).mean() == 1.0
    assert np.allclose(logits[:, 1] - logits[:, 0], ref.decision_function(x), atol=1e-4)


def test_auto_probes_many_classes_with_few_rows_only():
    import numpy as np

    from tunewise.tasks.classification.head_init import choose

    assert choose("auto", 50, np.repeat(np.arange(50), 30))[0] == "probe"  # banking77: 50 x 30
    assert choose("auto", 2, np.repeat(np.arange(2), 1000))[0] == "random"  # SST-2
    assert choose("auto", 2, np.repeat(np.arange(2), 30))[0] == "random"  # few classes
    assert choose("auto", 20, np.repeat(np.arange(20), 500))[0] == "random"  # many rows each
    # out-of-scope rows held out of the classes (-100) are not counted as rows of a class
    y = np.r_[np.repeat(np.arange(10), 100), np.full(5000, -100)]
    assert choose("auto", 10, y)[0] == "probe"
    assert choose("random", 50, np.repeat(np.arange(50), 30)) == ("random", "set")


def test_continued_run_keeps_its_parents_head(tiny_model_dir, tiny_data, tmp_path):
    from tunewise.config import build_config
    from tunewise.continual import continue_train
    from tunewise.errors import UserError

    parent = tmp_path / "v1"
    tunewise.train(tiny_config(tiny_model_dir, tiny_data, parent, epochs=1))
    cfg = build_config(tiny_config(tiny_model_dir, tiny_data, tmp_path / "v2", epochs=1))
    cfg.task.head_init = "probe"
    with pytest.raises(UserError, match="keeps its parent's head"):
        continue_train(cfg, parent, "naive")
