"""tunewise curve (same draws for every method, resume, curve.json/html, fits, sentence) and
tunewise suggest (uncertain and diverse picks, a CSV for a person), on the tiny model."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from tests.conftest import write_jsonl
from tests.fewshot.test_setfit import short_rows
from tunewise.cli.main import main
from tunewise.errors import UserError
from tunewise.fewshot.curve import curve_sentence, fit_log_linear, parse_budgets
from tunewise.fewshot.suggest import pick, uncertainty


def test_budgets_parse_and_refuse():
    assert parse_budgets("16,8,all") == [8, 16, "all"]
    for bad in ("8,x", "0", ""):
        with pytest.raises(UserError):
            parse_budgets(bad)


def test_log_linear_fit_recovers_gain_and_reports_r2():
    xs = [16, 32, 64, 128]
    f = fit_log_linear(xs, [0.5 + 0.05 * np.log2(x) for x in xs])
    assert f["b_gain_per_doubling"] == pytest.approx(0.05) and f["r2"] == pytest.approx(1.0)
    noisy = fit_log_linear(xs, [0.7, 0.6, 0.8, 0.65])
    assert noisy["r2"] < 0.5


def test_sentence_names_winners_and_noise():
    def pt(b, n, mean):
        s = {"mean": mean, "std": 0.01, "ci95": None, "n": 2, "values": []}
        return {"budget": b, "train_labels": n, "accuracy": s, "macro_f1": s}

    points = {
        "setfit": [pt(8, 16, 0.7), pt(16, 32, 0.75)],
        "tfidf": [pt(8, 16, 0.55), pt(16, 32, 0.74)],
    }
    fits = {
        m: fit_log_linear([p["train_labels"] for p in v], [p["accuracy"]["mean"] for p in v])
        for m, v in points.items()
    }
    text = curve_sentence(points, fits, [8, 16], mde=0.05)
    assert "at 8 per class setfit wins" in text
    assert (
        "at 16 per class setfit wins (0.750 vs tfidf 0.740) (within the test set's noise)" in text
    )
    assert "Doubling the labels is predicted to add +5.0 points" in text and "exact" in text


def test_uncertain_first_and_no_near_copies():
    texts = ["a b c d", "a b c d", "x y z w", "p q r s", "k l m n"]
    unc = np.array([0.99, 0.98, 0.5, 0.7, 0.1])
    chosen = pick(unc, texts, 3, diversity=0.5)
    rows = [c["row"] for c in chosen]
    assert rows[0] == 0 and 1 not in rows  # the copy of the first pick is skipped
    assert rows == [0, 3, 2]
    p = np.array([[0.5, 0.5], [0.99, 0.01]])
    assert uncertainty(p)[0] == pytest.approx(1.0) and uncertainty(p)[1] < 0.1


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("curve")
    pool = [r["text"] for r in short_rows(80, 9)]
    (tmp / "pool.txt").write_text("\n".join(pool) + "\n")
    return {
        "train": write_jsonl(tmp / "train.jsonl", short_rows(100, 1)),
        "test": write_jsonl(tmp / "test.jsonl", short_rows(50, 3)),
        "pool": tmp / "pool.txt",
        "tmp": tmp,
    }


def _curve(tiny_model_dir, files, out, capsys):
    main(
        [
            "curve",
            "--model",
            str(tiny_model_dir),
            "--train",
            str(files["train"]),
            "--test",
            str(files["test"]),
            "--shots",
            "4,all",
            "--methods",
            "setfit,tfidf",
            "--draws",
            "2",
            "--out",
            str(out),
            "--epochs",
            "1",
            "--setfit.iterations",
            "4",
        ]
    )
    return capsys.readouterr()


def test_curve_runs_resumes_and_writes_page(tiny_model_dir, files, capsys):
    out = files["tmp"] / "c"
    first = _curve(tiny_model_dir, files, out, capsys)
    rec = json.loads((out / "curve.json").read_text())
    assert set(rec["points"]) == {"setfit", "tfidf"}
    assert [p["budget"] for p in rec["points"]["setfit"]] == [4, "all"]
    cells = rec["cells"]
    # the same draws for every method: one shots folder per (budget, draw)
    assert {c["path"].split("/")[1] for c in cells} == {"setfit", "tfidf"}
    assert len([c for c in cells if c["budget"] == 4]) == 4
    assert (out / "shots" / "k4" / "draw-2" / "train.jsonl").is_file()
    html = (out / "curve.html").read_text()
    assert "<svg" in html and "log scale" in html and rec["sentence"] in html.replace("&#x27;", "'")
    assert "Test accuracy: at 4 per class" in rec["sentence"]
    assert "[1/6]" in first.err
    again = _curve(tiny_model_dir, files, out, capsys)
    assert again.err.count("done before (resumed)") == 6
    # `tunewise report` on the curve directory: the plot and the sentence in the report
    from tunewise.cli.main import main

    (out / "curve.html").unlink()
    main(["report", str(out)])
    report = (out / "report.html").read_text()
    assert "<svg" in report and "log scale" in report
    assert rec["sentence"] in report.replace("&#x27;", "'")
    assert rec["sentence"] in (out / "report.md").read_text()


def test_suggest_writes_n_rows_for_a_person(tiny_model_dir, files, tmp_path, capsys):
    import tunewise
    from tests.conftest import tiny_config

    cfg = tiny_config(
        tiny_model_dir, {"train": files["train"], "test": files["test"]}, tmp_path / "r", epochs=1
    )
    cfg["method"] = {"name": "setfit", "setfit": {"iterations": 4}}
    cfg["fewshot"] = {"shots": 4, "draws": 2}
    cfg["task"] = {"label_issues": False}
    run = tunewise.train(cfg).path
    out = tmp_path / "to_label.csv"
    main(["suggest", str(run), "--pool", str(files["pool"]), "--n", "7", "--out", str(out)])
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 7 and all(r["label"] == "" for r in rows)
    assert len({r["text"] for r in rows}) == 7
    u = [float(r["uncertainty"]) for r in rows]
    assert max(u) == u[0]
    with pytest.raises(SystemExit) as e:
        main(["suggest", str(run), "--pool", str(tmp_path / "missing.csv"), "--out", str(out)])
    assert e.value.code == 2
