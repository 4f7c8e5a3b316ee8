"""Point 3: the forgetting matrix, its measures with intervals, the heatmap, the JSON the
acceptance check reads, and `tunewise continual` over a sequence (progress, resume, summary)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tunewise.cli.main import main
from tunewise.continual.forgetting import forgetting, measures


def _arr(acc, n=100):
    return np.array([1] * round(acc * n) + [0] * (n - round(acc * n)))


def test_measures_on_a_known_matrix():
    # 3 stages: R[0][0]=.9; R[1] = .6 .8; R[2] = .5 .7 .95; before: R[0][1]=.3, R[1][2]=.2
    m = [
        [_arr(0.9), _arr(0.3), None],
        [_arr(0.6), _arr(0.8), _arr(0.2)],
        [_arr(0.5), _arr(0.7), _arr(0.95)],
    ]
    out = measures(m, chance=[0.5, 0.25, 0.1])
    assert out["average_accuracy"] == pytest.approx((0.5 + 0.7 + 0.95) / 3)
    assert out["bwt"] == pytest.approx(((0.5 - 0.9) + (0.7 - 0.8)) / 2)
    assert out["forgetting"] == pytest.approx(((0.9 - 0.5) + (0.8 - 0.7)) / 2)
    assert out["fwt"] == pytest.approx(((0.3 - 0.25) + (0.2 - 0.1)) / 2)


def test_matrix_rows_stages_columns_tests(continued, root_run):
    f = forgetting(continued["naive"], n_boot=100)
    assert f["tests"] == ["a", "b"] and len(f["matrix"]) == 2
    root_acc = json.loads((root_run / "metrics.json").read_text())["test"]["accuracy"]
    assert f["matrix"][0][0] == pytest.approx(root_acc, abs=1e-4)  # stage 0 on its own test
    stage = json.loads((continued["naive"] / "continual" / "stage.json").read_text())
    assert f["matrix"][1] == [round(c["accuracy"], 4) for c in stage["row"]]
    assert f["matrix"][0][1] == round(stage["before"]["accuracy"], 4)  # forward transfer cell
    for key in ("average_accuracy", "bwt", "forgetting", "fwt"):
        v = f[key]
        assert v["low"] <= v["value"] + 1e-9 and v["value"] <= v["high"] + 1e-9, key
        assert key in f["task_given"]
    assert f["bwt"]["value"] < 0  # naive forgot task A


def test_cli_json_and_heatmap(continued, tmp_path, capsys):
    j, h = tmp_path / "f.json", tmp_path / "f.html"
    main(
        [
            "forgetting",
            str(continued["replay"]),
            "--json",
            str(j),
            "--html",
            str(h),
            "--bootstrap",
            "50",
        ]
    )
    d = json.loads(j.read_text())
    assert len(d["matrix"]) == 2 and len(d["matrix"][-1]) == 2
    page = h.read_text()
    assert page.count("<table>") == 3 and "background:rgb(" in page and "task given" in page
    assert "average_accuracy" in capsys.readouterr().out


def test_run_report_has_the_heatmap_and_measures(continued):
    """The continued run's own report.html/report.md carry the forgetting matrix (from
    metrics.json, so `tunewise report` rebuilds it), for a full and a lora-per-task stage."""
    from tunewise.rundir import RunDir

    for s in ("replay", "lora-per-task"):
        run = RunDir(continued[s])
        rec = json.loads(run.metrics.read_text())["continual"]["forgetting"]
        assert rec["matrix"] == forgetting(run.path, n_boot=20)["matrix"]
        html = (run.path / "report.html").read_text()
        assert 'id="continual"' in html and "Accuracy, task given" in html
        assert "<svg" in html.split('id="continual"')[1].split("</section>")[0]
        md = (run.path / "report.md").read_text()
        last = rec["matrix"][-1]
        assert f"| after b ({s}) | {last[0]:.3f} | {last[1]:.3f} |" in md
        assert "| bwt |" in md
        assert ("Router accuracy" in md) == (s == "lora-per-task")


def test_sequence_with_progress_resume_and_summary(tiny_model_dir, two_tasks, tmp_path, capsys):
    import yaml

    cfg = {
        "model": {"max_length": 32},
        "train": {"epochs": 3, "batch_size": 16, "lr": 2e-3, "bf16": False, "threads": 1},
        "task": {"label_issues": False},
    }
    spec = {
        "model": str(tiny_model_dir),
        "config": cfg,
        "tasks": [
            {
                "name": "a",
                "train": str(two_tasks["a"]["train"]),
                "test": str(two_tasks["a"]["test"]),
            },
            {
                "name": "b",
                "train": str(two_tasks["b"]["train"]),
                "test": str(two_tasks["b"]["test"]),
            },
        ],
    }
    f = tmp_path / "tasks.yaml"
    f.write_text(yaml.safe_dump(spec))
    out = tmp_path / "cl"
    argv = [
        "continual",
        "--tasks",
        str(f),
        "--strategies",
        "naive,replay",
        "--seeds",
        "2",
        "--out",
        str(out),
    ]
    main(argv)
    err = capsys.readouterr().err
    assert "[1/6] seed 42" in err and "[6/6] seed 43: replay stage 1/1 b" in err
    s = json.loads((out / "summary.json").read_text())
    assert set(s) == {"naive", "replay"}
    assert len(s["naive"]["average_accuracy"]["values"]) == 2
    assert (out / "seed-43" / "replay" / "1-b" / "continual" / "memory.jsonl").is_file()
    # resume: a stage that did not finish is retrained, the finished ones are skipped
    (out / "seed-43" / "replay" / "1-b" / "continual" / "stage.json").unlink()
    main(argv)
    err = capsys.readouterr().err
    assert err.count("done, skipped") == 5 and "[6/6] seed 43: replay stage 1/1 b" in err
    assert "| replay |" in (out / "summary.md").read_text()
