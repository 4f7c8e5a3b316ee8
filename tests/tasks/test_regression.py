"""The regression task (`--task regression`): targets read as numbers or refused with file and
line, standardized and mapped back, MSE/Huber, metrics with intervals and baselines, the doctor's
target checks, predict, report."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

import tunewise
from tests.conftest import FILL, NEG, POS, tiny_config, write_jsonl
from tunewise.errors import UserError


def rows(n, seed):
    """Texts whose target is (#positive - #negative words) * 1.5 + 3: learnable, not centered."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        kp, kn = rng.randint(0, 3), rng.randint(0, 3)
        words = rng.sample(FILL, 3) + rng.sample(POS, kp) + rng.sample(NEG, kn)
        rng.shuffle(words)
        out.append(
            {"text": " ".join(words) + f" {rng.randint(0, 99999)}", "score": 1.5 * (kp - kn) + 3}
        )
    return out


@pytest.fixture(scope="module")
def reg_run(tiny_model_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reg")
    data = {
        s: write_jsonl(tmp / f"{s}.jsonl", rows(n, i))
        for i, (s, n) in enumerate((("train", 240), ("dev", 40), ("test", 60)))
    }
    cfg = tiny_config(tiny_model_dir, data, tmp / "run", epochs=8)
    cfg["task"] = {"type": "regression"}
    cfg["data"]["label_column"] = "score"
    return tunewise.train(cfg), data


def test_metrics_intervals_baselines_and_scaling(reg_run):
    r, data = reg_run
    m = r.metrics
    assert m["task"] == "regression" and m["headline"] == ["rmse", "RMSE"]
    for k in ("rmse", "mae", "pearson", "spearman"):
        assert isinstance(m["test"][k], float)
        lo, hi = m["test"]["ci"][k]
        assert lo <= m["test"][k] <= hi
    assert set(m["baselines"]) == {"mean", "tfidf_ridge"}
    # the tiny model learns the word counts: well below predicting the mean
    assert m["test"]["rmse"] < 0.8 * m["baselines"]["mean"]["rmse"]
    assert m["test"]["spearman"] > 0.5
    y = np.array([row["score"] for row in rows(240, 0)])
    meta = json.loads((r.path / "model" / "tunewise.json").read_text())
    assert meta["task"] == "regression"
    assert meta["target_scaling"]["mean"] == pytest.approx(y.mean())
    assert meta["target_scaling"]["std"] == pytest.approx(y.std())
    assert (
        json.loads((r.path / "data.json").read_text())["target_scaling"] == meta["target_scaling"]
    )
    preds = [
        json.loads(x) for x in (r.path / "predictions" / "test.jsonl").read_text().splitlines()
    ]
    assert len(preds) == 60 and all(isinstance(p["prediction"], float) for p in preds)
    # metrics.json's test RMSE is over exactly the rows written, in the data's units
    err = np.array([p["prediction"] - p["gold"] for p in preds])
    assert np.sqrt((err**2).mean()) == pytest.approx(m["test"]["rmse"], rel=1e-4)
    assert "Regression metrics" in (r.path / "report.md").read_text()
    assert m["checks"]["reload_parity"]["ok"] and m["checks"]["collapse"]["ok"]


def test_predictor_and_cli_predict_numbers_in_data_units(reg_run, tmp_path, capsys):
    from tunewise.cli.main import main

    r, data = reg_run
    pred = tunewise.load(r.path)
    good, bad = pred.predict(["great superb lovely film", "awful dull boring plot"])
    assert good["prediction"] > 3 > bad["prediction"]
    inp = tmp_path / "in.csv"
    inp.write_text("score,text\n1,great superb lovely film\n2,awful dull boring plot\n")
    main(["predict", str(r.path), "--input", str(inp), "--output", str(tmp_path / "p.jsonl")])
    out = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [o["prediction"] for o in out] == pytest.approx(
        [good["prediction"], bad["prediction"]], abs=1e-5
    )
    # a file whose text column has another name: --text-column overrides the run's setting
    other = tmp_path / "other.csv"
    other.write_text("review\ngreat superb lovely film\n")
    main(
        [
            "predict",
            str(r.path),
            "-i",
            str(other),
            "--text-column",
            "review",
            "-o",
            str(tmp_path / "q.jsonl"),
        ]
    )
    q = json.loads((tmp_path / "q.jsonl").read_text().splitlines()[0])
    assert q["prediction"] == pytest.approx(good["prediction"], abs=1e-5)
    main(
        ["evaluate", str(r.path), "--data", str(data["test"]), "--output", str(tmp_path / "e.json")]
    )
    ev = json.loads((tmp_path / "e.json").read_text())
    assert ev["rmse"] == pytest.approx(r.metrics["test"]["rmse"], rel=1e-4)


def test_non_numeric_target_names_file_and_line(tiny_model_dir, tmp_path, capsys):
    from tunewise.cli.main import main

    rs = rows(30, 1)
    rs[6]["score"] = "five"
    train = write_jsonl(tmp_path / "train.jsonl", rs)
    with pytest.raises(SystemExit) as e:
        main(
            [
                "train",
                "--task",
                "regression",
                "--model",
                str(tiny_model_dir),
                "--train",
                str(train),
                "--label-column",
                "score",
                "--out",
                str(tmp_path / "run"),
            ]
        )
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert e.value.code == 2 and "Traceback" not in err
    assert f"{train} line 7" in err and "'five'" in err and "not a number" in err


def test_constant_target_is_a_doctor_error(tiny_model_dir, tmp_path):
    rs = rows(40, 2)
    for row in rs:
        row["score"] = 2.0
    cfg = tiny_config(
        tiny_model_dir, {"train": write_jsonl(tmp_path / "t.jsonl", rs)}, tmp_path / "run"
    )
    cfg["task"] = {"type": "regression"}
    cfg["data"]["label_column"] = "score"
    with pytest.raises(UserError, match="regression_targets"):
        tunewise.train(cfg)
    doc = json.loads((tmp_path / "run" / "doctor.json").read_text())
    f = next(x for x in doc["findings"] if x["check"] == "regression_targets")
    assert not f["ok"] and f["severity"] == "error" and "every train target is 2" in f["title"]


def test_options_are_typed_and_huber_is_used(tiny_model_dir, tmp_path):
    from tunewise.run.runner import build_config
    from tunewise.tasks.regression.task import RegressionOptions, RegressionTask

    with pytest.raises(UserError, match="task.options.loss"):
        build_config({"task": {"type": "regression", "options": {"loss": "l1"}}})
    cfg = build_config({"task": {"type": "regression", "options": {"loss": "huber"}}})
    assert cfg.task.options == {"loss": "huber", "huber_delta": 1.0, "standardize": True}
    with pytest.raises(UserError, match="has no options"):
        build_config({"task": {"options": {"loss": "huber"}}})
    logits = torch.tensor([[0.0], [3.0]])
    y = torch.tensor([0.5, 0.0])
    huber = RegressionTask(opts=RegressionOptions(loss="huber")).loss(logits, y)
    mse = RegressionTask().loss(logits, y)
    assert huber.item() == pytest.approx(torch.nn.functional.huber_loss(logits.view(-1), y).item())
    assert mse.item() == pytest.approx(((logits.view(-1) - y) ** 2).mean().item())
    t = RegressionTask(mean=3.0, std=2.0)
    assert t.values(np.array([[0.5], [-1.0]])).tolist() == [4.0, 1.0]
