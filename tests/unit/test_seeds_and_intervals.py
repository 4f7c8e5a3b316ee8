"""Several seeds, intervals, calibration and label issues recorded by a training run."""

import json

import pytest

import tunewise
from tests.conftest import make_rows, tiny_config, write_jsonl


def test_seeds_summarized_and_model_chosen_on_dev(tiny_model_dir, tiny_data, tmp_path):
    r = tunewise.train(tiny_config(tiny_model_dir, tiny_data, tmp_path / "s", epochs=3, seeds=2))
    seeds = r.metrics["seeds"]
    assert seeds["values"] == [7, 8] and not seeds["single_seed"]
    acc = seeds["summary"]["test"]["accuracy"]
    per_seed = [
        json.loads((r.path / f"seed-{s}" / "metrics.json").read_text())["test"]["accuracy"]
        for s in (7, 8)
    ]
    assert acc["values"] == pytest.approx(per_seed)
    assert acc["mean"] == pytest.approx(sum(per_seed) / 2)
    dev = {
        s: json.loads((r.path / f"seed-{s}" / "metrics.json").read_text())["dev"]["accuracy"]
        for s in (7, 8)
    }
    assert seeds["selected"] == f"seed-{max(dev, key=dev.get)}"
    assert tunewise.load(r.path).predict(["the film was good"])[0]["label"] in ("pos", "neg")


def test_single_seed_is_labeled_and_test_has_intervals(tiny_model_dir, tiny_data, tmp_path):
    r = tunewise.train(
        tiny_config(tiny_model_dir, tiny_data, tmp_path / "one") | {"task": {"calibrate": True}}
    )
    m = r.metrics
    assert m["seeds"]["single_seed"] and "single seed" in m["seeds"]["note"]
    lo, hi = m["test"]["ci"]["accuracy"]
    assert lo <= m["test"]["accuracy"] <= hi and hi - lo > 0 or m["test"]["accuracy"] in (0.0, 1.0)
    cal = m["calibration"]
    assert 0 <= cal["test"]["ece"] <= 1 and cal["temperature"] > 0
    meta = json.loads((r.path / "model" / "tunewise.json").read_text())
    assert meta["temperature"] == pytest.approx(cal["temperature"])
    assert m["checks"]["label_issues"]["ok"]
    assert (r.path / "label_issues.jsonl").is_file()


def test_flipped_labels_show_up_as_label_issues(tiny_model_dir, tmp_path):
    rows = make_rows(200, 11)
    flipped = set(range(0, 200, 25))
    for i in flipped:
        rows[i]["label"] = "neg" if rows[i]["label"] == "pos" else "pos"
    data = {
        "train": write_jsonl(tmp_path / "train.jsonl", rows),
        "dev": write_jsonl(tmp_path / "dev.jsonl", make_rows(40, 12)),
        "test": write_jsonl(tmp_path / "test.jsonl", make_rows(40, 13)),
    }
    r = tunewise.train(tiny_config(tiny_model_dir, data, tmp_path / "noisy"))
    issues = [json.loads(line) for line in (r.path / "label_issues.jsonl").read_text().splitlines()]
    found = {i["row"] for i in issues[: len(flipped) * 2]}
    assert len(found & flipped) >= len(flipped) // 2, (sorted(found), sorted(flipped))
