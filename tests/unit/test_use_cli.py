"""Using a finished run from the CLI: evaluate and predict; and defaults resolved at train time."""

import json

import numpy as np
import pytest
import torch
import yaml

import tunewise
from tests.conftest import tiny_config
from tunewise.cli.main import main


@pytest.fixture(scope="module")
def run(tiny_model_dir, tmp_path_factory):
    from tests.conftest import make_rows, write_jsonl

    tmp = tmp_path_factory.mktemp("use")
    data = {
        s: write_jsonl(tmp / f"{s}.jsonl", make_rows(n, i))
        for i, (s, n) in enumerate((("train", 160), ("dev", 40), ("test", 40)))
    }
    cfg = tiny_config(tiny_model_dir, data, tmp / "run") | {"task": {"calibrate": True}}
    return tunewise.train(cfg), data, tmp


def test_evaluate_cli_matches_training_metrics_and_writes_file(run, capsys):
    result, data, tmp = run
    main(["evaluate", str(result.path), "--data", str(data["test"])])
    saved = json.loads((result.path / "evaluations" / "test.json").read_text())
    assert saved["n"] == 40
    assert saved["accuracy"] == pytest.approx(result.metrics["test"]["accuracy"])
    assert "metrics written to" in capsys.readouterr().out


def test_evaluate_cli_unknown_label_is_one_line(run, tmp_path, capsys):
    result, _, _ = run
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "good film", "label": "meh"}\n')
    with pytest.raises(SystemExit) as e:
        main(["evaluate", str(result.path), "--data", str(bad)])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and str(bad) in err[0] and "'meh'" in err[0]


def test_predict_cli_txt_and_jsonl_in_input_order(run, tmp_path):
    result, _, _ = run
    txt = tmp_path / "in.txt"
    txt.write_text("the film was good good\n\nthe film was awful awful\n")
    out = tmp_path / "preds.jsonl"
    main(["predict", str(result.path), "--input", str(txt), "--output", str(out)])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in rows] == ["the film was good good", "the film was awful awful"]
    assert [r["label"] for r in rows] == ["pos", "neg"]
    assert all(abs(sum(r["scores"].values()) - 1) < 1e-4 for r in rows)


def test_predict_applies_the_dev_temperature(run):
    result, _, _ = run
    pred = tunewise.load(result.path)
    t = result.metrics["calibration"]["temperature"]
    assert pred.temperature == pytest.approx(t) and t != 1.0
    logits = pred.logits([tunewise_example("the film was good")])
    expect = torch.softmax(torch.tensor(logits / t), dim=1).numpy()[0]
    got = pred.predict(["the film was good"])[0]["scores"]
    np.testing.assert_allclose([got["neg"], got["pos"]], expect, atol=1e-5)


def tunewise_example(text):
    from tunewise.data import Example

    return Example(text, None)


def test_recommended_lr_resolved_and_saved(run):
    result, _, _ = run
    saved = yaml.safe_load((result.path / "config.yaml").read_text())
    assert saved["train"]["lr"] == 2e-3  # explicit value kept
    from tunewise.models.registry import DEFAULT_LR, recommended_lr

    assert recommended_lr("minilm") == 1e-4 and recommended_lr("/some/dir") == DEFAULT_LR


def test_a_model_a_run_wrote_gets_its_base_models_rate(run, tmp_path):
    """train --model runs/dapt/model after `tunewise pretrain` on minilm: minilm's rate."""
    from tunewise.models.registry import DEFAULT_LR, recommended_lr

    result, _, _ = run
    own = json.loads((result.path / "model" / "tunewise.json").read_text())["base_model"]
    assert recommended_lr(str(result.path / "model")) == recommended_lr(own)
    (tmp_path / "tunewise.json").write_text(json.dumps({"base_model": "minilm"}))
    assert recommended_lr(str(tmp_path)) == 1e-4
    (tmp_path / "tunewise.json").write_text("{not json")
    assert recommended_lr(str(tmp_path)) == DEFAULT_LR


def test_bf16_auto_is_the_default_and_checks_the_device():
    from tunewise.config import build_config
    from tunewise.training.loop import bf16_is_fast

    assert build_config({}).train.bf16 == "auto"
    assert isinstance(bf16_is_fast(torch.device("cpu")), bool)
    assert bf16_is_fast(torch.device("meta")) is False
