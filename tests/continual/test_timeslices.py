"""Point 4: one task whose data arrives in time order; training once vs continuing with each
new slice, accuracy on each slice."""

from __future__ import annotations

import csv
import json
import random

import pytest

from tests.conftest import FILL, NEG, POS
from tunewise.continual.timeslices import make_slices, read_stream, slice_key
from tunewise.errors import UserError


def _drifting_stream(path, per_month=200, seed=0):
    """Three months; the words that carry the label change from month to month (a shift a
    model trained on the first month alone cannot follow)."""
    rng = random.Random(seed)
    carriers = [(POS[:3], NEG[:3]), (["story", "plot"], ["cast", "film"]), (POS[4:], NEG[4:])]
    filler = [w for w in FILL if w not in ("story", "plot", "cast", "film")]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["date", "text", "label"])
        for month, (up, down) in enumerate(carriers, start=1):
            for i in range(per_month):
                y = rng.random() < 0.5
                words = [rng.choice(filler) for _ in range(rng.randint(2, 8))]
                words.insert(rng.randrange(len(words) + 1), rng.choice(up if y else down))
                w.writerow(
                    [f"2015-0{month}-{1 + i % 28:02d}", " ".join(words), "up" if y else "down"]
                )
    return path


def test_slice_keys_and_merging(tmp_path):
    assert slice_key("2015-03-07T10:00:00Z", "month") == "2015-03"
    assert slice_key("2015-03-07", "quarter") == "2015-Q1"
    assert slice_key("2015-01-01", "week") == "2015-W01"
    rows = [{"text": "t", "label": "x", "time": f"2015-0{m}-01"} for m in (1, 1, 1, 2, 3, 3, 3)]
    s = make_slices(rows, "month", 0.34, 0, min_rows=3, max_rows=None)
    assert list(s) == ["2015-01", "2015-02..2015-03"]  # the small February joins March
    with pytest.raises(UserError, match="need 2 or more"):
        make_slices(rows, "year", 0.2, 0, 3, None)
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nhello,x\n")
    with pytest.raises(UserError, match="no column 'date'"):
        read_stream(bad)


def test_continuing_with_each_slice_beats_training_once(tiny_model_dir, tmp_path, capsys):
    from tunewise.cli.main import main

    stream = _drifting_stream(tmp_path / "stream.csv")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        f"model: {{name: {tiny_model_dir}, max_length: 32}}\n"
        "train: {epochs: 10, batch_size: 16, lr: 2.0e-3, bf16: false, threads: 1, seed: 7}\n"
        "task: {label_issues: false}\n"
    )
    out = tmp_path / "drift"
    main(
        [
            "continual",
            "--stream",
            str(stream),
            "--time-column",
            "date",
            "--slice",
            "month",
            "--config",
            str(cfg),
            "--seeds",
            "7,",
            "--out",
            str(out),
        ]
    )
    rec = json.loads((out / "drift.json").read_text())
    assert rec["seed"] == 7
    assert [r["slice"] for r in rec["slices"]] == ["2015-01", "2015-02", "2015-03"]
    assert all(r["test_rows"] == 40 for r in rec["slices"])
    first = rec["slices"][0]
    assert first["once"] == pytest.approx(first["continued_after"])  # the same model
    for r in rec["slices"][1:]:
        assert r["continued_after"] > r["once"] + 0.2, r
    assert "| 2015-02 |" in capsys.readouterr().out
    # resume: nothing to retrain
    again = ["continual", "--stream", str(stream), "--config", str(cfg), "--out", str(out)]
    main([*again, "--seeds", "7,"])
    assert capsys.readouterr().err.count("done, skipped") == 2
    # one seed per --out: several are refused in one line, before anything trains
    with pytest.raises(SystemExit) as e:
        main([*again, "--seeds", "2"])
    assert e.value.code == 2
    assert "--stream trains one seed per --out" in capsys.readouterr().err
