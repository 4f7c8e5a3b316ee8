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


def int8_weights(folder) -> int:
    """Weights stored as int8 in an export's model.onnx (dynamic and static QDQ alike; on a
    tiny model the QDQ nodes can outweigh what int8 weights save, so size proves nothing)."""
    import onnx

    g = onnx.load(str(folder / "model.onnx")).graph
    return sum(w.data_type == onnx.TensorProto.INT8 and len(w.dims) == 2 for w in g.initializer)


def test_int8_export_keeps_quality(exports):
    tmp, fp32, int8 = exports
    assert int8["precision"] == "int8" and int8_weights(tmp / "int8") > 0
    p, q = int8["parity"], int8["quantization"]
    assert p["ok"] and p["max_logit_diff"] > 0  # int8 really changed the weights
    # judged on the model's quality on the run's dev rows, with the interval and agreement
    qual = p["quality"]
    assert qual["metric"] == "accuracy" and qual["rows"] == 40
    assert qual["delta"] >= -qual["allowed_drop"] and len(qual["delta_ci95"]) == 2
    assert 0 < p["label_agreement"] <= 1
    # both families tried with every MatMul int8; the fastest that passed was kept
    assert [t["recipe"] for t in q["tried"][:2]] == [
        "dynamic int8, every MatMul",
        "static int8, every MatMul",
    ]
    passed = [t for t in q["tried"] if t["ok"]]
    assert q["recipe"] == max(passed, key=lambda t: t["texts_per_s"])["recipe"]
    assert set(q["cpu"]) >= {"avx512_vnni", "amx_int8"}


def test_quality_bar_allows_flips_that_keep_accuracy_and_refuses_a_drop(tiny_run):
    from tunewise.export.kinds import ClassifierKind
    from tunewise.export.quantize import QualityBar

    pred = Predictor(tiny_run)
    kind = ClassifierKind(pred)
    probe = [Example(f"text {i}", pred.labels[i % 2], None) for i in range(1000)]
    kind.choose_probe(tiny_run, probe, 1000)
    y = np.array([i % 2 for i in range(1000)])
    ref = np.eye(2)[y].astype(np.float32)
    ref[:100] = ref[:100, ::-1]  # fp32 gets 900 of 1000 right
    bar = QualityBar(kind, ref)
    flips = ref.copy()
    flips[:10] = flips[:10, ::-1]  # 10 wrong become right ...
    flips[500:510] = flips[500:510, ::-1]  # ... and 10 right become wrong: 98% agreement
    ok = bar.judge(flips)
    assert ok["ok"] and ok["label_agreement"] == 0.98 and ok["quality"]["delta"] == 0
    drop = ref.copy()
    drop[500:505] = drop[500:505, ::-1]  # 5 right become wrong: 0.5 points lower
    bad = bar.judge(drop)
    assert not bad["ok"] and bad["quality"]["delta"] == pytest.approx(-0.005)
    assert "bar: at most 0.30 points lower" in bad["message"]
    kind.choose_probe(tiny_run, [Example(e.text, None, None) for e in probe], 1000)
    unlabeled = QualityBar(kind, ref)
    assert not unlabeled.judge(flips)["ok"]  # without labels only agreement is left: 98%


def test_choose_keeps_the_fastest_recipe_that_passes_after_sensitivity(tiny_run, tmp_path):
    import onnx

    from tunewise.export import quantize as q
    from tunewise.export.kinds import ClassifierKind

    fp32 = tmp_path / "fp32"
    onnx_export.export_onnx(tiny_run, fp32)
    groups = q.matmul_groups(fp32 / "model.onnx")
    assert {"layer.0/attention", "layer.0/ffn-up", "layer.0/ffn-down"} <= set(groups)

    def fp32_matmuls(d):  # MatMuls multiplying by an fp32 weight (not int8, not dequantized)
        g = onnx.load(str(d / "model.onnx")).graph
        weights = {w.name for w in g.initializer}
        return sum(n.op_type == "MatMul" and n.input[1] in weights for n in g.node)

    def judge(d):  # passes only with some MatMuls left in fp32
        return {"ok": fp32_matmuls(d) > 0, "label_agreement": 1.0, "message": "", "quality": {}}

    probe = [Example(r["text"], None, None) for r in make_rows(16, 3)]
    kind = ClassifierKind(Predictor(tiny_run))
    kind.choose_probe(tiny_run, probe, 16)
    feeds = q.calibration_feeds(kind.feeds())
    assert all(f["input_ids"].shape[1] == 64 for f in feeds)  # one length for the calibrator
    recipe, tried, folder = q.choose(
        fp32,
        tmp_path / "work",
        judge=judge,
        speed=lambda d: 100.0 if "static" in open(d / "recipe.txt").read() else 50.0,
        logits=lambda d: OnnxPredictor(d).logits(probe),
        calibration=feeds,
        on_build=lambda r, d: (d / "recipe.txt").write_text(r.family),
    )
    assert [t["ok"] for t in tried[:2]] == [False, False]  # every MatMul int8 fails here
    assert recipe.family == "static" and len(recipe.fp32_groups) == 1  # the faster one
    assert fp32_matmuls(folder) > 0


def test_int8_with_no_recipe_keeping_quality_fails_loudly(tiny_run, tmp_path, monkeypatch):
    from tunewise.export import quantize as q

    def never(self, logits):
        return {"ok": False, "label_agreement": 0.5, "delta": -0.1, "message": "worse"}

    monkeypatch.setattr(q.QualityBar, "judge", never)
    with pytest.raises(onnx_export.ParityError, match=r"PARITY FAILED .best of \d+ int8 recipes"):
        onnx_export.export_onnx(tiny_run, tmp_path / "q", quantize="int8", probe_rows=20)
    # nothing that looks like an export, and no temporary folder left beside it
    assert not (tmp_path / "q").exists() and list(tmp_path.iterdir()) == []


def test_failed_parity_is_loud_and_serve_refuses_it(tiny_run, tmp_path, monkeypatch):
    # an exported graph whose logits are off by 0.01 (ten times the fp32 limit); the
    # failure must not depend on whether this CPU's kernels match torch bit for bit
    real = OnnxPredictor.logits
    monkeypatch.setattr(OnnxPredictor, "logits", lambda self, ex: real(self, ex) + 0.01)
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
