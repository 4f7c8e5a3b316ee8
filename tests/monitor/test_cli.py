"""`tunewise monitor` as a user runs it: a real (tiny) run's predictor, user errors in one
line with exit code 2, and a process killed mid-stream that resumes without loss or rescoring."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.monitor.conftest import stream, write_stream
from tunewise.cli.main import main


def _cli(*args, **kw):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(["src", os.getcwd()]))
    return subprocess.run(
        [sys.executable, "-m", "tunewise", "monitor", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        **kw,
    )


def test_scores_carry_calibrated_probabilities_and_the_run(tiny_run):
    from tunewise.apps.monitor.scoring import Scorer

    s = Scorer(tiny_run, batch_size=8)
    assert (s.negative, s.positive) == ("neg", "pos")
    out = s.score(["the film was good", "awful and boring"] * 5)
    assert len(out) == 10
    for sc in out:
        assert abs(sum(sc.probs.values()) - 1) < 1e-4 and 0 <= sc.p_neg <= 1
        assert sc.polarity == ("negative" if sc.label == "neg" else "positive")
    assert s.run_id == tiny_run.name and len(s.version) == 12
    # the predictor's own answers, temperature included
    ref = s.predictor.predict(["the film was good"])[0]
    assert abs(ref["scores"]["neg"] - out[0].p_neg) < 1e-6


def test_replay_cli_stores_scores_with_run_id_and_version(tiny_run, tmp_path):
    path = write_stream(tmp_path / "s.jsonl", stream(days=4, per_day=5, burst=None))
    db = tmp_path / "m.db"
    r = _cli(
        "replay",
        "--model",
        tiny_run,
        "--source",
        path,
        "--time-column",
        "time",
        "--entity-column",
        "ticker",
        "--db",
        db,
        "--alerts",
        tmp_path / "a.jsonl",
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["scored"] == 60 and summary["store"]["items"] == 60
    con = sqlite3.connect(db)
    rows = con.execute("SELECT DISTINCT run_id, run_version FROM scores").fetchall()
    assert rows == [(tiny_run.name, summary["run"]["version"])]
    probs = json.loads(con.execute("SELECT probs FROM scores LIMIT 1").fetchone()[0])
    assert set(probs) == {"neg", "pos"}


@pytest.mark.parametrize(
    "args, says",
    [
        (["replay", "--model", "{run}", "--source", "nope.jsonl"], "--source nope.jsonl: no such"),
        (["replay", "--model", "{tmp}/absent", "--source", "{src}"], "no such run directory"),
        (
            ["replay", "--model", "{run}", "--source", "{src}", "--window", "soon"],
            "--window 'soon'",
        ),
        (["replay", "--model", "{run}", "--source", "{src}", "--speed", "0"], "--speed '0'"),
        (["replay", "--model", "{run}", "--source", "{src}", "--alpha", "2"], "--alpha 2"),
        (["replay", "--model", "{run}", "--source", "{src}", "--db", "{tmp}"], "is a folder"),
        (
            ["replay", "--model", "{run}", "--source", "{src}", "--negative-label", "bad"],
            "the run's labels are",
        ),
        (
            ["replay", "--model", "{run}", "--source", "{src}", "--baseline-mode", "mine"],
            "--baseline-mode 'mine'",
        ),
        (["serve", "--db", "{tmp}/none.db"], "no such file"),
        (["redetect", "--db", "{tmp}/none.db", "--alerts", "{tmp}/r.jsonl"], "no such file"),
        (["redetect", "--db", "{tmp}/none.db", "--alerts", "{src}"], "exists; give a new file"),
        (["evaluate", "--alerts", "{tmp}/none.jsonl", "--prices", "p.csv"], "no such file"),
        (
            ["backfill", "--model", "{run}", "--source", "{src}", "--engine", "spark"],
            "--engine 'spark'",
        ),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(tiny_run, tmp_path, capsys, args, says):
    src = write_stream(tmp_path / "s.jsonl", stream(days=1, per_day=2, burst=None))
    args = [a.format(run=tiny_run, tmp=tmp_path, src=src) for a in args]
    if args[0] != "serve" and "--db" not in args and "--alerts" not in args:
        args += ["--db", str(tmp_path / "m.db")]
    with pytest.raises(SystemExit) as e:
        main(["monitor", *args])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert says in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_killed_mid_stream_then_restarted_loses_and_rescores_nothing(tiny_run, tmp_path):
    items = stream(days=6, per_day=10, burst=None)  # 180 items over 6 days
    path = write_stream(tmp_path / "s.jsonl", items)
    db = tmp_path / "m.db"
    args = [
        "replay",
        "--model",
        tiny_run,
        "--source",
        path,
        "--time-column",
        "time",
        "--entity-column",
        "ticker",
        "--db",
        db,
        "--speed",
        "40000",
        "--batch-size",
        "8",
    ]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(["src", os.getcwd()]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tunewise", "monitor", *map(str, args)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    n = 0
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            n = sqlite3.connect(db).execute("SELECT count(*) FROM scores").fetchone()[0]
        except sqlite3.Error:
            n = 0
        if n >= 30:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the replay ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    con = sqlite3.connect(db)
    killed_at = con.execute("SELECT count(*) FROM scores").fetchone()[0]
    assert 0 < killed_at < len(items)
    con.close()
    args[args.index("--speed") + 1] = "max"
    r = _cli(*args)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    # the scores table refuses a second score of an item, so a rescoring would have failed
    assert out["store"]["items"] == out["store"]["scored"] == len(items)
    assert out["scored"] == len(items) - killed_at
    ids = {r[0] for r in sqlite3.connect(db).execute("SELECT id FROM items")}
    assert ids == {i["id"] for i in items}


def test_run_with_an_http_source_scores_what_is_posted(tiny_run, tmp_path):
    import urllib.request

    from tests.pgserver import free_port as _free_port

    port = _free_port()
    db = tmp_path / "m.db"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(["src", os.getcwd()]))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tunewise",
            "monitor",
            "run",
            "--model",
            str(tiny_run),
            "--source",
            f"http:{port}",
            "--db",
            str(db),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.1)
        body = json.dumps({"items": [{"text": "$AAPL awful and boring"}, {"text": "good $XOM"}]})
        req = urllib.request.Request(
            base + "/v1/ingest", body.encode(), {"Content-Type": "application/json"}
        )
        got = json.loads(urllib.request.urlopen(req, timeout=30).read())
        assert got["accepted"] == 2
        health = json.loads(urllib.request.urlopen(base + "/healthz", timeout=5).read())
        assert health["scored"] == 2
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    ents = {r[0] for r in sqlite3.connect(db).execute("SELECT entity FROM item_entities")}
    assert ents == {"AAPL", "XOM"}


def test_replay_scores_in_large_calls_and_run_in_small_ones(tiny_run, tmp_path, monkeypatch):
    """The model's calls for N items: replay and backfill gather 2,048 (the model is several
    times faster in large calls), a live run 64; the forward batches stay 64 either way."""
    from tunewise.tasks.classification.predictor import Predictor

    calls: list[tuple[int, int]] = []
    real = Predictor.predict

    def counted(self, texts, *a, **kw):
        calls.append((len(texts), self.batch_size))
        return real(self, texts, *a, **kw)

    monkeypatch.setattr(Predictor, "predict", counted)
    items = stream(days=5, per_day=10, burst=None)  # 150 unique texts
    path = write_stream(tmp_path / "s.jsonl", items)
    common = ["--model", tiny_run, "--source", path, "--time-column", "time"]
    common += ["--entity-column", "ticker"]
    for cmd, want in (("replay", [150]), ("backfill", [150]), ("run", [64, 64, 22])):
        calls.clear()
        main(["monitor", cmd, *map(str, common), "--db", str(tmp_path / f"{cmd}.db")])
        assert [n for n, _ in calls] == want, (cmd, calls)
        assert {b for _, b in calls} == {64}
    calls.clear()
    main(["monitor", "replay", *map(str, common), "--db", str(tmp_path / "b.db")]
         + ["--batch-size", "40"])  # fmt: skip
    assert [n for n, _ in calls] == [40, 40, 40, 30] and {b for _, b in calls} == {40}
