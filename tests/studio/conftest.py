"""Studio tests: a real uvicorn server on 127.0.0.1, its own registry and work folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import make_rows, tiny_config, write_jsonl
from tests.serve.conftest import Client

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def registry_env(path: Path):
    """Runs trained inside the block are recorded in the registry at ``path``."""
    old = os.environ.get("TUNEWISE_REGISTRY")
    os.environ["TUNEWISE_REGISTRY"] = str(path)
    try:
        yield path
    finally:
        if old is None:
            os.environ.pop("TUNEWISE_REGISTRY", None)
        else:
            os.environ["TUNEWISE_REGISTRY"] = old


@contextmanager
def studio_server(registry: Path, workdir: Path, token: str | None = None):
    """The studio app on uvicorn in a thread at 127.0.0.1:<free port>; yields (Client, url)."""
    import uvicorn

    from tunewise.studio import create_app, make_studio

    app = create_app(make_studio(registry, workdir, token))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    for _ in range(1000):
        if server.started:
            break
        time.sleep(0.01)
    assert server.started, "studio did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Client(port, token), f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        t.join(15)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_cli_studio(registry: Path, workdir: Path, port: int) -> subprocess.Popen:
    """`tunewise studio` in its own process (what a person starts), answering on ``port``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TUNEWISE_REGISTRY=str(registry))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tunewise",
            "studio",
            "--port",
            str(port),
            "--workdir",
            str(workdir),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    client = Client(port)
    for _ in range(600):
        try:
            if client.get("/api/jobs")[0] == 200:
                return proc
        except OSError:
            pass
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.05)
    raise AssertionError("studio did not answer")


def wait_for(fn, timeout: float = 120, every: float = 0.2):
    """The first truthy value of ``fn()`` within ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {fn}")


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("studio-data")
    return {
        s: write_jsonl(tmp / f"{s}.jsonl", make_rows(n, i + 20))
        for i, (s, n) in enumerate((("train", 160), ("dev", 40), ("test", 60)))
    }


def train_tiny(model_dir: Path, files: dict, out: Path, **train) -> Path:
    import tunewise

    cfg = tiny_config(model_dir, files, out, **{"epochs": 8, **train})
    cfg["task"] = {"label_issues": False}
    return tunewise.train(cfg).path


def form(model_dir: Path, files: dict, name: str, **kw) -> dict:
    """The new-run form for a seconds-long tiny run."""
    return {
        "name": name,
        "train": str(files["train"]),
        "dev": str(files["dev"]),
        "test": str(files["test"]),
        "model": str(model_dir),
        "epochs": 2,
        "batch_size": 16,
        "lr": 2e-3,
        "max_length": 32,
        "extra": ["train.bf16=false", "train.threads=1", "task.label_issues=false"],
        **kw,
    }
