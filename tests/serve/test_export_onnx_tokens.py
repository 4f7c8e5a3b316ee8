"""ONNX export of a token-classification run: fp32 parity, int8 judged on entity F1 over the
run's own dev sentences, and the export served by /v1/entities."""

from __future__ import annotations

import json

import pytest

import tunewise
from tests.conftest import tiny_config
from tests.serve.conftest import running
from tests.serve.test_export_onnx import int8_weights
from tests.unit.test_tokens_cli import _conll
from tunewise.export import onnx as onnx_export
from tunewise.export.onnx_predictor import OnnxTokenPredictor, onnx_predictor
from tunewise.serve import create_app, load_served


@pytest.fixture(scope="module")
def tagged_run(tiny_model_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("onnx-tokens")
    files = {
        s: str(_conll(tmp / f"{s}.conll", n, i))
        for i, (s, n) in enumerate((("train", 120), ("dev", 40), ("test", 30)))
    }
    cfg = tiny_config(tiny_model_dir, files, tmp / "run", epochs=4)
    cfg |= {"task": {"type": "tokens"}}
    cfg["train"] |= {"lr": 3e-3}
    return tunewise.train(cfg).path


TEXTS = ["the film was great and awful", "good fun , bad plot", ""]


def test_fp32_and_int8_token_exports(tagged_run, tmp_path):
    fp32 = onnx_export.export_onnx(tagged_run, tmp_path / "fp32")
    p = fp32["parity"]
    assert p["ok"] and p["max_logit_diff"] < 1e-3 and p["label_agreement"] == 1.0
    assert "dev.tokens.jsonl" in p["probe"]  # the run's own dev sentences, never test
    torch_out = tunewise.load(tagged_run).predict(TEXTS)
    onnx = onnx_predictor(tmp_path / "fp32")
    assert isinstance(onnx, OnnxTokenPredictor)
    got = onnx.predict(TEXTS)
    assert [[e["text"] for e in r["entities"]] for r in got] == [
        [e["text"] for e in r["entities"]] for r in torch_out
    ]

    int8 = onnx_export.export_onnx(tagged_run, tmp_path / "int8", quantize="int8")
    qual = int8["parity"]["quality"]
    assert qual["metric"] == "entity_micro_f1" and qual["rows"] == 40
    assert qual["delta"] >= -qual["allowed_drop"] and qual["allowed_drop"] >= 0.005
    assert len(qual["delta_ci95"]) == 2 and int8_weights(tmp_path / "int8") > 0
    saved = json.loads((tmp_path / "int8" / "export.json").read_text())
    assert saved["quantization"]["recipe"] == int8["quantization"]["recipe"]

    served = load_served(str(tmp_path / "int8"))
    assert served.kind == "tokens" and served.backend == "onnxruntime-int8"
    with running(create_app([served])) as (client, _):
        status, _, body = client.post("/v1/entities", {"texts": TEXTS})
    assert status == 200, body
    assert body["results"] == onnx_predictor(tmp_path / "int8").predict(TEXTS)


def test_an_entity_f1_drop_beyond_half_a_point_fails(tagged_run):
    import numpy as np

    from tunewise.export.kinds import TokenKind
    from tunewise.export.quantize import QualityBar

    kind = TokenKind(tunewise.load(tagged_run))
    kind.choose_probe(tagged_run, None, 1000)
    ref = kind.outputs(kind.pred)
    bar = QualityBar(kind, ref)
    assert bar.judge(ref)["ok"] and bar.judge(ref)["quality"]["delta"] == 0
    worse = [np.zeros_like(w) for w in ref]  # every word O: no entity found
    for w in worse:
        w[:, 0] = 1.0
    verdict = bar.judge(worse)
    assert not verdict["ok"] and verdict["quality"]["int8"] == 0.0
