"""[harden] `predict` never loses data: -o equal to -i refused, -o a folder is one line, and a
.txt input is split on newlines only."""

from __future__ import annotations

import json

import pytest

from tunewise.cli.main import main


def _run(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    return e.value.code, capsys.readouterr()


def test_output_equal_to_input_is_refused_and_the_input_kept(tiny_run, tmp_path, capsys):
    f = tmp_path / "in.jsonl"
    body = '{"text": "good film", "label": "pos"}\n'
    f.write_text(body)
    code, out = _run(["predict", str(tiny_run), "-i", str(f), "-o", str(f)], capsys)
    assert code == 2 and "is the input file" in out.err
    assert len(out.err.strip().splitlines()) == 1
    assert f.read_text() == body


def test_output_a_folder_is_one_line_and_leaves_nothing(tiny_run, tmp_path, capsys):
    f = tmp_path / "in.txt"
    f.write_text("good film\n")
    d = tmp_path / "outdir"
    d.mkdir()
    code, out = _run(["predict", str(tiny_run), "-i", str(f), "-o", str(d)], capsys)
    assert code == 2
    assert out.err.strip().splitlines() == [
        f"error: --output {d}: is a folder; give a file path, e.g. {d}/out.jsonl"
    ]
    assert list(d.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == [
        "in.txt",
        "outdir",
    ]


def test_txt_lines_split_on_newlines_only(tiny_run, tmp_path, capsys):
    f = tmp_path / "in.txt"
    f.write_text("good film\u2028still the first line\nsecond \x0c line\r\n", newline="")
    main(["predict", str(tiny_run), "-i", str(f)])
    rows = [json.loads(x) for x in capsys.readouterr().out.split("\n") if x]
    assert [r["text"] for r in rows] == ["good film\u2028still the first line", "second \x0c line"]


def test_evaluate_shows_the_bootstrap_intervals_its_title_promises(tiny_run, tmp_path, capsys):
    from tests.conftest import make_rows, write_jsonl

    f = write_jsonl(tmp_path / "e.jsonl", make_rows(40, 5))
    main(["evaluate", str(tiny_run), "--data", str(f), "--output", str(tmp_path / "m.json")])
    out = capsys.readouterr().out
    assert "bootstrap 95% interval" in out
    saved = json.loads((tmp_path / "m.json").read_text())
    lo, hi = saved["ci"]["accuracy"]
    assert lo <= saved["accuracy"] <= hi
    assert f"[{lo:.3f}, {hi:.3f}]" in out
