"""[harden] --overwrite deletes only a folder tunewise created, never a live run; --out a file
is one line."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from tunewise.cli.main import main
from tunewise.errors import UserError
from tunewise.outdir import OWNER_FILE
from tunewise.rundir import RunDir, prepare_out


def test_overwrite_refuses_a_folder_that_merely_holds_run_json(tmp_path):
    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    (proj / "run.json").write_text("{}")
    (proj / "src" / "keep.py").write_text("keep = 1\n")
    with pytest.raises(UserError, match="only replaces a run folder tunewise created"):
        prepare_out(proj, overwrite=True)
    assert (proj / "src" / "keep.py").is_file()


def test_overwrite_replaces_a_run_tunewise_started(tmp_path):
    run = RunDir(tmp_path / "run")
    run.start({"a": 1}, resume=False)
    run.set_status("failed")
    assert (run.path / OWNER_FILE).is_file()
    prepare_out(run.path, overwrite=True)
    assert not run.path.exists()


def test_overwrite_refuses_a_run_a_live_process_is_writing(tmp_path):
    run = RunDir(tmp_path / "run")
    run.start({"a": 1}, resume=False)
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        info = json.loads(run.run_file.read_text())
        info.update(status="running", pid=writer.pid, host=socket.gethostname())
        run.run_file.write_text(json.dumps(info))
        with pytest.raises(UserError, match=f"a run in progress \\(process {writer.pid}\\)"):
            prepare_out(run.path, overwrite=True)
        assert run.run_file.is_file()
    finally:
        writer.kill()
        writer.wait()
    prepare_out(run.path, overwrite=True)  # its writer is gone: now it may go
    assert not run.path.exists()


def test_out_that_is_a_file_is_one_line(tmp_path, capsys):
    f = tmp_path / "data.jsonl"
    f.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n')
    with pytest.raises(SystemExit) as e:
        main(["train", "--model", "minilm", "--train", str(f), "--out", str(f)])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --out {f}: is a file, not a folder; give a folder path"]


def test_a_run_saved_before_markers_is_still_replaced_but_not_with_foreign_files(tmp_path):
    run = RunDir(tmp_path / "old")
    run.start({"a": 1}, resume=False)
    run.set_status("completed")
    (run.path / OWNER_FILE).unlink()  # as an older tunewise left it
    (run.path / "model").mkdir()
    prepare_out(run.path, overwrite=True)
    assert not run.path.exists()
    run.start({"a": 1}, resume=False)
    (run.path / OWNER_FILE).unlink()
    (run.path / "NOTES.md").write_text("mine")
    with pytest.raises(UserError, match="only replaces a run folder tunewise created"):
        prepare_out(run.path, overwrite=True)
    assert (run.path / "NOTES.md").is_file()
