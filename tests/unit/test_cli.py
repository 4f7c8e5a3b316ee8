"""The CLI: user mistakes end in one line and exit code 2, never a traceback."""

import subprocess
import sys

import pytest

from tunewise.cli.main import main


def _run(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    return e.value.code, capsys.readouterr()


def test_missing_label_column_is_one_line_exit_2(tmp_path, capsys):
    f = tmp_path / "nolabel.csv"
    f.write_text('sentence\n"ok film"\n')
    code, out = _run(
        [
            "train",
            "--model",
            "minilm",
            "--train",
            str(f),
            "--text-column",
            "sentence",
            "--out",
            str(tmp_path / "r"),
        ],
        capsys,
    )
    assert code == 2
    assert out.err.strip().splitlines() == [
        f"error: {f}: no column 'label' (columns: sentence); set --label-column"
    ]


def test_bad_override_and_unknown_model(tmp_path, capsys):
    code, out = _run(["train", "--train", "x.csv", "train.lr=abc"], capsys)
    assert code == 2 and "train.lr" in out.err
    f = tmp_path / "t.csv"
    f.write_text("text,label\n" + "".join(f"t{i},{'xy'[i % 2]}\n" for i in range(20)))
    code, out = _run(
        ["train", "--model", "no-such-model", "--train", str(f), "--out", str(tmp_path / "r")],
        capsys,
    )
    assert code == 2 and "packaged models: minilm" in out.err


def test_hub_id_offline_lists_packaged_models(monkeypatch):
    from tunewise.errors import UserError
    from tunewise.models.registry import resolve_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="offline.*packaged models: minilm"):
        resolve_model("bert-org/bert-base")


def test_existing_run_not_overwritten(tmp_path, capsys):
    out = tmp_path / "r"
    out.mkdir()
    (out / "run.json").write_text('{"status": "completed"}')
    f = tmp_path / "t.csv"
    f.write_text("text,label\na,x\nb,y\n")
    code, err = _run(["train", "--train", str(f), "--out", str(out)], capsys)
    assert code == 2 and "already holds a run (status: completed)" in err.err


def test_predict_on_unfinished_run_says_so(tmp_path, capsys):
    (tmp_path / "run.json").write_text('{"status": "failed"}')
    code, out = _run(["predict", str(tmp_path), "--input", "x.txt"], capsys)
    assert code == 2 and "did not finish (status: failed)" in out.err


def test_real_process_exit_code_and_no_traceback(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"text": "fine", "label": "a"}\n{"text": "fine"\n')
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "tunewise",
            "train",
            "--train",
            str(f),
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert f"{f} line 2: not valid JSON" in p.stderr
    assert not (tmp_path / "r" / "model").exists()


def test_help_is_fast_and_lazy():
    p = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tunewise", "--help"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0 and "train" in p.stdout
    assert "torch" not in {
        line.split("|")[-1].strip().split(".")[0] for line in p.stderr.splitlines()
    }


def test_unknown_option_is_a_usage_error_not_a_traceback(capsys):
    # typer 0.29 raises its own vendored click exceptions; they must still end in exit code 2
    code, out = _run(["train", "--no-such-flag", "1"], capsys)
    assert code == 2
    assert "No such option: --no-such-flag" in out.err
    assert "Traceback" not in out.err
