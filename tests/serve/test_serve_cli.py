"""`tunewise serve` as a user runs it: a subprocess on a free port, stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from tests.serve.conftest import Client


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_cli_run_dir_with_api_key_then_sigterm(tiny_run, tmp_path):
    port = _free_port()
    env = dict(os.environ, MY_KEY="k1", HF_HUB_OFFLINE="1")
    log = open(tmp_path / "serve.log", "w")
    cmd = [sys.executable, "-m", "tunewise", "serve", f"rt={tiny_run}", "--port", str(port)]
    proc = subprocess.Popen(
        cmd + ["--api-key-env", "MY_KEY", "--max-batch", "8"], stdout=log, stderr=log, env=env
    )
    try:
        client = Client(port, key="k1")
        for _ in range(240):
            try:
                if client.get("/readyz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.25)
        status, _, body = client.post("/v1/classify", {"texts": ["good film", "dull plot"]})
        assert status == 200 and body["model"] == "rt" and len(body["results"]) == 2
        assert Client(port).post("/v1/classify", {"texts": ["a"]})[0] == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    text = (tmp_path / "serve.log").read_text()
    assert code == 0, text
    assert "serving 'rt': classification, torch" in text and "API key required" in text
    assert "Finished server process" in text and "requests in flight were answered" in text


def test_serve_cli_user_errors_are_one_line(tmp_path, capsys):
    import pytest

    from tunewise.cli.main import main

    for args, says in (
        ([str(tmp_path / "missing")], "no such directory"),
        ([str(tmp_path), "--max-queue", "10"], "max_queue (10) must be at least max_texts"),
        ([str(tmp_path)], "not a model tunewise can serve"),
        ([str(tmp_path), "--backend", "tpu"], "the choices are auto, torch, onnx"),
    ):
        with pytest.raises(SystemExit) as e:
            main(["serve", *args])
        err = capsys.readouterr().err
        assert e.value.code == 2 and err.startswith("error: ") and says in err, err
        assert len(err.strip().splitlines()) == 1
