"""[harden] no silence after training: each step says what runs, how far, and how long it took."""

from __future__ import annotations

import tunewise
from tests.conftest import tiny_config
from tunewise import progress


def test_steps_after_training_are_announced_and_timed(tiny_model_dir, tiny_data, tmp_path):
    lines = []
    r = tunewise.train(
        tiny_config(tiny_model_dir, tiny_data, tmp_path / "r", epochs=1), echo=lines.append
    )
    text = "\n".join(lines)
    after = text.split("dev accuracy", 1)[-1]
    for what in (
        "baseline: tf-idf",
        "reload check",
        "bootstrap 95% intervals",
        "calibration",
        "label issues (train embeddings once",
    ):
        assert what in after, what
    timings = r.metrics["timings"]
    assert {"label issues", "calibration: temperature fitted on dev"} <= set(timings)
    assert all(v >= 0 for v in timings.values())


def test_ticker_reports_how_far_and_eta(monkeypatch):
    lines = []
    progress.set_sink(lines.append)
    monkeypatch.setattr(progress, "EVERY_S", 0.0)
    with progress.step("folds", "5 fits") as t:
        t.tick(2, 5, "folds")
    progress.set_sink(None)
    assert lines[0] == "folds (5 fits)..."
    assert lines[1].startswith("  folds: 2/5 folds, ETA ")


def test_label_issues_can_be_skipped(tiny_model_dir, tiny_data, tmp_path):
    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "r", epochs=1) | {
        "task": {"label_issues": False}
    }
    r = tunewise.train(cfg)
    assert r.metrics["checks"]["label_issues"]["skipped"] is True
    assert "label issues" not in r.metrics["timings"]
    assert not (r.path / "label_issues.jsonl").exists()
