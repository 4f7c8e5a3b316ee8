"""A token run on the tiny model through the CLI: train --task tokens, the run directory,
predict (character spans), evaluate, resume, and one-line errors."""

import json
import random

import pytest

from tests.conftest import FILL, NEG, POS
from tunewise.cli.main import main


def _conll(path, n, seed):
    """Sentences where POS words are GOOD entities and NEG words BAD ones (learnable)."""
    rng = random.Random(seed)
    blocks = []
    for _ in range(n):
        chunks = [[(w, "O")] for w in rng.sample(FILL, rng.randint(2, 6))]
        for typ, pool in (("GOOD", POS), ("BAD", NEG)):
            if rng.random() < 0.7:
                ent = rng.sample(pool, rng.randint(1, 2))
                chunks.append([(w, f"{'B' if j == 0 else 'I'}-{typ}") for j, w in enumerate(ent)])
        rng.shuffle(chunks)
        words = [x for c in chunks for x in c]
        blocks.append("".join(f"{w} X {t}\n" for w, t in words))
    path.write_text("-DOCSTART- -X- O\n\n" + "\n".join(blocks), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def token_run(tiny_model_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tokens-cli")
    files = {
        s: _conll(tmp / f"{s}.conll", n, i)
        for i, (s, n) in enumerate((("train", 200), ("dev", 40), ("test", 40)))
    }
    args = ["train", "--task", "tokens", "--model", str(tiny_model_dir)]
    args += [x for s, p in files.items() for x in (f"--{s}", str(p))]
    args += ["--epochs", "6", "--batch-size", "16", "--lr", "3e-3", "--max-length", "32"]
    args += ["--no-bf16", "--out", str(tmp / "run"), "train.threads=1"]
    main(args)
    return tmp / "run", files, tmp


def test_run_directory_of_a_token_run(token_run, capsys):
    run, _, _ = token_run
    m = json.loads((run / "metrics.json").read_text())
    assert m["task"] == "tokens" and m["metric_for_best"] == "micro_f1"
    assert m["test"]["micro_f1"] > 0.3, m["test"]
    assert m["test"]["micro_f1"] > m["baselines"]["all_o"]["micro_f1"]
    assert set(m["test"]["per_type"]) == {"GOOD", "BAD"}
    assert {"micro_precision", "macro_f1", "token_accuracy", "ci"} <= set(m["test"])
    assert m["checks"]["reload_parity"]["ok"] and m["checks"]["eval_mode"]["ok"]
    labels = json.loads((run / "labels.json").read_text())
    assert labels["labels"] == ["O", "B-BAD", "I-BAD", "B-GOOD", "I-GOOD"]
    rows = [json.loads(x) for x in (run / "predictions" / "test.jsonl").read_text().splitlines()]
    assert len(rows) == 40 and rows[0]["where"].endswith("line 3")
    for r in rows:
        assert len(r["gold"]) == len(r["pred"]) == len(r["text"].split())
        for e in r["entities"]:
            assert r["text"][e["start"] : e["end"]] == e["text"]
    doctor = json.loads((run / "doctor.json").read_text())
    assert "tag_scheme" in [f["check"] for f in doctor["findings"]]
    log = [json.loads(x) for x in (run / "train_log.jsonl").read_text().splitlines()]
    assert any(r.get("type") == "eval" and "micro_f1" in r for r in log)
    assert "entity F1" in (run / "report.md").read_text()


def test_predict_cli_gives_spans_and_evaluate_matches(token_run, tmp_path, capsys):
    run, files, _ = token_run
    txt = tmp_path / "in.txt"
    txt.write_text("the film was great and boring\nno entity here\n")
    out = tmp_path / "p.jsonl"
    main(["predict", str(run), "--input", str(txt), "--output", str(out)])
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 2 and rows[0]["text"] == "the film was great and boring"
    found = {(e["type"], e["text"]) for e in rows[0]["entities"]}
    assert ("GOOD", "great") in found and ("BAD", "boring") in found
    for r in rows:
        for e in r["entities"]:
            assert r["text"][e["start"] : e["end"]] == e["text"] and 0 < e["score"] <= 1
    main(["evaluate", str(run), "--data", str(files["test"])])
    saved = json.loads((run / "evaluations" / "test.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert saved["micro_f1"] == pytest.approx(metrics["test"]["micro_f1"])
    assert "entity F1" in capsys.readouterr().out


def test_invalid_tags_stop_the_run_with_file_and_line(tiny_model_dir, tmp_path, capsys):
    bad = tmp_path / "bad.conll"
    bad.write_text("good B-GOOD\nfilm O\nbad I-BAD\n\nthe O\ngreat B-GOOD\n")
    for extra in ([], ["--no-doctor"]):
        with pytest.raises(SystemExit) as e:
            main(
                [
                    "train",
                    "--task",
                    "tokens",
                    "--model",
                    str(tiny_model_dir),
                    "--train",
                    str(bad),
                    "--out",
                    str(tmp_path / f"r{len(extra)}"),
                    "--tag-scheme",
                    "BIO",
                    *extra,
                ]
            )
        err = capsys.readouterr().err.strip().splitlines()
        assert e.value.code == 2 and err[-1].startswith("error: ")
        assert "tag_scheme" in err[-1]
        if extra:
            assert f"{bad} line 3: tag 'I-BAD' follows O" in err[-1]


def test_tokens_config_rejects_classification_settings():
    from tunewise.errors import UserError
    from tunewise.run.runner import build_config

    with pytest.raises(UserError, match="multi_label is for classification"):
        build_config({"task": {"type": "tokens", "multi_label": True}})


def test_interrupted_token_run_resumes_to_identical_weights(tiny_model_dir, tmp_path):
    import numpy as np
    from safetensors.numpy import load_file

    import tunewise
    from tunewise.rundir import RunDir

    files = {
        s: _conll(tmp_path / f"{s}.conll", n, i)
        for i, (s, n) in enumerate((("train", 96), ("dev", 24), ("test", 24)))
    }

    def cfg(out):
        return {
            "task": {"type": "tokens"},
            "model": {"name": str(tiny_model_dir), "max_length": 32},
            "data": {k: str(v) for k, v in files.items()},
            "train": {
                "epochs": 2,
                "batch_size": 16,
                "lr": 3e-3,
                "bf16": False,
                "threads": 1,
                "checkpoint_every": 3,
                "seed": 3,
            },
            "out": str(out),
        }

    def stop_at_step_8(line):
        if line.startswith("step 8/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tunewise.train(cfg(tmp_path / "cut"), echo=stop_at_step_8)
    assert RunDir(tmp_path / "cut").status() == "interrupted"
    resumed = tunewise.train(resume=tmp_path / "cut")
    straight = tunewise.train(cfg(tmp_path / "straight"))
    wa = load_file(str(resumed.path / "model" / "model.safetensors"))
    wb = load_file(str(straight.path / "model" / "model.safetensors"))
    for k in wa:
        np.testing.assert_allclose(wa[k], wb[k], rtol=0, atol=1e-6)
    assert resumed.metrics["test"]["micro_f1"] == straight.metrics["test"]["micro_f1"]


@pytest.mark.parametrize("method", [{"name": "lora", "lora": {"r": 4}}, {"name": "prompt"}])
def test_peft_methods_run_unchanged_on_tokens(tiny_model_dir, tmp_path, method):
    import tunewise

    files = {
        s: _conll(tmp_path / f"{s}.conll", n, i)
        for i, (s, n) in enumerate((("train", 64), ("dev", 16), ("test", 16)))
    }
    result = tunewise.train(
        {
            "task": {"type": "tokens"},
            "method": method,
            "model": {"name": str(tiny_model_dir), "max_length": 32},
            "data": {k: str(v) for k, v in files.items()},
            "train": {"epochs": 1, "batch_size": 16, "bf16": False, "threads": 1},
            "out": str(tmp_path / "run"),
        }
    )
    m = result.metrics
    assert m["method"]["name"] == method["name"] and m["method"]["percent"] < 50
    assert m["checks"]["reload_parity"]["ok"], m["checks"]["reload_parity"]
    assert not (result.path / "model" / "model.safetensors").exists()  # adapter + head only
    pred = tunewise.load(result.path)
    text = "the film was great"
    (row,) = pred.predict([text])
    for e in row["entities"]:
        assert text[e["start"] : e["end"]] == e["text"]
    # what predict loads scores the test split as training did
    exs = [
        json.loads(x) for x in (result.path / "predictions" / "test.jsonl").read_text().splitlines()
    ]
    assert pred.evaluate_file(files["test"])["test"]["micro_f1"] == pytest.approx(
        m["test"]["micro_f1"]
    )
    assert len(exs) == 16


def test_token_runs_default_to_a_higher_lr_for_full_fine_tuning(tiny_model_dir, tmp_path):
    import yaml

    from tunewise.models.registry import recommended_lr
    from tunewise.tasks.tokens.task import LR_FACTOR as TOKENS_LR_FACTOR

    train = _conll(tmp_path / "train.conll", 40, 7)
    args = ["train", "--task", "tokens", "--model", str(tiny_model_dir), "--train", str(train)]
    args += ["--max-steps", "1", "--no-bf16", "--no-doctor", "--out", str(tmp_path / "run")]
    main(args + ["train.threads=1"])
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["train"]["lr"] == pytest.approx(
        recommended_lr(str(tiny_model_dir)) * TOKENS_LR_FACTOR
    )
    assert saved["train"]["batch_size"] == 16
