"""The run report: both files from a synthetic run directory, escaping, missing files, a browser."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.browser import headless_chrome
from tunewise.cli.main import main
from tunewise.errors import UserError
from tunewise.evaluation.report import write_report

EVIL = "<script>alert(1)</script>"
LABELS = ["neg", "pos", EVIL]
CONFIG = "model:\n  name: minilm\n  max_length: 64\ntask:\n  type: classification\n# a & b <i>\n"
FIGURES = ("Training loss", "Evaluation metrics", "Confusion matrix", "F1 per class")
FIGURES += ("Reliability", "Token lengths")


def _json(path: Path, data) -> None:
    path.write_text(json.dumps(data))


def _metrics(cm: list[list[int]]) -> dict:
    per_class = {
        name: {"precision": 0.8, "recall": 0.7 + i / 10, "f1": 0.75 + i / 20, "support": sum(cm[i])}
        for i, name in enumerate(LABELS)
    }
    reliability = [
        {
            "lo": i / 5,
            "hi": (i + 1) / 5,
            "count": 10 * i,
            "confidence": i / 5 + 0.1,
            "accuracy": i / 5,
        }
        for i in range(5)
    ]
    scaled = [{**b, "accuracy": b["confidence"] - 0.02} for b in reliability]
    cal = {"ece": 0.08, "brier": 0.2, "nll": 0.5, "reliability": reliability}
    return {
        "best_step": 20,
        "dev": {"accuracy": 0.8, "macro_f1": 0.78, "n": 30},
        "test": {
            "n": 30,
            "accuracy": 0.8,
            "macro_f1": 0.79,
            "micro_f1": 0.8,
            "mcc": 0.7,
            "per_class": per_class,
            "confusion_matrix": cm,
            "labels": LABELS,
            "ci": {"accuracy": [0.7, 0.9], "macro_f1": [0.68, 0.88]},
        },
        "baselines": {
            "majority": {"accuracy": 0.4, "macro_f1": 0.19, "predicts": "neg"},
            "tfidf": {"accuracy": 0.7, "macro_f1": 0.69},
        },
        "calibration": {
            "temperature": 1.4,
            "test": cal,
            "test_scaled": {**cal, "ece": 0.03, "reliability": scaled},
        },
        "checks": {
            "collapse": {"ok": True, "message": "predictions use 3 classes"},
            "overfitting": {"ok": False, "message": "train-dev gap 0.15 at the end"},
        },
        "training": {"steps": 30, "train_seconds": 1.5, "examples_per_s": 100.0},
    }


@pytest.fixture
def run_dir(tmp_path) -> Path:
    return make_run(tmp_path)


def make_run(tmp_path: Path) -> Path:
    """A run directory with every file the report reads (small synthetic numbers)."""
    run = tmp_path / "my-run"
    run.mkdir()
    _json(run / "run.json", {"status": "completed", "started": "2026-01-01T10:00:00+0000"})
    (run / "config.yaml").write_text(CONFIG)
    _json(run / "labels.json", {"labels": LABELS, "multi_label": False, "threshold": 0.5})
    tokens = {"rows": 30, "mean_tokens": 12.5, "p95_tokens": 30.0, "truncated_share": 0.0}
    _json(run / "data.json", {"model": {"name": "minilm"}, "tokens": {"train": tokens}})
    log = [{"type": "train", "step": s, "loss": 1.0 / s} for s in range(1, 31)]
    log += [
        {"type": "eval", "step": s, "split": "dev", "accuracy": 0.6 + s / 100, "macro_f1": 0.5}
        for s in (10, 20, 30)
    ]
    log += [
        {"type": "eval", "step": s, "split": "train", "accuracy": 0.7 + s / 100}
        for s in (10, 20, 30)
    ]
    (run / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log) + '{"half')
    _json(run / "metrics.json", _metrics([[8, 2, 0], [1, 9, 0], [2, 1, 7]]))
    hist = {"edges": [0, 10, 20, 30, 40], "counts": [5, 12, 9, 4]}
    _json(
        run / "doctor.json",
        {
            "version": 1,
            "findings": [
                {
                    "check": "length",
                    "severity": "info",
                    "ok": True,
                    "title": "lengths fit",
                    "message": "p95 30 tokens",
                    "details": {"histogram": hist, "max_length": 64},
                },
                {
                    "check": "leakage",
                    "severity": "error",
                    "ok": False,
                    "title": "dev rows in train",
                    "message": "3 dev rows also in train",
                    "details": {},
                },
                {
                    "check": "imbalance",
                    "severity": "warning",
                    "ok": False,
                    "title": "imbalanced labels",
                    "message": f"class {EVIL} is rare",
                    "details": {},
                },
            ],
            "errors": ["leakage"],
            "allowed": ["leakage"],
        },
    )
    issues = [
        {
            "row": i,
            "where": f"train.csv line {i + 2}",
            "text": f"text {i} {EVIL}",
            "given": "pos",
            "suggested": "neg",
            "self_confidence": 0.5 - i / 100,
        }
        for i in range(25)
    ]
    (run / "label_issues.jsonl").write_text("".join(json.dumps(r) + "\n" for r in issues))
    return run


def _svgs(html: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", html, flags=re.S)


def test_full_report(run_dir):
    html_path, md_path = write_report(run_dir)
    assert (html_path, md_path) == (run_dir / "report.html", run_dir / "report.md")
    html, md = html_path.read_text(), md_path.read_text()
    svgs = _svgs(html)
    for title in FIGURES:
        assert any(f"<title>{title}" in s for s in svgs), title
    assert "train accuracy" in html  # overfitting gap drawn
    for text in ("dev rows in train", "imbalanced labels", "allowed", "lengths fit"):
        assert text in html and text in md
    assert "test accuracy 0.8000 (95% CI 0.7000–0.9000)" in html
    assert "single seed: spread across seeds unknown" in html
    assert "tfidf 0.7000 (+0.1000)" in md
    assert "train-dev gap 0.15" in html and "FAIL" in md
    # Config verbatim (escaped) in both.
    assert "# a &amp; b &lt;i&gt;" in html and CONFIG.strip() in md
    # No user text reaches the page unescaped; the one script-free page has no <script> at all.
    assert "<script" not in html and "<script" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # Label issues: the 20 least confident, in that order.
    assert "text 24 " in html and "text 4 " not in html
    assert "external" not in html and "http://" not in html.replace(
        "http://www.w3.org/2000/svg", ""
    )


def test_multi_seed_headline(run_dir):
    m = json.loads((run_dir / "metrics.json").read_text())
    acc = {
        "mean": 0.81,
        "std": 0.02,
        "min": 0.79,
        "max": 0.83,
        "n": 3,
        "values": [0.79, 0.81, 0.83],
    }
    m["seeds"] = {"values": [42, 43, 44], "summary": {"test": {"accuracy": acc}}}
    _json(run_dir / "metrics.json", m)
    html, md = (p.read_text() for p in write_report(run_dir))
    assert "3 seeds: 0.8100 ± 0.0200" in html and "42, 43, 44" in md


def test_missing_optional_files(run_dir):
    for name in (
        "metrics.json",
        "doctor.json",
        "train_log.jsonl",
        "label_issues.jsonl",
        "data.json",
        "labels.json",
    ):
        (run_dir / name).unlink()
    _json(run_dir / "run.json", {"status": "failed", "error": "out of memory"})
    html, md = (p.read_text() for p in write_report(run_dir))
    assert "failed" in html and "out of memory" in md
    assert "not available" in html and "not available" in md
    assert not _svgs(html)
    (run_dir / "metrics.json").write_text("{broken")  # unreadable files are noted, not fatal
    html, _ = (p.read_text() for p in write_report(run_dir))
    assert "metrics.json: could not be read" in html


def test_cli(run_dir, capsys, tmp_path):
    main(["report", str(run_dir)])
    assert capsys.readouterr().out.split() == [
        str(run_dir / "report.html"),
        str(run_dir / "report.md"),
    ]
    with pytest.raises(UserError, match="not a tunewise run directory"):
        write_report(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(["report", str(tmp_path / "nope")])
    assert e.value.code == 2
    assert "no such run directory" in capsys.readouterr().err


@pytest.mark.browser
def test_renders_in_chromium(run_dir, tmp_path):
    html_path, _ = write_report(run_dir)
    driver = headless_chrome(tmp_path / "chrome-profile")
    from selenium.webdriver.common.by import By

    try:
        driver.get(html_path.resolve().as_uri())
        assert driver.title == "tunewise report: my-run"
        svgs = driver.find_elements(By.TAG_NAME, "svg")
        assert len(svgs) == len(FIGURES)
        for el in svgs:
            assert el.size["width"] > 0 and el.size["height"] > 0, el.get_attribute("aria-label")
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not severe, severe
        assert EVIL in driver.find_element(By.TAG_NAME, "body").text  # shown as text, not run
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chrome-profile", ignore_errors=True)


def test_length_chart_without_histogram(run_dir):
    doc = json.loads((run_dir / "doctor.json").read_text())
    stats = {"min": 3, "median": 16, "p95": 40, "max": 90, "truncated": 2}
    doc["findings"][0]["details"] = {"max_length": 64, "train": stats, "test": stats}
    _json(run_dir / "doctor.json", doc)
    html, md = (p.read_text() for p in write_report(run_dir))
    assert any("<title>Token lengths" in s and "train p95" in s for s in _svgs(html))
    assert "| train | 3 | 16 | 40 | 90 | 2 |" in md
    (run_dir / "doctor.json").unlink()  # data.json's token statistics are the last resort
    html, _ = (p.read_text() for p in write_report(run_dir))
    assert any("<title>Token lengths" in s and "train mean" in s for s in _svgs(html))
