"""`tunewise doctor`: a summary, doctor.json, and exit 2 with one line on errors."""

import json

import pytest

from tests.conftest import make_rows, write_jsonl
from tunewise.cli.main import main


def _run(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    return e.value.code, capsys.readouterr()


def test_dev_equal_to_train_exits_2_with_one_line(tmp_path, capsys, tiny_model_dir):
    train = write_jsonl(tmp_path / "train.jsonl", make_rows(60, 1))
    argv = ["doctor", "--train", str(train), "--dev", str(train), "--model", str(tiny_model_dir)]
    code, out = _run(argv + ["--out", str(tmp_path / "o")], capsys)
    assert code == 2
    last = out.err.strip().splitlines()[-1]
    assert last.startswith("error: doctor found 1 error(s): same_splits;")
    assert "--allow" in last and "Traceback" not in out.err
    d = json.loads((tmp_path / "o" / "doctor.json").read_text())
    assert d["errors"] == ["same_splits"]


def test_clean_data_writes_report_and_exits_0(tmp_path, capsys, monkeypatch, tiny_model_dir):
    train = write_jsonl(tmp_path / "train.jsonl", make_rows(60, 1))
    test = write_jsonl(tmp_path / "test.jsonl", make_rows(20, 3))
    monkeypatch.chdir(tmp_path)
    main(["doctor", "--train", str(train), "--test", str(test), "--model", str(tiny_model_dir)])
    d = json.loads((tmp_path / "doctor.json").read_text())
    assert d["errors"] == [] and d["splits"] == {"train": 60, "test": 20}
    length = next(f for f in d["findings"] if f["check"] == "length")
    assert "skipped" not in length["details"]
    assert "cross_split_overlap" in capsys.readouterr().err


def test_train_flags_map_to_the_doctor_config(tmp_path, monkeypatch):
    import tunewise.run.runner as pipeline

    seen = {}

    def fake_train(cfg, **kwargs):
        seen["cfg"] = cfg
        raise SystemExit(0)

    monkeypatch.setattr(pipeline, "train", fake_train)
    f = tmp_path / "t.csv"
    f.write_text("text,label\na,x\nb,y\n")
    base = ["train", "--train", str(f), "--out", str(tmp_path / "r")]
    with pytest.raises(SystemExit):
        main(base + ["--allow", "same_splits", "--allow", "token_tags"])
    assert seen["cfg"].doctor.allow == ["same_splits", "token_tags"]
    assert seen["cfg"].doctor.enabled is True
    with pytest.raises(SystemExit):
        main(base + ["--no-doctor"])
    assert seen["cfg"].doctor.enabled is False and seen["cfg"].doctor.allow == []
