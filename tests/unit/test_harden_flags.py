"""[harden] flags that used to crash or be ignored: one line, exit 2."""

from __future__ import annotations

import json

import pytest

from tunewise.cli.main import main


def _run(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    return e.value.code, capsys.readouterr().err.strip().splitlines()


def _data(tmp_path, n=40):
    f = tmp_path / "t.jsonl"
    rows = [
        {"text": f"text number {i} {'good' if i % 2 else 'bad'}", "label": str(i % 2)}
        for i in range(n)
    ]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f


@pytest.mark.parametrize("value", ["inf", "nan"])
def test_epochs_inf_is_one_line(tmp_path, capsys, value):
    code, err = _run(["train", "--train", str(_data(tmp_path)), "--epochs", value], capsys)
    assert code == 2 and len(err) == 1 and "train.epochs" in err[0] and "finite" in err[0]


def test_resume_with_other_flags_is_refused_naming_them(tmp_path, capsys):
    run = tmp_path / "run"
    code, err = _run(
        [
            "train",
            "--resume",
            str(run),
            "--epochs",
            "5",
            "--lr",
            "0.5",
            "--out",
            str(tmp_path / "x"),
        ],
        capsys,
    )
    assert code == 2 and len(err) == 1
    assert "drop --epochs, --lr, --out" in err[0]


def test_a_tiny_train_that_leaves_dev_or_test_empty_is_refused(tmp_path, capsys, tiny_model_dir):
    f = tmp_path / "two.jsonl"
    f.write_text('{"text": "good", "label": "a"}\n{"text": "bad", "label": "b"}\n')
    code, err = _run(
        ["train", "--model", str(tiny_model_dir), "--train", str(f), "--out", str(tmp_path / "r")],
        capsys,
    )
    assert code == 2
    assert err[-1].startswith(f"error: {f}: 2 rows are too few to split off dev and test")
    assert "at least 5 distinct texts" in err[-1]
