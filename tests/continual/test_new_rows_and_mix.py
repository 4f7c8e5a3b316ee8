"""The new head rows start where the new task can learn (their bias at the new classes' share
of the training rows), and the replay memory is mixed into every epoch (repeated), not
appended once."""

from __future__ import annotations

import json

import pytest
import torch

from tunewise.continual.memory import check_mix, mixed
from tunewise.errors import UserError


def test_memory_repeated_to_its_share_of_the_rows():
    own, mem = list(range(900)), ["m"] * 18
    rep, times = mixed(own, mem, 0.25)
    assert times == 17 and len(rep) == 18 * 17  # 306 of 1,206 rows: about a quarter
    assert abs(len(rep) / (len(rep) + len(own)) - 0.25) < 0.01
    assert mixed(own, mem, 0.0) == (mem, 1)  # 0: appended once
    assert mixed(list(range(10)), ["m"] * 40, 0.25) == (["m"] * 40, 1)  # at least once
    assert mixed(own, [], 0.25) == ([], 0)
    assert check_mix(None) == 0.5
    for bad in (1, 1.5, -0.1):
        with pytest.raises(UserError, match="--replay-mix"):
            check_mix(bad)


def test_new_rows_bias_matches_the_new_classes_share(tiny_model_dir):
    """Before: the new rows (the old rows' mean) get a fraction of the probability on the new
    task's rows; after: the share of those rows whose label is new, old rows untouched."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from tests.continual.conftest import make_b
    from tunewise.continual.head import extend_head, match_prior
    from tunewise.data.examples import Example
    from tunewise.tasks.classification.task import ClassificationTask

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(str(tiny_model_dir), num_labels=2)
    torch.nn.init.normal_(model.classifier.weight, std=0.5)
    old_w = model.classifier.weight.detach().clone()
    old_b = model.classifier.bias.detach().clone()
    labels = ["neg", "pos", "people", "plot"]
    added = extend_head(model, labels[:2], labels)
    rows = [Example(r["text"], r["label"]) for r in make_b(90, 1)]
    rows += [Example("good great fine", "pos")] * 10  # 10 of 100 rows old: share 0.9
    new_w = model.classifier.weight.detach()[2:].clone()
    task = ClassificationTask(labels)
    data = task.encode(rows, tok, 32)

    def new_mass():
        model.eval()
        with torch.no_grad():
            p = [
                torch.softmax(model(**tok(r.text, return_tensors="pt")).logits, 1)[0, 2:].sum()
                for r in rows
            ]
        return float(torch.stack(p).mean())

    before = new_mass()
    done = match_prior(model, task, data, added, tok.pad_token_id)
    assert done["new_share_in_train"] == 0.9 and abs(done["new_mass_before"] - before) < 1e-3
    assert before < 0.7 and abs(new_mass() - 0.9) < 2e-3
    w, b = model.classifier.weight, model.classifier.bias
    assert torch.equal(w[:2], old_w) and torch.equal(b[:2], old_b)  # old rows kept
    assert torch.equal(w[2:], new_w)  # new rows: only the bias moved
    assert torch.allclose(b[2:] - old_b.mean(), torch.tensor([done["bias_offset"]] * 2), atol=1e-4)


def test_continued_run_records_the_offset_and_the_mix(continued):
    naive = json.loads((continued["naive"] / "metrics.json").read_text())["continual"]
    assert naive["head"]["new_rows"] == 2 and naive["head"]["bias_offset"] > 0
    assert naive["head"]["new_share_in_train"] == 1.0
    rec = json.loads((continued["replay"] / "data.json").read_text())["continual"]
    assert rec["replay_mix"] == 0.5 and rec["replay_times"] == 4  # 40 rows beside 160


def test_fisher_above_fp16_range_survives_saving(tmp_path):
    """The scaled Fisher has entries above fp16's largest value; saved, they stay finite."""
    from tunewise.continual import ewc

    f = {"w": torch.tensor([1e-3, 1.0, 2e5, 3e7])}
    ewc.save_fisher(tmp_path / "f.safetensors", f)
    back = ewc.load_fisher(tmp_path / "f.safetensors")["w"]
    assert torch.isfinite(back).all()
    assert torch.allclose(back, f["w"], rtol=1e-2)


def test_a_loss_gone_nan_fails_the_run_in_one_line(tiny_model_dir, two_tasks, tmp_path):
    """Training whose loss becomes nan stops at the first logged step, marked failed: never a
    completed run of a broken model (an EWC stage once trained 87 steps of nan loss)."""
    import tunewise
    from tests.continual.conftest import stage_config
    from tunewise.rundir import RunDir

    class NanTerm:
        def extra_loss(self, model):
            return lambda: torch.tensor(float("nan"))

    out = tmp_path / "nan"
    from tunewise.config import build_config
    from tunewise.run.runner import train

    with pytest.raises(UserError, match="training diverged: the mean loss of steps 1-10 is nan"):
        train(
            build_config(stage_config(tiny_model_dir, two_tasks["a"], out)), continuation=NanTerm()
        )
    assert RunDir(out).status() == "failed"
    assert not (out / "model" / "model.safetensors").exists()
    del tunewise
