"""The run registry: every run recorded with status, config and metrics; concurrent writers;
a SIGKILLed run reads as interrupted; `runs ls/show/compare/rm`."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tunewise
from tests.conftest import make_rows, tiny_config, write_jsonl
from tunewise.cli.main import main
from tunewise.errors import UserError
from tunewise.registry import Registry, default_path


def test_tests_never_touch_the_users_registry():
    assert default_path() != Path.home() / ".tunewise" / "runs.db"


@pytest.fixture(scope="module")
def two_runs(tiny_model_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reg")
    data = {
        s: write_jsonl(tmp / f"{s}.jsonl", make_rows(n, i))
        for i, (s, n) in enumerate((("train", 64), ("dev", 32), ("test", 48)))
    }
    runs = []
    for lr in (2e-3, 1e-5):
        cfg = tiny_config(tiny_model_dir, data, tmp / f"lr-{lr}", lr=lr, epochs=2)
        cfg["doctor"] = {"enabled": False}
        runs.append(tunewise.train(cfg))
    return runs, data, tmp


def _cli(argv, capsys):
    main(argv)
    return capsys.readouterr().out


def test_completed_runs_recorded_with_config_and_metrics(two_runs, capsys):
    (a, b), _, _ = two_runs
    reg = Registry()
    ra = reg.get(str(a.path))
    assert ra["status"] == "completed" and ra["path"] == str(a.path.resolve())
    assert ra["config"]["train.lr"] == 2e-3
    assert ra["metrics"]["test.accuracy"] == pytest.approx(a.metrics["test"]["accuracy"])
    out = _cli(
        ["runs", "ls", "--filter", str(a.path.parent), "--sort", "test.accuracy", "--desc"], capsys
    )
    lines = [line for line in out.splitlines() if str(a.path.parent) in line]
    assert len(lines) == 2
    best = max((a, b), key=lambda r: r.metrics["test"]["accuracy"])
    assert lines[0].endswith(str(best.path.resolve()))
    shown = _cli(["runs", "show", str(ra["id"])], capsys)
    assert "train.lr" in shown and str(a.path.resolve()) in shown


def test_compare_side_by_side_with_significance_test(two_runs, capsys):
    (a, b), _, _ = two_runs
    ia, ib = Registry().get(str(a.path))["id"], Registry().get(str(b.path))["id"]
    out = _cli(["runs", "compare", str(ia), str(ib), "--n-boot", "200"], capsys)
    assert "train.lr" in out and "0.002" in out and "1e-05" in out
    assert "test.accuracy" in out
    assert "McNemar" in out  # the paired test from `tunewise compare` ran on the test rows


def test_failed_run_recorded(tiny_model_dir, tmp_path):
    data = {"train": tmp_path / "missing.jsonl"}
    cfg = tiny_config(tiny_model_dir, data, tmp_path / "bad")
    with pytest.raises(UserError):
        tunewise.train(cfg)
    r = Registry().get(str(tmp_path / "bad"))
    assert r["status"] == "failed" and "missing.jsonl" in r["error"]


def test_rm_removes_from_registry(tmp_path, capsys):
    from tunewise.registry import record_run
    from tunewise.rundir import RunDir

    run = RunDir(tmp_path / "gone")
    run.start({"model": {"name": "x"}}, resume=False)
    run.set_status("failed", error="boom")
    rid = record_run(run.path)
    _cli(["runs", "rm", str(rid), "--files"], capsys)
    with pytest.raises(UserError):
        Registry().get(str(rid))
    assert not run.path.exists()


_WRITER = """
import sys
from tunewise.registry import Registry
reg, k, n = Registry(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    row = {"path": f"/runs/w{k}-{i}", "name": f"w{k}-{i}", "status": "running", "pid": 1}
    reg.upsert(row)
    reg.upsert({**row, "status": "completed", "metrics": '{"test.accuracy": %d}' % i})
    assert len(reg.runs()) >= i + 1
"""


def test_concurrent_writers_from_several_processes(tmp_path):
    db = tmp_path / "conc.db"
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(db), str(k), "25"], env=env)
        for k in range(4)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    runs = Registry(db).runs()
    assert len(runs) == 100
    assert {r["status"] for r in runs} == {"completed"}
    assert len({r["id"] for r in runs}) == 100


def test_sigkilled_run_reads_interrupted(tiny_model_dir, tmp_path, capsys):
    data = {
        s: write_jsonl(tmp_path / f"{s}.jsonl", make_rows(n, i))
        for i, (s, n) in enumerate((("train", 400), ("dev", 40), ("test", 40)))
    }
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "tunewise", "train", "--model", str(tiny_model_dir)]
    cmd += ["--train", str(data["train"]), "--dev", str(data["dev"]), "--test", str(data["test"])]
    cmd += ["--epochs", "500", "--max-length", "32", "--no-doctor", "--out", str(out)]
    p = subprocess.Popen(cmd, env=dict(os.environ, PYTHONPATH=os.getcwd()))
    reg = Registry()
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if reg.get(str(out))["status"] == "running":
                break
        except UserError:
            pass
        time.sleep(0.3)
    else:
        p.kill()
        pytest.fail("the run never showed as running")
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert reg.get(str(out))["status"] == "interrupted"
    ls = _cli(["runs", "ls", "--status", "interrupted"], capsys)
    assert str(out.resolve()) in ls
