"""[harden] exports: the probe is the run's own dev split (never test), --overwrite replaces
only an export tunewise wrote, a failed export writes nothing."""

from __future__ import annotations

import json

import pytest

import tunewise
from tests.conftest import make_rows, tiny_config, write_jsonl
from tunewise.errors import UserError
from tunewise.export import onnx as onnx_export
from tunewise.export.hf import export_hf


@pytest.fixture(scope="module")
def split_run(tiny_model_dir, tmp_path_factory):
    """A run whose dev split was cut from train (no dev file), with a test file."""
    tmp = tmp_path_factory.mktemp("split-run")
    data = {
        "train": write_jsonl(tmp / "train.jsonl", make_rows(200, 21)),
        "test": write_jsonl(tmp / "test.jsonl", make_rows(40, 22)),
    }
    return tunewise.train(tiny_config(tiny_model_dir, data, tmp / "run", epochs=1)).path


def test_probe_is_the_runs_own_dev_split_never_test(split_run, tmp_path):
    saved = split_run / "splits" / "dev.jsonl"
    assert saved.is_file()
    info = onnx_export.export_onnx(split_run, tmp_path / "e", probe_rows=10)
    assert "splits/dev.jsonl" in info["parity"]["probe"]
    assert "test.jsonl" not in info["parity"]["probe"]


def test_export_overwrite_replaces_only_a_tunewise_export(split_run, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.md").write_text("keep me")
    with pytest.raises(UserError, match="only replaces an export folder tunewise created"):
        export_hf(split_run, mine, overwrite=True, probe_rows=5)
    assert (mine / "notes.md").read_text() == "keep me"
    out = tmp_path / "hf"
    export_hf(split_run, out, probe_rows=5)
    export_hf(split_run, out, overwrite=True, probe_rows=5)  # its own export: replaced
    assert json.loads((out / "export.json").read_text())["format"] == "hf"
    f = tmp_path / "a-file"
    f.write_text("x")
    with pytest.raises(UserError, match="is a file"):
        onnx_export.export_onnx(split_run, f)


def test_an_export_never_overwrites_a_run(split_run, tmp_path):
    import shutil

    run_copy = tmp_path / "runcopy"
    shutil.copytree(split_run, run_copy)
    with pytest.raises(UserError, match="only replaces an export folder"):
        export_hf(split_run, run_copy, overwrite=True, probe_rows=5)
    assert (run_copy / "run.json").is_file()
