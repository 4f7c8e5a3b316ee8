"""Every task's terminal summary ends the same way: seeds, failed checks, training."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from tunewise.tasks import get_task

METRICS = {
    "classification": {
        "test": {"n": 4, "accuracy": 0.5, "macro_f1": 0.5, "micro_f1": 0.5, "mcc": 0.0}
    },
    "tokens": {
        "test": {
            "n": 4,
            "micro_f1": 0.5,
            "macro_f1": 0.5,
            "micro_precision": 0.5,
            "micro_recall": 0.5,
            "token_accuracy": 0.9,
            "gold_entities": 3,
        }
    },
    "regression": {"test": {"n": 4, "rmse": 1.0, "mae": 0.8, "pearson": 0.5, "spearman": 0.5}},
    "sft": {"test": {"loss": 1.0, "perplexity": 2.7, "tokens": 10}},
}


@pytest.mark.parametrize("name", sorted(METRICS))
def test_summary_ends_with_seeds_checks_and_training(name):
    key = {"classification": "accuracy", "tokens": "micro_f1", "regression": "rmse", "sft": "loss"}[
        name
    ]
    metrics = {
        **METRICS[name],
        "seeds": {
            "values": [1, 2],
            "summary": {"test": {key: {"mean": 0.4321, "std": 0.0123}}},
            "selected": "seed-2",
            "selected_on": "dev",
        },
        "checks": {
            "collapse": {"ok": False, "message": "every row got [x]"},
            "padding": {"ok": True, "message": "fine"},
        },
        "training": {
            "steps": 7,
            "train_seconds": 1.5,
            "examples_per_s": 10.0,
            "real_token_share": 0.9,
        },
    }
    out = io.StringIO()
    get_task(name).print_summary(metrics, Console(file=out, width=200))
    text = out.getvalue()
    assert "2 seeds [1, 2]" in text and f"{key} 0.4321 ± 0.0123" in text
    assert "warning [collapse]: every row got [x]" in text and "fine" not in text
    assert "training: 7 steps" in text
    single = {**METRICS[name], "seeds": {"single_seed": True, "note": "single seed: use --seeds K"}}
    out = io.StringIO()
    get_task(name).print_summary(single, Console(file=out, width=200))
    assert "single seed: use --seeds K" in out.getvalue()
