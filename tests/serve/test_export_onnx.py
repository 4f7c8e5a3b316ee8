"""ONNX export (fp32 and int8) with its parity check, and serving an export."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import make_rows
from tests.serve.conftest import running
from tunewise.data import Example
from tunewise.errors import UserError
from tunewise.export import onnx as onnx_export
from tunewise.export.onnx_predictor import OnnxPredictor
from tunewise.serve import create_app, load_served
from tunewise.tasks.classification.predictor import Predictor


@pytest.fixture(scope="module")
def exports(tiny_run, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("exports")
    fp32 = onnx_export.export_onnx(tiny_run, tmp / "fp32")
    int8 = onnx_export.export_onnx(tiny_run, tmp / "int8", quantize="int8")
    return tmp, fp32, int8


def test_fp32_export_matches_torch_and_records_parity_and_size(exports, tiny_run):
    tmp, info, _ = exports
    saved = json.loads((tmp / "fp32" / "export.json").read_text())
    assert saved == info
    assert info["format"] == "onnx" and info["precision"] == "fp32"
    p = info["parity"]
    assert p["ok"] and p["label_agreement"] == 1.0 and p["max_logit_diff"] < 1e-3
    assert p["n"] == 40 and "dev.jsonl" in p["probe"]  # dev first: test stays out of the choice
    assert info["size_bytes"] == (tmp / "fp32" / "model.onnx").stat().st_size > 10_000
    texts = [r["text"] for r in make_rows(40, 77)]
    torch_out = Predictor(tiny_run).predict(texts)
    onnx_out = OnnxPredictor(tmp / "fp32").predict(texts)
    assert [r["label"] for r in onnx_out] == [r["label"] for r in torch_out]
    for a, b in zip(onnx_out, torch_out):
        assert a["score"] == pytest.approx(b["score"], abs=1e-5)


def test_int8_export_is_smaller_and_agrees(exports):
    _, fp32, int8 = exports
    assert int8["precision"] == "int8" and int8["size_bytes"] < fp32["size_bytes"]
    assert int8["parity"]["ok"] and int8["parity"]["label_agreement"] >= 0.995
    assert int8["parity"]["max_logit_diff"] > 0  # int8 really changed the weights
    q = int8["quantization"]
    assert (
        q["tried"][0]["recipe"] == "every MatMul int8" and q["recipe"] == q["tried"][-1]["recipe"]
    )


def test_int8_falls_back_to_fewer_int8_layers_then_fails_loudly(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setitem(onnx_export.LIMITS, "int8", {"agreement": 1.01})
    with pytest.raises(onnx_export.ParityError, match="PARITY FAILED .best of 3 int8 recipes"):
        onnx_export.export_onnx(tiny_run, tmp_path / "q", quantize="int8", probe_rows=20)
    # nothing that looks like an export, and no temporary folder left beside it
    assert not (tmp_path / "q").exists() and list(tmp_path.iterdir()) == []


def test_failed_parity_is_loud_and_serve_refuses_it(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setitem(onnx_export.LIMITS, "fp32", {"agreement": 1.0, "max_logit_diff": 0.0})
    with pytest.raises(onnx_export.ParityError, match="PARITY FAILED: largest logit"):
        onnx_export.export_onnx(
            tiny_run, tmp_path / "bad", probe=[Example("good film a b", None, None)] * 3
        )
    assert not (tmp_path / "bad").exists()
    monkeypatch.undo()
    onnx_export.export_onnx(tiny_run, tmp_path / "bad", probe_rows=3)
    saved = json.loads((tmp_path / "bad" / "export.json").read_text())
    saved["parity"]["ok"] = False  # an export whose parity failed (written by hand)
    (tmp_path / "bad" / "export.json").write_text(json.dumps(saved))
    with pytest.raises(UserError, match="FAILED its parity check"):
        load_served(str(tmp_path / "bad"))
    assert load_served(str(tmp_path / "bad"), allow_failed_parity=True).kind == "classification"


def test_export_user_errors(tiny_run, exports):
    tmp, _, _ = exports
    with pytest.raises(UserError, match="choices are int8"):
        onnx_export.export_onnx(tiny_run, tmp / "x", quantize="int4")
    with pytest.raises(UserError, match="already exists"):
        onnx_export.export_onnx(tiny_run, tmp / "fp32")
    with pytest.raises(UserError, match="not a tunewise run"):
        onnx_export.export_onnx(tmp, tmp / "y")


def test_served_onnx_exports_answer_like_torch(exports, tiny_run):
    tmp, _, _ = exports
    models = [load_served(f"torch={tiny_run}"), load_served(f"fp32={tmp / 'fp32'}")]
    models.append(load_served(f"int8={tmp / 'int8'}"))
    assert [m.backend for m in models] == ["torch", "onnxruntime-fp32", "onnxruntime-int8"]
    texts = [r["text"] for r in make_rows(30, 8)]
    with running(create_app(models)) as (client, _):
        answers = {
            m.name: client.post("/v1/classify", {"texts": texts, "model": m.name})[2]["results"]
            for m in models
        }
    labels = {k: [r["label"] for r in v] for k, v in answers.items()}
    assert labels["fp32"] == labels["torch"]
    agree = np.mean([a == b for a, b in zip(labels["int8"], labels["torch"])])
    assert agree >= 0.9
    for a, b in zip(answers["fp32"], answers["torch"]):
        assert a["score"] == pytest.approx(b["score"], abs=1e-5)
