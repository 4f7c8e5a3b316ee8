"""--method setfit: pairs, the logistic head copied exactly, mean pooling, and a K-shot draws
run on the tiny model that saves, reloads and predicts like any classification run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import tunewise
from tests.conftest import FILL, NEG, POS, tiny_config, write_jsonl
from tunewise.cli.main import main
from tunewise.errors import UserError
from tunewise.methods.setfit import class_batches, fit_head, make_pairs, setfit_model


def test_pairs_half_same_class_half_different():
    y = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    pairs = make_pairs(y, 40, np.random.default_rng(0))
    assert len(pairs) == 40
    pos = [p for p in pairs if p[2] == 1.0]
    assert len(pos) == 20
    assert all(y[i] == y[j] and i != j for i, j, _ in pos)
    assert all(y[i] != y[j] for i, j, t in pairs if t == 0.0)


def test_multi_label_pairs_negative_share_no_label():
    y = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 1]])
    for i, j, t in make_pairs(y, 20, np.random.default_rng(0)):
        if t == 0.0:
            assert not (y[i] & y[j]).any()
        else:
            assert (y[i] == y[j]).all()


def test_mnrl_batches_hold_distinct_classes_and_true_positives():
    y = np.repeat(np.arange(5), 4)  # 5 classes x 4 examples
    batches = class_batches(y, 60, 8, np.random.default_rng(0))
    assert sum(len(b) for b in batches) == 60
    for b in batches:
        anchors = [i for i, _, _ in b]
        assert len(b) <= 5  # the width is capped at the number of classes
        assert len({int(y[i]) for i in anchors}) == len(b)  # no in-batch false negative
        assert all(y[i] == y[j] and i != j and t == 1.0 for i, j, t in b)
    # every example is an anchor in turn: 60 pairs over 20 examples, 3 times each
    used = np.bincount([i for b in batches for i, _, _ in b], minlength=20)
    assert used.min() == used.max() == 3


def test_mnrl_batches_refuse_what_they_cannot_pair():
    with pytest.raises(UserError, match="single-label"):
        class_batches(np.array([[1, 0], [0, 1]]), 4, 2, np.random.default_rng(0))
    with pytest.raises(UserError, match="two classes"):
        class_batches(np.array([0, 0, 1]), 4, 2, np.random.default_rng(0))


class _Clf(torch.nn.Module):
    def __init__(self, hidden=8, labels=3):
        super().__init__()
        self.base_model = torch.nn.Identity()
        self.config = type("C", (), {"hidden_size": hidden, "num_labels": labels})()


@pytest.mark.parametrize("classes", [2, 3])
def test_head_gives_the_logistic_regressions_probabilities(classes):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8)).astype(np.float32)
    y = rng.integers(0, classes, 60)
    m = setfit_model(_Clf(8, classes))
    fit_head(m, x, y, multi_label=False, c=1.0)
    with torch.no_grad():
        p = torch.softmax(m.head(torch.from_numpy(x)), -1).numpy()
    ref = LogisticRegression(C=1.0, max_iter=2000).fit(x, y).predict_proba(x)
    assert np.allclose(p, ref, atol=1e-4)


def test_embedding_is_a_mean_over_every_position(tiny_model_dir):
    from transformers import AutoModelForSequenceClassification

    clf = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    m = setfit_model(clf).eval()
    ids = torch.tensor([[2, 50, 51, 52, 3], [2, 50, 51, 60, 3]])
    with torch.no_grad():
        e = m.embed(ids, torch.ones_like(ids))
        h = m.body(input_ids=ids).last_hidden_state
        out = m(ids, torch.ones_like(ids), output_hidden_states=True)
    assert torch.allclose(e, torch.nn.functional.normalize(h.mean(1), dim=-1), atol=1e-6)
    # features read at "the first position" are the pooled embedding, not the [CLS] state
    assert torch.allclose(out.hidden_states[-1][:, 0], e)
    assert not torch.allclose(e[0], e[1])  # a token after the first changes the embedding


def test_head_lr_reaches_the_setfit_head(tiny_model_dir):
    """train.head_lr sets the rate of the linear head only (it was silently ignored: the
    wrapper named no pretrained prefix, so no parameter counted as the head)."""
    from transformers import AutoModelForSequenceClassification

    from tunewise.config import TrainConfig
    from tunewise.training.loop import build_optimizer

    clf = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    m = setfit_model(clf)
    opt = build_optimizer(m, TrainConfig(lr=1e-4, head_lr=3e-3))
    rate = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    assert rate[id(m.head.weight)] == rate[id(m.head.bias)] == 3e-3
    body = [rate[id(p)] for p in m.body.parameters()]
    assert body and set(body) == {1e-4}


def test_first_position_shortcut_leaves_setfit_alone(tiny_model_dir):
    """train.first_position_only / the predictor's for_inference patch a BERT classifier's last
    layer to compute [CLS] alone; SetFit mean-pools every position, so it must stay whole."""
    from transformers import AutoModelForSequenceClassification

    from tunewise.models.attention import for_inference
    from tunewise.models.head_positions import first_position_only, is_patched

    clf = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    m = setfit_model(clf).eval()
    ids = torch.tensor([[2, 50, 51, 52, 3]])
    with torch.no_grad():
        before = m(ids).logits
        for_inference(m)
        assert not first_position_only(m) and not is_patched(m)
        assert torch.equal(m(ids).logits, before)
    # the same body inside a plain classifier is patched (the shortcut itself is on)
    assert first_position_only(clf)


def short_rows(n: int, seed: int) -> list[dict]:
    """Two to four words, one of them carrying the sentiment (a mean over the tiny model's
    positions must find it; make_rows' long numbers would drown it)."""
    import random

    rng, out = random.Random(seed), []
    for _ in range(n):
        y = rng.random() < 0.5
        w = [rng.choice(FILL) for _ in range(rng.randint(1, 3))]
        w.insert(rng.randrange(len(w) + 1), rng.choice(POS if y else NEG))
        out.append({"text": " ".join(w), "label": "pos" if y else "neg"})
    return out


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pool")
    return {
        "train": write_jsonl(tmp / "train.jsonl", short_rows(120, 1)),
        "test": write_jsonl(tmp / "test.jsonl", short_rows(60, 3)),
    }


def _cfg(tiny_model_dir, pool, out, **extra):
    cfg = tiny_config(tiny_model_dir, pool, out, epochs=1)
    cfg["method"] = {"name": "setfit", "setfit": {"iterations": 10, "body_lr": 3e-3}}
    cfg["fewshot"] = {"shots": 6, "draws": 2}
    cfg["task"] = {"label_issues": False}
    cfg["doctor"] = {"allow": ["label_conflicts", "same_splits"]}
    cfg.update(extra)
    return cfg


@pytest.fixture(scope="module")
def draws_run(tiny_model_dir, pool, tmp_path_factory):
    out = tmp_path_factory.mktemp("fs") / "run"
    return tunewise.train(_cfg(tiny_model_dir, pool, out))


def test_draws_folder_layout_and_summary(draws_run):
    top = draws_run.path
    m = json.loads((top / "metrics.json").read_text())
    per = [json.loads((top / f"draw-{i}" / "metrics.json").read_text()) for i in (1, 2)]
    accs = [p["test"]["accuracy"] for p in per]
    assert m["test"]["accuracy"] == pytest.approx(np.mean(accs), abs=1e-6)
    assert m["draws"]["summary"]["test"]["accuracy"]["values"] == pytest.approx(accs, abs=1e-6)
    assert "draws" in m["draws"]["sentence"] and "std" in m["draws"]["sentence"]
    rec = json.loads((top / "draws.json").read_text())
    assert [d["seed"] for d in rec["draws"]] == [0, 1]
    assert all(d["train_counts"] == {"neg": 6, "pos": 6} for d in rec["draws"])
    # the test rows are never drawn: the test file's rows are not in any draw
    test_where = {f"test.jsonl line {i}" for i in range(1, 100)}
    assert not test_where & {w for d in rec["draws"] for w in d["train_rows"] + d["dev_rows"]}
    for p in per:
        assert p["method"]["name"] == "setfit"
        assert p["method"]["before_loop"]["pairs"] == 2 * 10 * 12
        assert p["checks"]["reload_parity"]["ok"]
        assert p["training"]["steps"] == 0  # the logistic head: the loop does not run


def test_load_a_draws_folder_and_predict(draws_run):
    pred = tunewise.load(draws_run.path)
    out = pred.predict(["the film was great and lovely", "dull boring awful"])
    assert {o["label"] for o in out} <= {"pos", "neg"}
    chosen = json.loads((draws_run.path / "metrics.json").read_text())["draws"]["selected"]
    again = tunewise.load(draws_run.path / chosen).predict(["the film was great and lovely"])
    assert again[0]["scores"] == out[0]["scores"]


def test_setfit_learns_more_than_chance(draws_run, tiny_model_dir, pool, tmp_path):
    m = json.loads((draws_run.path / "metrics.json").read_text())
    assert m["test"]["accuracy"] > 0.68
    # the contrastive stage is what lifts it: a logistic head on the untrained body is worse
    cfg = _cfg(tiny_model_dir, pool, tmp_path / "lr-only")
    cfg["method"]["setfit"]["body_lr"] = 1e-12
    flat = tunewise.train(cfg).metrics["test"]["accuracy"]
    assert m["test"]["accuracy"] > flat + 0.05


def test_in_batch_negatives_learn_more_than_chance(tiny_model_dir, pool, tmp_path):
    cfg = _cfg(tiny_model_dir, pool, tmp_path / "mnrl")
    cfg["method"]["setfit"] |= {"loss": "mnrl", "iterations": 30}
    cfg["fewshot"] = {"shots": 6, "draws": 1}
    r = tunewise.train(cfg)
    m = json.loads((r.path / "draw-1" / "metrics.json").read_text())
    assert m["method"]["before_loop"]["loss"] == "mnrl"
    assert m["method"]["before_loop"]["pairs"] == 30 * 12  # iterations x examples
    assert m["method"]["before_loop"]["steps"] == 30 * 12 // 2  # two classes: 2 pairs a batch
    cfg = _cfg(tiny_model_dir, pool, tmp_path / "mnrl-flat")
    cfg["method"]["setfit"] |= {"loss": "mnrl", "iterations": 30, "body_lr": 1e-12}
    cfg["fewshot"] = {"shots": 6, "draws": 1}
    flat = tunewise.train(cfg).metrics["test"]["accuracy"]
    # measured 0.733 vs 0.667 on the tiny model (6 shots a class): the body learned
    assert m["test"]["accuracy"] > flat + 0.03


def test_end_to_end_head_runs_the_loop(tiny_model_dir, pool, tmp_path):
    cfg = _cfg(tiny_model_dir, pool, tmp_path / "e2e")
    cfg["method"]["setfit"]["head"] = "end_to_end"
    cfg["fewshot"] = {"shots": 6, "draws": 1}
    r = tunewise.train(cfg)
    m = json.loads((r.path / "draw-1" / "metrics.json").read_text())
    assert m["training"]["steps"] > 0 and m["checks"]["reload_parity"]["ok"]


def test_cli_bad_few_shot_input_is_one_line(tiny_model_dir, pool, tmp_path, capsys):
    base = [
        "train",
        "--model",
        str(tiny_model_dir),
        "--train",
        str(pool["train"]),
        "--test",
        str(pool["test"]),
        "--out",
        str(tmp_path / "x"),
    ]
    for extra, want in (
        (["--draws", "3"], "several draws need shots"),
        (["--shots", "500", "--method", "setfit"], "fewer than K=500"),
    ):
        with pytest.raises(SystemExit) as e:
            main(base + extra)
        assert e.value.code == 2
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and want in errors[0], err
        assert "Traceback" not in err
        assert not (tmp_path / "x").exists()  # refused before any run folder was made


def test_a_contrastive_stage_of_one_step_trains(tiny_model_dir, pool, tmp_path):
    """pairs=2 is one step of 16: warmup is that step, and the decay has no length to divide."""
    cfg = _cfg(tiny_model_dir, pool, tmp_path / "one-step")
    cfg["method"]["setfit"]["pairs"] = 2
    m = tunewise.train(cfg).metrics
    assert m["test"]["accuracy"] > 0
