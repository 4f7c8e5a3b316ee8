"""[harden] a damaged model folder is refused naming the file, never answers garbage."""

from __future__ import annotations

import json
import shutil

import pytest

from tunewise.cli.main import main


@pytest.fixture
def copy(tiny_run, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(tiny_run, dst)
    return dst


def _predict(run, tmp_path, capsys):
    f = tmp_path / "in.txt"
    f.write_text("good film\n")
    with pytest.raises(SystemExit) as e:
        main(["predict", str(run), "-i", str(f)])
    err = capsys.readouterr().err.strip().splitlines()
    return e.value.code, err


def test_the_run_records_a_manifest(tiny_run):
    files = json.loads((tiny_run / "model" / "manifest.json").read_text())["files"]
    assert "model.safetensors" in files and "tokenizer.json" in files
    assert all(len(v["sha256"]) == 64 for v in files.values())


@pytest.mark.parametrize(
    "damage,says",
    [
        (lambda m: (m / "tokenizer.json").unlink(), "tokenizer.json: missing"),
        (
            lambda m: (m / "model.safetensors").write_bytes(
                (m / "model.safetensors").read_bytes()[:1000]
            ),
            "model.safetensors: 1000 bytes",
        ),
        (lambda m: (m / "tunewise.json").write_text("{not json"), "tunewise.json"),
        (lambda m: (m / "config.json").unlink(), "config.json: missing"),
    ],
)
def test_damaged_files_are_named_in_one_line(copy, tmp_path, capsys, damage, says):
    damage(copy / "model")
    code, err = _predict(copy, tmp_path, capsys)
    assert code == 2 and len(err) == 1 and says in err[0], err


def test_corrupt_run_json_is_one_line(copy, tmp_path, capsys):
    (copy / "run.json").write_text('{"status": "comp')
    code, err = _predict(copy, tmp_path, capsys)
    assert code == 2 and len(err) == 1 and "run.json: damaged, not valid JSON" in err[0], err


def test_tokenizer_missing_without_a_manifest_is_refused(copy, tmp_path, capsys):
    (copy / "model" / "manifest.json").unlink()  # a run saved before manifests
    (copy / "model" / "tokenizer.json").unlink()
    for f in ("vocab.txt",):
        (copy / "model" / f).unlink(missing_ok=True)
    code, err = _predict(copy, tmp_path, capsys)
    assert code == 2 and "no tokenizer files" in err[0] and "[UNK]" in err[0]
