"""Background jobs: a training job survives a studio restart; a cancelled one is interrupted."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.serve.conftest import Client
from tests.studio.conftest import form, free_port, start_cli_studio, wait_for
from tunewise.studio.jobs import _alive


def _job(client: Client, job_id: int) -> dict:
    return next(j for j in client.get("/api/jobs")[2]["jobs"] if j["id"] == job_id)


def _run(client: Client, path: str) -> dict | None:
    found = [r for r in client.get("/api/runs")[2]["runs"] if r["path"] == path]
    return found[0] if found else None


def test_job_survives_restart_and_cancel(tiny_model_dir, tiny_files, tmp_path):
    reg, work = tmp_path / "runs.db", tmp_path / "work"
    port = free_port()
    first = start_cli_studio(reg, work, port)
    client = Client(port)
    try:
        # a run long enough to outlive the first studio, and a second one queued behind it
        status, _, out = client.post(
            "/api/jobs", form(tiny_model_dir, tiny_files, "long", epochs=30, batch_size=8)
        )
        assert status == 200, out
        job, path = out["job"], out["run_path"]
        assert out["command"].startswith("tunewise train --task classification --model ")
        status, _, queued = client.post("/api/jobs", form(tiny_model_dir, tiny_files, "later"))
        assert status == 200
        assert _job(client, queued["job"]["id"])["state"] == "queued"  # one at a time
        wait_for(lambda: (_run(client, str(Path(path).resolve())) or {}).get("status") == "running")
        pid = _job(client, job["id"])["pid"]
    finally:
        first.send_signal(signal.SIGKILL)  # the studio dies without a word
        first.wait()
    assert _alive(pid), "the training job died with the studio"

    second = start_cli_studio(reg, work, port)
    try:
        assert _job(client, job["id"])["state"] == "running"
        assert _job(client, job["id"])["pid"] == pid
        done = wait_for(lambda: _job(client, job["id"])["state"] not in ("queued", "running"), 240)
        assert done and _job(client, job["id"])["state"] == "done"
        assert _run(client, str(Path(path).resolve()))["status"] == "completed"

        # the queued job starts next; cancelling it stops the process, the run is interrupted
        later = queued["job"]["id"]
        wait_for(lambda: _job(client, later)["state"] == "running", 60)
        later_path = str(Path(queued["run_path"]).resolve())
        wait_for(lambda: (_run(client, later_path) or {}).get("status") == "running", 120)
        later_pid = _job(client, later)["pid"]
        status, _, out = client.post(f"/api/jobs/{later}/cancel")
        assert status == 200
        wait_for(lambda: _job(client, later)["state"] == "cancelled", 60)
        assert not _alive(later_pid)
        assert wait_for(lambda: _run(client, later_path)["status"] == "interrupted", 30)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
