"""Checks during and after training: each catches the mistake it is named after."""

import numpy as np
import pytest
import torch

from tests.conftest import make_rows
from tunewise.data import Example
from tunewise.evaluation import checks


class _Out:
    def __init__(self, logits):
        self.logits = logits


class Noisy(torch.nn.Module):
    """A model whose outputs stay random in eval mode (the bug eval_mode must catch)."""

    def forward(self, input_ids, **_):
        return _Out(torch.rand(input_ids.shape[0], 2))


class Fixed(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 2)
        self.drop = torch.nn.Dropout(0.5)

    def forward(self, input_ids, **_):
        return _Out(self.lin(self.drop(input_ids.float())))


def test_eval_mode_catches_randomness_and_passes_dropout_model():
    batch = {"input_ids": torch.ones(3, 4, dtype=torch.long)}
    assert not checks.eval_mode(Noisy(), batch)["ok"]
    m = Fixed().train()
    assert checks.eval_mode(m, batch)["ok"]  # the check switches dropout off itself


def test_reload_parity_catches_a_model_changed_after_saving(tiny_model_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification

    m = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    m.save_pretrained(tmp_path / "m")
    batch = {
        "input_ids": torch.tensor([[2, 40, 50, 3]]),
        "attention_mask": torch.ones(1, 4, dtype=torch.long),
    }
    assert checks.reload_parity(m, tmp_path / "m", batch)["ok"]
    with torch.no_grad():
        m.classifier.weight.add_(1.0)
    bad = checks.reload_parity(m, tmp_path / "m", batch)
    assert not bad["ok"] and bad["max_abs_diff"] > 1e-3


def test_collapse():
    assert not checks.collapse(np.zeros(10, dtype=int), ["a", "b"])["ok"]
    assert checks.collapse(np.array([0, 1, 0]), ["a", "b"])["ok"]


def test_overfitting_gap_and_falling_dev():
    evals = [
        {"step": 10, "split": "dev", "accuracy": 0.80},
        {"step": 10, "split": "train", "accuracy": 0.82},
        {"step": 20, "split": "dev", "accuracy": 0.70},
        {"step": 20, "split": "train", "accuracy": 0.99},
    ]
    r = checks.overfitting(evals, "accuracy")
    assert not r["ok"] and r["final_gap"] == pytest.approx(0.29)
    assert checks.overfitting(evals[:2], "accuracy")["ok"]


def test_tfidf_baseline_learns_and_margins():
    ex = lambda rows: [Example(r["text"], r["label"]) for r in rows]  # noqa: E731
    b = checks.tfidf_baseline(
        ex(make_rows(300, 1)), ex(make_rows(50, 2)), ex(make_rows(100, 3)), ["neg", "pos"], False
    )
    assert b["accuracy"] > 0.9 and b["n"] == 100
    cmp = checks.compare_to_baselines({"accuracy": 0.5}, {"tfidf_logreg": b})
    assert not cmp["ok"] and "does not beat the tfidf_logreg" in cmp["message"]


def test_padding_check():
    assert not checks.padding(0.48)["ok"] and checks.padding(0.95)["ok"]
