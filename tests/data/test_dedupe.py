"""[harden] `tunewise data dedupe`: exact and near duplicates within and across splits."""

from __future__ import annotations

import json

import pytest

from tunewise.cli.main import main
from tunewise.data import Example
from tunewise.data.deduplicate import dedupe_splits

LONG = "the film was very good indeed and the cast was fun to watch all along"


def ex(text, label="a", where=""):
    return Example(text, label, None, where)


def test_exact_within_and_across_splits_keep_one_row_and_eval_splits_win():
    r = dedupe_splits(
        {
            "train": [ex("Same  text", where="tr1"), ex("same text", where="tr2"), ex("x y")],
            "test": [ex("same TEXT", where="te1")],
        },
        near_threshold=None,
    )
    assert [e.text for e in r.kept["train"]] == ["x y"]
    assert [e.where for e in r.kept["test"]] == ["te1"]
    assert {(d["where"], d["kept_where"], d["reason"]) for d in r.dropped} == {
        ("tr1", "te1", "exact"),
        ("tr2", "te1", "exact"),
    }
    assert r.summary()["train"] == {
        "kept": 1,
        "dropped_exact": 2,
        "dropped_near": 0,
        "dropped_leak": 2,
    }


def test_near_duplicates_are_dropped_and_different_texts_kept():
    r = dedupe_splits(
        {
            "train": [ex(LONG + " today"), ex("an entirely different sentence about cats")],
            "dev": [ex(LONG, "b")],
        },
        near_threshold=0.8,
    )
    assert [e.text for e in r.kept["train"]] == ["an entirely different sentence about cats"]
    (d,) = r.dropped
    assert d["reason"] == "near" and d["kept_split"] == "dev" and 0.8 <= d["jaccard"] < 1
    assert d["kept_label"] == "b"  # the copies disagree on the label: both are shown


def test_cli_writes_kept_rows_and_what_it_dropped(tmp_path, capsys):
    train = tmp_path / "train.tsv"
    train.write_text(f'text\tlabel\n"quoted start\tpos\n"quoted start\tpos\n{LONG}\tneg\n')
    test = tmp_path / "test.jsonl"
    test.write_text(json.dumps({"text": LONG + " now", "label": "neg"}) + "\n")
    out = tmp_path / "o"
    main(["data", "dedupe", "--train", str(train), "--test", str(test), "--out", str(out)])
    kept = [json.loads(x) for x in (out / "train.jsonl").read_text().splitlines()]
    assert kept == [{"text": '"quoted start', "label": "pos"}]
    dropped = [json.loads(x) for x in (out / "dropped.jsonl").read_text().splitlines()]
    assert sorted(d["reason"] for d in dropped) == ["exact", "near"]
    assert json.loads((out / "dedupe.json").read_text())["splits"]["test"]["kept"] == 1
    assert "train: kept 1 of 3 rows" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:  # a second run does not replace the first's files
        main(["data", "dedupe", "--train", str(train), "--out", str(out)])
    assert e.value.code == 2


def test_the_doctor_names_a_command_that_exists():
    from pathlib import Path

    import tunewise.doctor.overlap as overlap
    from tunewise.cli.main import app

    src = Path(overlap.__file__).read_text()
    assert "`tunewise data dedupe`" in src
    data = next(g for g in app.registered_groups if g.name == "data").typer_instance
    assert "dedupe" in [c.name for c in data.registered_commands]
