"""compare_runs and `tunewise compare` on tiny fake run directories."""

import json

import numpy as np
import pytest

from tunewise.cli.main import main
from tunewise.errors import UserError
from tunewise.evaluation.stats import compare_runs


def _run(root, name, gold, pred, where=None, multi=False):
    d = root / name
    (d / "predictions").mkdir(parents=True)
    lines = []
    for i, (g, p) in enumerate(zip(gold, pred)):
        rec = {
            "row": i,
            "where": where[i] if where else f"test.csv line {i + 2}",
            "gold": [int(g), 0] if multi else int(g),
            "pred": [int(p), 0] if multi else int(p),
            "logits": [0.0, 1.0] if p else [1.0, 0.0],
        }
        lines.append(json.dumps(rec))
    (d / "predictions" / "test.jsonl").write_text("\n".join(lines) + "\n")
    return d


def _pair(tmp_path, n=200):
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 2, n)
    a = np.where(rng.random(n) < 0.7, gold, 1 - gold)
    b = np.where(rng.random(n) < 0.95, gold, 1 - gold)
    return gold, _run(tmp_path, "a", gold, a), _run(tmp_path, "b", gold, b)


def test_compare_runs(tmp_path):
    gold, a, b = _pair(tmp_path)
    r = compare_runs(a, b, n_boot=1000)
    assert r["n"] == 200 and r["a"] == str(a)
    assert r["accuracy"]["delta"] > 0.15 and r["accuracy"]["p_value"] < 0.01
    assert r["macro_f1"]["metric"] == "macro_f1"
    assert r["mcnemar"]["p_value"] < 0.01
    assert r["verdict"].startswith("B is better than A") and r["verdict"].endswith("real.")


def test_compare_runs_refuses_different_rows(tmp_path):
    gold, a, _ = _pair(tmp_path)
    short = _run(tmp_path, "short", gold[:-1], gold[:-1])
    with pytest.raises(UserError, match="not the same test rows: .* 200 .* 199"):
        compare_runs(a, short)
    moved = _run(tmp_path, "moved", gold, gold, where=[f"other.csv line {i}" for i in range(200)])
    with pytest.raises(UserError, match="not the same test rows: row 0 is test.csv line 2"):
        compare_runs(a, moved)
    relabeled = _run(tmp_path, "relabeled", 1 - gold, gold)
    with pytest.raises(UserError, match="not the same test rows: row 0 .* gold label"):
        compare_runs(a, relabeled)
    multi = _run(tmp_path, "multi", gold, gold, multi=True)
    with pytest.raises(UserError, match="multi-label"):
        compare_runs(a, multi)
    with pytest.raises(UserError, match="not found"):
        compare_runs(a, tmp_path)


def test_cli_compare(tmp_path, capsys):
    _, a, b = _pair(tmp_path)
    out = tmp_path / "cmp.json"
    main(["compare", str(a), str(b), "--json", str(out), "--n-boot", "500"])
    printed = capsys.readouterr().out
    assert "B is better than A" in printed and "macro-F1" in printed
    assert json.loads(out.read_text())["n"] == 200


def test_cli_compare_missing_dirs_one_line_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["compare", str(tmp_path / "nope-a"), str(tmp_path / "nope-b")])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.strip().splitlines() == [f"error: {tmp_path / 'nope-a'}: no such run directory"]
