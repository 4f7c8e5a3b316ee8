"""--method icl on a tiny in-process Llama: label words scored by log-likelihood (the cached
prefix gives the same scores as whole sequences), contextual calibration, the prompt saved,
zero-shot and K-shot draws with the same metrics and intervals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import tunewise
from tests.conftest import write_jsonl
from tests.fewshot.test_setfit import short_rows
from tunewise.data import Example
from tunewise.fewshot.icl import Scorer, contextual_calibration, normalise, order_demos


@pytest.fixture(scope="module")
def tiny_llama(tiny_model_dir, tmp_path_factory):
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    d = tmp_path_factory.mktemp("tiny-llama")
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.save_pretrained(d)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(d)
    return d


def _full_logp(model, tok, text: str, word: str) -> float:
    a = tok(text, add_special_tokens=False)["input_ids"]
    b = tok(word, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=torch.tensor([a + b])).logits[0].float(), -1)
    return float(sum(logp[len(a) - 1 + j, t] for j, t in enumerate(b)))


@pytest.mark.parametrize("words", [["good", "bad"], ["lovely day", "awful plot"]])
def test_cached_prefix_scores_equal_whole_sequences(tiny_llama, words):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_llama).eval()
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    prefix = "text: the film was fun\nanswer: good\n\n"
    s = Scorer(model, tok, prefix, "text: {text}\nanswer: ", words)
    got = s.scores("a dull movie")
    want = [_full_logp(model, tok, prefix + "text: a dull movie\nanswer:", " " + w) for w in words]
    assert np.allclose(got, want, atol=1e-4)


def test_contextual_calibration_removes_the_prompts_bias():
    raw = np.array([[0.7, 0.3], [0.9, 0.1]])
    cf = np.array([0.8, 0.2])  # the prompt alone favours class 0
    cal = contextual_calibration(raw, cf)
    assert cal[0].argmax() == 1 and cal[1].argmax() == 0
    assert np.allclose(cal.sum(1), 1) and np.allclose(normalise(np.log(raw)), raw)


def test_demonstrations_interleave_classes():
    exs = [Example(f"a{i}", "a") for i in range(3)] + [Example(f"b{i}", "b") for i in range(3)]
    labels = [e.label for e in order_demos(exs, 0)]
    assert labels == ["a", "b"] * 3


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("icl")
    return {
        "train": write_jsonl(tmp / "train.jsonl", short_rows(60, 1)),
        "test": write_jsonl(tmp / "test.jsonl", short_rows(30, 3)),
    }


def _cfg(tiny_llama, files, out, **method):
    return {
        "model": {"name": str(tiny_llama)},
        "data": {k: str(v) for k, v in files.items()},
        "method": {"name": "icl", "icl": {"label_words": {"pos": "good", "neg": "bad"}, **method}},
        "train": {"seed": 3},
        "out": str(out),
    }


def test_zero_shot_run_saves_prompt_and_metrics(tiny_llama, files, tmp_path):
    r = tunewise.train(_cfg(tiny_llama, files, tmp_path / "zs"))
    m = json.loads((r.path / "metrics.json").read_text())
    assert m["icl"]["demonstrations"] == 0 and "ci" in m["test"] and m["test"]["n"] == 30
    p = json.loads((r.path / "prompt.json").read_text())
    assert p["template"] == "Text: {text}\nAnswer: {label}" and p["demonstrations"] == []
    assert p["label_words"] == {"neg": "bad", "pos": "good"}
    rows = (r.path / "predictions" / "test.jsonl").read_text().splitlines()
    assert len(rows) == 30
    cal = m["icl"]["calibration"]
    assert cal["on"] and cal["accuracy_calibrated"] == m["test"]["accuracy"]


def test_k_shot_draws_use_each_draws_demonstrations(tiny_llama, files, tmp_path):
    cfg = _cfg(tiny_llama, files, tmp_path / "ks", calibrate=False)
    cfg["fewshot"] = {"shots": 2, "draws": 2}
    r = tunewise.train(cfg)
    m = json.loads((r.path / "metrics.json").read_text())
    assert m["draws"]["n"] == 2 and "test" in m["draws"]["summary"]
    demos = []
    for i in (1, 2):
        p = json.loads((r.path / f"draw-{i}" / "prompt.json").read_text())
        assert len(p["demonstrations"]) == 4
        shots = (r.path / "shots" / f"draw-{i}" / "train.jsonl").read_text().splitlines()
        drawn = sorted(json.loads(line)["text"] for line in shots)
        assert sorted(d["text"] for d in p["demonstrations"]) == drawn
        demos.append(p["prefix"])
        dm = json.loads((r.path / f"draw-{i}" / "metrics.json").read_text())
        assert dm["icl"]["calibration"]["on"] is False
        assert dm["test"]["accuracy"] == dm["icl"]["calibration"]["accuracy_raw"]
    assert demos[0] != demos[1]


def test_curve_runs_icl_cells_with_their_own_decoder(tiny_model_dir, tiny_llama, files, tmp_path):
    """A curve's icl cells use --icl-model with the draw's shots as demonstrations, the other
    methods the curve's model; icl skips the budget 'all'."""
    from tunewise.config import build_config
    from tunewise.fewshot.curve import run_curve

    cfg = build_config(
        {},
        {
            "model.name": str(tiny_model_dir),
            "data.train": str(files["train"]),
            "data.test": str(files["test"]),
        },
        [],
    )
    lines: list[str] = []
    opts = {"icl": {"label_words": {"pos": "good", "neg": "bad"}}}
    rec = run_curve(
        cfg,
        [2, "all"],
        ["tfidf", "icl"],
        1,
        tmp_path / "c",
        echo=lines.append,
        method_options=opts,
        icl_model=str(tiny_llama),
    )
    assert [p["budget"] for p in rec["points"]["icl"]] == [2]
    assert [p["budget"] for p in rec["points"]["tfidf"]] == [2, "all"]
    cell = tmp_path / "c" / "runs" / "icl" / "k2" / "draw-1"
    prompt = json.loads((cell / "prompt.json").read_text())
    shots = (tmp_path / "c" / "shots" / "k2" / "draw-1" / "train.jsonl").read_text().splitlines()
    assert sorted(d["text"] for d in prompt["demonstrations"]) == sorted(
        json.loads(line)["text"] for line in shots
    )
    import yaml

    saved = yaml.safe_load((cell / "config.yaml").read_text())
    assert saved["model"]["name"] == str(tiny_llama)
    assert any("skips the budget 'all'" in line for line in lines)


def test_cli_icl_run_prints_figures_and_no_predict_hint(tiny_llama, files, tmp_path, capsys):
    from tunewise.cli.main import main

    main(
        [
            "train",
            "--model",
            str(tiny_llama),
            "--method",
            "icl",
            "--train",
            str(files["train"]),
            "--test",
            str(files["test"]),
            "--out",
            str(tmp_path / "r"),
            "method.icl.label_words.pos=good",
            "method.icl.label_words.neg=bad",
        ]
    )
    out = capsys.readouterr().out
    assert "test accuracy" in out or "test: accuracy" in out
    assert "icl trains no model" in out and "tunewise predict" not in out
    assert (tmp_path / "r" / "prompt.txt").is_file()
