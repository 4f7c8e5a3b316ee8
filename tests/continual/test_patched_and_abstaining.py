"""Continued runs with two features of the plain runner: ``train.first_position_only`` (the last
encoder layer computes [CLS] only; a patch on the module, never in the weights) and
classification ``--abstain`` (out-of-scope rows held out of the label set)."""

from __future__ import annotations

import json
import random

import pytest
import torch

from tests.conftest import FILL, make_rows, write_jsonl
from tests.continual.conftest import make_b, stage_config
from tunewise.rundir import RunDir


def _with_oos(rows: list[dict], n: int, seed: int) -> list[dict]:
    """``rows`` plus ``n`` out-of-scope rows (filler words only, label "oos")."""
    rng = random.Random(seed)
    others = [w for w in FILL if w not in ("story", "cast")]
    oos = [
        {"text": " ".join(rng.choice(others) for _ in range(rng.randint(3, 9))), "label": "oos"}
        for _ in range(n)
    ]
    return rows + oos


def test_fisher_is_the_same_on_a_patched_model(root_run, two_tasks, tiny_model_dir):
    """EWC's Fisher of the parent does not depend on the [CLS]-only patch (same gradients)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from tunewise.continual import ewc
    from tunewise.data.readers import read_examples
    from tunewise.models.head_positions import first_position_only, is_patched
    from tunewise.tasks.classification.task import ClassificationTask

    path = str(RunDir(root_run).model)
    tok = AutoTokenizer.from_pretrained(path)
    rows = read_examples(two_tasks["a"]["train"], require_label=True)[:48]
    task = ClassificationTask(["neg", "pos"])
    enc = task.encode(rows, tok, 32)
    plain = AutoModelForSequenceClassification.from_pretrained(path)
    patched = AutoModelForSequenceClassification.from_pretrained(path)
    assert first_position_only(patched) and is_patched(patched) and not is_patched(plain)
    f_plain = ewc.fisher_diagonal(plain, task, enc, tok.pad_token_id or 0)
    f_patched = ewc.fisher_diagonal(patched, task, enc, tok.pad_token_id or 0)
    assert f_plain.keys() == f_patched.keys()
    big = sum(float(v.sum()) for v in f_plain.values())
    assert big > 0
    for k in f_plain:
        assert torch.allclose(f_plain[k], f_patched[k], rtol=1e-3, atol=1e-9 * big), k


@pytest.fixture(scope="module")
def abstaining(tiny_model_dir, tmp_path_factory):
    """Task A trained with --oos-label oos (out-of-scope rows in dev/test only), continued with
    EWC on task B (whose test has out-of-scope rows too), the [CLS]-only patch on (default)."""
    import tunewise
    from tunewise.config import build_config
    from tunewise.continual import continue_train

    d = tmp_path_factory.mktemp("cl-oos")
    a = {
        "train": write_jsonl(d / "a_train.jsonl", make_rows(160, 1)),
        "dev": write_jsonl(d / "a_dev.jsonl", _with_oos(make_rows(40, 2), 10, 21)),
        "test": write_jsonl(d / "a_test.jsonl", _with_oos(make_rows(60, 3), 15, 22)),
    }
    b = {
        "train": write_jsonl(d / "b_train.jsonl", make_b(160, 4)),
        "dev": write_jsonl(d / "b_dev.jsonl", make_b(40, 5)),
        "test": write_jsonl(d / "b_test.jsonl", _with_oos(make_b(60, 6), 12, 23)),
    }
    cfg = stage_config(tiny_model_dir, a, d / "v1")
    cfg["task"]["oos_label"] = "oos"
    tunewise.train(cfg)
    lines: list[str] = []
    child = continue_train(
        build_config(stage_config(tiny_model_dir, b, d / "v2")), d / "v1", "ewc", echo=lines.append
    )
    return {"root": d / "v1", "child": child.path, "lines": lines}


def test_continued_ewc_run_is_patched_and_reloads_exactly(abstaining):
    lines = abstaining["lines"]
    assert any("[CLS] position only" in line for line in lines)
    assert any(line.startswith("ewc: Fisher") for line in lines)
    m = json.loads(RunDir(abstaining["child"]).metrics.read_text())
    assert m["checks"]["reload_parity"]["ok"] and m["checks"]["eval_mode"]["ok"]
    # the patch never reaches the weights: the saved model has the parent's keys and shapes
    from safetensors.torch import load_file

    parent = load_file(str(RunDir(abstaining["root"]).model / "model.safetensors"))
    child = load_file(str(RunDir(abstaining["child"]).model / "model.safetensors"))
    assert parent.keys() == child.keys()


def test_abstention_is_inherited_and_out_of_scope_rows_leave_the_accuracies(abstaining):
    import tunewise
    from tunewise.continual import forgetting

    child = abstaining["child"]
    assert any("abstention inherited" in line for line in abstaining["lines"])
    meta = json.loads((RunDir(child).model / "tunewise.json").read_text())
    assert meta["labels"] == ["neg", "pos", "people", "plot"]  # "oos" is no class
    assert meta["abstain"]["oos_label"] == "oos"
    assert "abstain" in json.loads(RunDir(child).metrics.read_text())
    stage = json.loads((child / "continual" / "stage.json").read_text())
    # 60 in-scope rows per test set; the 15 and 12 out-of-scope rows are not scored
    assert [c["n"] for c in stage["row"]] == [60, 60]
    assert [e.get("held_out_label") for e in stage["lineage"]] == ["oos", "oos"]
    assert stage["parent_row"][0]["n"] == 60
    f = forgetting(child, n_boot=20)
    assert f["tests"] == ["a", "b"] and len(f["matrix"]) == 2
    answer = tunewise.load(child).predict(["good warm fun", "story of the night"])
    assert all("abstained" in r for r in answer)


def test_no_abstain_turns_inheritance_off(abstaining, tiny_model_dir, tmp_path):
    from tunewise.config import build_config
    from tunewise.continual import Continuation

    files = {"train": "b.jsonl", "test": "b_test.jsonl"}
    for keep, want in ((None, True), (False, False)):
        cfg = stage_config(tiny_model_dir, files, tmp_path / "v")
        if keep is not None:
            cfg["task"]["abstain"] = keep
        cfg = build_config(cfg)
        Continuation(abstaining["root"], "naive").configure(cfg)
        assert cfg.task.abstain is want
        assert cfg.task.oos_label == ("oos" if want else None)
