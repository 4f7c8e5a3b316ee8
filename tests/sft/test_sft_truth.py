"""sft runs get the whole truth through the one runner: the doctor (with its sft checks) before
training, a split grouped by prompt, generation metrics over the whole test split (or a seeded
sample) with intervals, a report, tracking, and `predict`."""

from __future__ import annotations

import json

import pytest

import tunewise
from tests.sft.conftest import sft_config, write_rows
from tunewise.errors import UserError

REPLY = "It is fine."


def _rows(prefix, n):
    return [{"instruction": f"Tell me about {prefix} {k}", "output": REPLY} for k in range(n)]


@pytest.fixture(scope="module")
def run(tiny_llama_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("sft-truth")
    rows = _rows("train", 40)
    # the same prompt three times: copies must stay on one side of the split
    rows += [{"instruction": "Tell me about the twin", "output": REPLY}] * 3
    data = {"train": write_rows(d / "train.jsonl", rows)}
    cfg = sft_config(tiny_llama_dir, data, d / "run", epochs=12)
    cfg["doctor"] = {"enabled": True, "allow": []}
    cfg["data"]["split"] = {"dev": 0.15, "test": 0.15, "seed": 1}
    cfg["sft"]["eval_max_new_tokens"] = 12
    cfg["track"] = {"backends": ["tensorboard"]}
    return tunewise.train(cfg)


def test_doctor_report_and_tracking(run):
    doc = json.loads((run.path / "doctor.json").read_text())
    checks = {f["check"]: f for f in doc["findings"]}
    for name in ("duplicates", "cross_split_overlap", "empty_answers", "sft_length", "end_of_turn"):
        assert name in checks
    assert checks["end_of_turn"]["ok"] and checks["sft_length"]["ok"]
    assert not checks["duplicates"]["ok"]  # the twin prompt
    assert checks["cross_split_overlap"]["ok"]  # the split kept the twins in one split
    html = (run.path / "report.html").read_text()
    assert "Next-token loss" in html and "Generation" in html
    assert list((run.path / "tensorboard").rglob("events.out.tfevents*"))
    assert json.loads((run.path / "run.json").read_text())["status"] == "completed"


def test_grouped_split_and_test_generation_with_intervals(run):
    m = run.metrics
    data = json.loads((run.path / "data.json").read_text())
    assert data["split"]["from"] == "train" and "grouped_by" in data["split"]
    g = m["test"]["generation"]
    assert g["rows"] == g["of"] == data["rows"]["test"] and g["sample"] is False
    assert set(g["ci"]) >= {"exact_match", "rouge_l", "stopped"}
    lo, hi = g["ci"]["rouge_l"]
    assert lo <= g["rouge_l"] <= hi
    answers = [
        json.loads(x) for x in (run.path / "predictions" / "test.jsonl").read_text().splitlines()
    ]
    assert len(answers) == g["rows"]
    assert m["test"]["loss"] > 0 and "perplexity" in m["test"]
    assert m["checks"]["reload_parity"]["ok"], m["checks"]["reload_parity"]


def test_test_generation_on_a_seeded_sample(tiny_llama_dir, tmp_path):
    from tunewise.tasks.sft.data import ChatExample
    from tunewise.tasks.sft.evaluate import _test_sample

    exs = [
        ChatExample([{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}])
        for i in range(20)
    ]
    a, how = _test_sample(exs, 5, seed=3)
    b, _ = _test_sample(exs, 5, seed=3)
    assert [x.messages for x in a] == [x.messages for x in b] and len(a) == 5
    assert how == {"rows": 5, "of": 20, "sample": True, "seed": 3}


def test_predict_answers_every_row(run, tmp_path):
    from tunewise.cli.main import main

    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"instruction": "Tell me about train 3"}\n{"instruction": "Say hi."}\n')
    main(["predict", str(run.path), "--input", str(prompts), "--output", str(tmp_path / "o.jsonl")])
    out = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert len(out) == 2 and all(isinstance(o["answer"], str) for o in out)
    assert out[0]["answer"] == tunewise.load(run.path).generate(
        "Tell me about train 3", max_new_tokens=256
    )


def test_doctor_catches_empty_answers_and_cut_answers(tiny_llama_dir, tmp_path):
    rows = _rows("x", 30)
    rows[4]["output"] = "   "
    cfg = sft_config(
        tiny_llama_dir, {"train": write_rows(tmp_path / "t.jsonl", rows)}, tmp_path / "r"
    )
    cfg["doctor"] = {"enabled": True}
    # the reader refuses it first, naming file and line ...
    with pytest.raises(UserError, match=r"t.jsonl line 5: field 'output' is empty"):
        tunewise.train(cfg)
    # ... and the doctor's check catches examples that did not come through a reader
    from tunewise.doctor import run_doctor
    from tunewise.tasks import get_task
    from tunewise.tasks.sft.data import ChatExample

    sft = get_task("sft")
    exs = [
        ChatExample(
            [{"role": "user", "content": "q"}, {"role": "assistant", "content": a}],
            None,
            f"row {i}",
        )
        for i, a in enumerate(["fine", " ", "ok"])
    ]
    report = run_doctor({"train": sft.doctor_view(exs)}, checks=["empty_answers"])
    f = report["empty_answers"]
    assert not f.ok and f.details["train"]["rows"] == 1 and report.errors
    # answers longer than max_length lose their end-of-turn: the length check says so
    long_rows = [{"instruction": f"q {k}", "output": "word " * 60} for k in range(30)]
    cfg = sft_config(
        tiny_llama_dir, {"train": write_rows(tmp_path / "l.jsonl", long_rows)}, tmp_path / "l"
    )
    cfg["doctor"] = {"enabled": True}
    cfg["model"]["max_length"] = 64
    cfg["train"]["max_steps"] = 1
    r = tunewise.train(cfg)
    doc = json.loads((r.path / "doctor.json").read_text())
    f = next(x for x in doc["findings"] if x["check"] == "sft_length")
    assert not f["ok"] and f["details"]["train"]["answers_cut"] > 0


def test_seeds_work_for_sft_as_for_every_task(tiny_llama_dir, tmp_path):
    """`--seeds K` is the runner's: K seed runs, the summary over them, the model chosen on dev
    loss (lower is better)."""
    data = {"train": write_rows(tmp_path / "t.jsonl", _rows("s", 24))}
    cfg = sft_config(tiny_llama_dir, data, tmp_path / "seeds", epochs=2)
    cfg["train"]["seeds"] = 2
    cfg["data"]["split"] = {"dev": 0.2, "test": 0.2}
    cfg["sft"]["eval_samples"] = 0
    r = tunewise.train(cfg)
    seeds = r.metrics["seeds"]
    assert seeds["values"] == [3, 4] and not seeds["single_seed"]
    assert {"loss", "perplexity"} <= set(seeds["summary"]["test"])
    runs = {s: json.loads((r.path / s / "metrics.json").read_text()) for s in seeds["runs"]}
    best = min(runs, key=lambda s: runs[s]["dev"]["loss"])
    assert seeds["selected"] == best
    assert (r.path / "model" / "model.safetensors").is_file() and (r.path / "report.html").is_file()
