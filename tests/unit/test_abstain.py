"""--abstain / --oos-label: out-of-scope scores, the dev-chosen threshold, OOS metrics with
intervals, and ``abstained`` answers from predict and serve."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

import tunewise
from tests.conftest import make_rows, tiny_config, write_jsonl
from tunewise.errors import UserError
from tunewise.tasks.classification import abstain as ab

# out-of-scope texts: none of the words the tiny task's labels hang on, a vocabulary of their own
OOS_WORDS = ["lasagna", "recipe", "volcano", "guitar", "weather", "planet", "soccer", "poem"]


def oos_rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [
        {"text": " ".join(rng.choice(OOS_WORDS) for _ in range(rng.randint(3, 8))), "label": "oos"}
        for _ in range(n)
    ]


# -- the statistics on their own ------------------------------------------------------------
def test_threshold_keeps_the_target_share_of_in_scope_rows():
    rng = np.random.default_rng(0)
    ins, oos = rng.normal(0, 1, 400), rng.normal(3, 1, 100)
    scores = np.concatenate([ins, oos])
    is_oos = np.r_[np.zeros(400, bool), np.ones(100, bool)]
    t = ab.threshold_for(scores, is_oos, ("in_scope_recall", 0.95))
    assert 0.945 <= (ins <= t).mean() <= 0.96
    t2 = ab.threshold_for(scores, is_oos, ("oos_recall", 0.9))
    assert (oos > t2).mean() >= 0.9 and (oos > t2).mean() < 0.93
    t3 = ab.threshold_for(scores, is_oos, ("in_scope_precision", 0.99))
    answered = scores <= t3
    assert (~is_oos[answered]).mean() >= 0.99
    with pytest.raises(UserError, match="needs out-of-scope rows in dev"):
        ab.threshold_for(ins, np.zeros(400, bool), ("oos_recall", 0.9))


def test_a_prediction_of_the_oos_class_abstains_whatever_the_threshold():
    # 10% of dev's in-scope rows predicted as the explicit oos class: more than the 5% that
    # in_scope_recall=0.95 may drop, so no finite threshold meets it; it must not become
    # "abstain on nothing" (seen on banking77_oos trained with oos rows: threshold 1e9)
    ins = np.r_[np.linspace(0.0, 0.5, 90), np.full(10, ab.PREDICTED_OOS)]
    oos = np.r_[np.full(30, ab.PREDICTED_OOS), np.linspace(0.3, 0.9, 20)]
    scores, is_oos = np.r_[ins, oos], np.r_[np.zeros(100, bool), np.ones(50, bool)]
    t = ab.threshold_for(scores, is_oos, ("in_scope_recall", 0.95))
    assert t < ab.PREDICTED_OOS and t == pytest.approx(0.9)  # every other row answered
    m = ab.abstain_metrics(scores, is_oos, ~is_oos, threshold=t, resamples=50)
    assert m["oos_recall"] == pytest.approx(30 / 50)  # the rows predicted oos
    assert m["in_scope_abstain_rate"] == pytest.approx(10 / 100)
    assert m["fpr_at_95_in_scope_recall"] is None  # no threshold answers 95% of in-scope rows
    logits = np.array([[3.0, 0.0, 0.0], [0.0, 0.0, 3.0]])  # class 2 is "oos"
    got = ab.decide(
        {"score": "msp", "threshold": 1e12, "oos_label": "oos"}, logits, ["a", "b", "oos"]
    )
    assert [a for a, _ in got] == [False, True]


def test_metrics_count_abstentions_and_give_intervals():
    scores = np.array([0.1, 0.2, 0.3, 0.9, 0.8, 0.05])
    is_oos = np.array([False, False, False, True, True, False])
    correct = np.array([True, False, True, False, False, True])
    m = ab.abstain_metrics(scores, is_oos, correct, threshold=0.25, resamples=200)
    # abstains on rows 2, 3, 4: two of them out of scope
    assert m["oos_recall"] == 1.0 and m["oos_precision"] == pytest.approx(2 / 3)
    assert m["in_scope_accuracy"] == pytest.approx(2 / 4)  # row 2 correct but abstained
    assert m["in_scope_accuracy_no_abstention"] == pytest.approx(3 / 4)
    assert m["auroc"] == 1.0
    lo, hi = m["intervals"]["in_scope_accuracy"]
    assert lo <= m["in_scope_accuracy"] <= hi
    rc = m["risk_coverage"]
    assert rc["coverage"][-1] == 1.0 and 0 <= rc["aurc"] <= 1


def test_scores_rank_flat_distributions_as_out_of_scope():
    sharp, flat = np.array([[8.0, 0.0, 0.0]]), np.array([[0.1, 0.0, 0.05]])
    s = ab.logit_scores(np.concatenate([sharp, flat]), 1.0, None)
    assert s["msp"][1] > s["msp"][0] and s["energy"][1] > s["energy"][0]
    bank = ab.normalise(np.eye(4)[:3])
    near, far = ab.normalise(np.array([[1.0, 0.1, 0, 0]])), ab.normalise(np.array([[0, 0, 0, 1.0]]))
    k = ab.knn_score(np.concatenate([near, far]), bank, k=1)
    assert k[1] > k[0]


@pytest.mark.parametrize("bad", ["recall=0.9", "in_scope_recall=2", "oos_recall", "x"])
def test_a_bad_target_is_one_clear_line(bad):
    with pytest.raises(UserError, match="--abstain-target"):
        ab.parse_target(bad)


# -- a run ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def abstaining_run(tiny_model_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("abstain")
    data = {
        "train": write_jsonl(tmp / "train.jsonl", make_rows(160, 1)),
        "dev": write_jsonl(tmp / "dev.jsonl", make_rows(40, 2) + oos_rows(20, 2)),
        "test": write_jsonl(tmp / "test.jsonl", make_rows(40, 3) + oos_rows(30, 3)),
    }
    cfg = tiny_config(tiny_model_dir, data, tmp / "out")
    cfg["task"] = {"oos_label": "oos"}  # implies abstain; the score is chosen on dev
    return tunewise.train(cfg)


def test_a_run_scores_its_abstention_on_held_out_oos_rows(abstaining_run):
    m = abstaining_run.metrics
    a = m["abstain"]
    assert a["oos_in_train"] is False and a["chosen_by"] == "best dev AUROC"
    best = max(a["by_score"], key=lambda n: a["by_score"][n]["dev_auroc"])
    assert a["score"] == best
    # the OOS rows never entered the classifier's splits: test accuracy is over in-scope rows
    assert m["test"]["n"] == 40
    assert a["test"]["n"] == 70 and a["test"]["n_oos"] == 30 and a["dev"]["n_oos"] == 20
    t = a["test"]
    assert t["in_scope_accuracy_no_abstention"] == pytest.approx(m["test"]["accuracy"])
    for k in ("in_scope_accuracy", "oos_recall", "oos_precision", "auroc"):
        assert k in t and k in t["intervals"], k
    # an unseen vocabulary is far from every training text in embedding space
    assert t["auroc"] > 0.9
    assert set(a["by_score"]) == {"msp", "energy", "knn"}
    saved = json.loads((abstaining_run.path / "model" / "tunewise.json").read_text())
    assert saved["abstain"]["score"] == a["score"]
    assert saved["abstain"]["threshold"] == pytest.approx(a["threshold"])
    data = json.loads((abstaining_run.path / "data.json").read_text())
    assert data["oos"]["held_out"] == {"dev": 20, "test": 30}


def test_predict_answers_abstained_as_the_evaluation_decided(abstaining_run):
    p = tunewise.load(abstaining_run.path)
    ins = [r["text"] for r in make_rows(40, 3)]  # the test file's rows, in-scope then OOS
    oos = [r["text"] for r in oos_rows(30, 3)]
    res = p.predict(ins + oos)
    for r in res:
        assert {"abstained", "oos_score", "abstain_threshold", "label"} <= set(r)
        assert r["abstained"] == (r["oos_score"] > r["abstain_threshold"])
    t = abstaining_run.metrics["abstain"]["test"]
    # what predict says is what the run measured on the same rows
    assert np.mean([r["abstained"] for r in res[40:]]) == pytest.approx(t["oos_recall"])
    assert np.mean([r["abstained"] for r in res[:40]]) == pytest.approx(t["in_scope_abstain_rate"])
    assert np.mean([r["oos_score"] for r in res[40:]]) > np.mean([r["oos_score"] for r in res[:40]])


def test_knn_abstention_saves_its_bank_and_the_predictor_uses_it(tiny_model_dir, tmp_path):
    data = {
        "train": write_jsonl(tmp_path / "train.jsonl", make_rows(120, 1)),
        "dev": write_jsonl(tmp_path / "dev.jsonl", make_rows(30, 2) + oos_rows(10, 2)),
    }
    cfg = tiny_config(tiny_model_dir, data, tmp_path / "out", epochs=2)
    cfg["task"] = {"oos_label": "oos", "abstain_score": "knn"}
    r = tunewise.train(cfg)
    bank = np.load(r.path / "model" / "abstain_bank.npy")
    rows = json.loads((r.path / "data.json").read_text())["rows"]["train"]
    assert bank.shape[0] == rows  # one normalised embedding per training row
    assert np.allclose(np.linalg.norm(bank.astype(np.float32), axis=1), 1, atol=1e-2)
    p = tunewise.load(r.path)
    assert p._bank is not None and p._bank.shape == bank.shape
    res = p.predict([make_rows(1, 5)[0]["text"]])[0]
    assert -1e-3 <= res["oos_score"] <= 2 and isinstance(res["abstained"], bool)
    (r.path / "model" / "abstain_bank.npy").unlink()
    with pytest.raises(UserError):
        tunewise.load(r.path)


def test_abstain_is_refused_for_other_tasks_and_multi_label(tiny_model_dir, tiny_data, tmp_path):
    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "x", epochs=1)
    cfg["task"] = {"type": "regression", "abstain": True}
    with pytest.raises(UserError, match="for classification, not regression"):
        tunewise.train(cfg)
    cfg["task"] = {"multi_label": True, "abstain": True}
    with pytest.raises(UserError, match="single-label"):
        tunewise.train(cfg)
    assert not (tmp_path / "x" / "metrics.json").exists()


def test_the_report_has_an_abstention_section(abstaining_run):
    from tunewise.evaluation.report import load_run, write_report
    from tunewise.tasks import get_task

    sections = get_task("classification").report_sections(load_run(abstaining_run.path))
    html_path, md_path = write_report(abstaining_run.path, sections)
    md, html = md_path.read_text(), html_path.read_text()
    a = abstaining_run.metrics["abstain"]
    assert "## Abstention (out of scope)" in md
    assert f"{a['test']['auroc']:.3f}" in md and f"{a['threshold']:.4g}" in md
    assert "Risk against coverage" in html and "<svg" in html
    # the report the run itself wrote at the end has it too
    assert "Abstention (out of scope)" in (abstaining_run.path / "report.md").read_text()


def test_v1_classify_answers_abstained_over_http(abstaining_run):
    from tests.serve.conftest import running
    from tunewise.serve import ServeSettings, create_app, load_served

    ins = [r["text"] for r in make_rows(5, 3)]
    oos = [r["text"] for r in oos_rows(5, 3)]
    expected = tunewise.load(abstaining_run.path).predict(ins + oos)
    app = create_app([load_served(str(abstaining_run.path))], ServeSettings(max_wait_ms=1))
    with running(app) as (client, _):
        status, _, body = client.post("/v1/classify", {"texts": ins + oos})
    assert status == 200, body
    got = body["results"]
    assert [r["abstained"] for r in got] == [r["abstained"] for r in expected]
    assert [r["oos_score"] for r in got] == pytest.approx([r["oos_score"] for r in expected])
    assert all(
        r["abstain_threshold"] == pytest.approx(expected[0]["abstain_threshold"]) for r in got
    )
    assert any(r["abstained"] for r in got[5:])  # the unseen vocabulary is refused
