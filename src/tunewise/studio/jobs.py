"""Background jobs: a queue persisted in SQLite, each job one `tunewise ...` subprocess.

A job is a command line (``tunewise train ...``, ``tunewise export ...``). It runs in its own
process group and session, so a studio that stops or restarts neither kills nor loses it: the
queue is a file, and on start the studio reconciles every job marked running with its process
(alive: keep watching it) and with its run's ``run.json`` (gone: done or failed by the run's
status). One job runs at a time by default (``slots``): training uses every core here.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

from tunewise.rundir import RunDir

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    argv TEXT NOT NULL,
    run_path TEXT,
    state TEXT NOT NULL,
    pid INTEGER,
    created TEXT NOT NULL,
    started TEXT,
    ended TEXT,
    returncode INTEGER,
    log TEXT,
    note TEXT
);
"""
ACTIVE = ("queued", "running")
UNQUEUED = ("serve",)
"""Kinds that start at once and hold no slot (a server waits for requests, it does not train)."""
GRACE_S = 15.0
"""How long a cancelled job has to record its status after SIGINT before SIGKILL."""


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _alive(pid: int | None) -> bool:
    """Whether ``pid`` is a live tunewise process (not a zombie, not a reused pid)."""
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
        return b"tunewise" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True


def cli_line(argv: list[str]) -> str:
    """The command a person would type for ``argv`` (``python -m tunewise`` -> ``tunewise``)."""
    import shlex

    if argv[:3] == [sys.executable, "-m", "tunewise"]:
        argv = ["tunewise", *argv[3:]]
    return shlex.join(argv)


class JobQueue:
    """The studio's job queue: ``submit``, ``cancel``, ``jobs``; ``tick`` starts and reaps."""

    def __init__(self, path: Path, logs: Path, slots: int = 1, env: dict | None = None):
        self.path, self.logs, self.slots = Path(path), Path(logs), slots
        self.env = env
        self._children: dict[int, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.logs.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con:
            con.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.row_factory = sqlite3.Row
        # the default rollback journal, not WAL: the worker's reads every tick leave no
        # -wal/-shm files behind (a folder being removed under a stopping studio stays empty)
        return con

    def _update(self, job_id: int, **cols) -> None:
        sets = ", ".join(f"{k}=?" for k in cols)
        with closing(self._connect()) as con:
            con.execute(f"UPDATE jobs SET {sets} WHERE id=?", [*cols.values(), job_id])

    # -- the public side ------------------------------------------------------------------
    def submit(self, kind: str, argv: list[str], run_path: str | Path | None = None) -> dict:
        """Queue a command; it starts when a slot is free (``tick``)."""
        with closing(self._connect()) as con:
            cur = con.execute(
                "INSERT INTO jobs (kind, argv, run_path, state, created) VALUES (?,?,?,?,?)",
                (kind, json.dumps(argv), str(run_path) if run_path else None, "queued", _now()),
            )
            job_id = cur.lastrowid
        self.tick()
        return self.get(job_id)

    def jobs(self) -> list[dict]:
        with closing(self._connect()) as con:
            return [self._row(r) for r in con.execute("SELECT * FROM jobs ORDER BY id DESC")]

    def get(self, job_id: int) -> dict | None:
        with closing(self._connect()) as con:
            r = con.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return self._row(r) if r else None

    def for_run(self, run_path: str | Path) -> dict | None:
        """The newest job that writes ``run_path``."""
        with closing(self._connect()) as con:
            r = con.execute(
                "SELECT * FROM jobs WHERE run_path=? ORDER BY id DESC LIMIT 1", (str(run_path),)
            ).fetchone()
        return self._row(r) if r else None

    @staticmethod
    def _row(r: sqlite3.Row) -> dict:
        d = dict(r)
        d["argv"] = json.loads(d["argv"])
        d["command"] = cli_line(d["argv"])
        return d

    def cancel(self, job_id: int) -> dict | None:
        """Cancel a queued job, or stop a running one: SIGINT to its process group (the
        runner records ``interrupted``), SIGKILL after ``GRACE_S`` if it is still there."""
        job = self.get(job_id)
        if job is None or job["state"] not in ACTIVE:
            return job
        if job["state"] == "queued":
            self._update(job_id, state="cancelled", ended=_now())
            return self.get(job_id)
        pid = job["pid"]
        self._update(job_id, note="cancelling")
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGINT)
            except OSError:
                pass
            threading.Thread(target=self._reap_later, args=(job_id, pid), daemon=True).start()
        return self.get(job_id)

    def _reap_later(self, job_id: int, pid: int) -> None:
        deadline = time.time() + GRACE_S
        while time.time() < deadline and _alive(pid):
            self._poll_child(pid)
            time.sleep(0.2)
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        self.tick()

    # -- the worker -----------------------------------------------------------------------
    def _poll_child(self, pid: int) -> int | None:
        child = self._children.get(pid)
        return child.poll() if child is not None else None

    def _finish(self, job: dict, returncode: int | None) -> None:
        status = RunDir(job["run_path"]).status() if job["run_path"] else None
        cancelled = job["note"] == "cancelling"
        if cancelled:
            state = "cancelled"
        elif returncode is not None:
            state = "done" if returncode == 0 else "failed"
        else:  # not our child (started before a restart): the run says how it ended
            state = "done" if status in (None, "completed") else "failed"
        if status == "running" and job["run_path"]:  # killed before it could say so
            RunDir(job["run_path"]).set_status("interrupted")
        self._update(job["id"], state=state, ended=_now(), returncode=returncode)
        self._children.pop(job["pid"], None)

    def tick(self) -> None:
        """Reap finished jobs and start queued ones while a slot is free."""
        with self._lock:
            running = [j for j in self.jobs() if j["state"] == "running"]
            for job in running:
                rc = self._poll_child(job["pid"])
                if rc is not None or not _alive(job["pid"]):
                    self._finish(job, rc)
            jobs = self.jobs()
            busy = sum(1 for j in jobs if j["state"] == "running" and j["kind"] not in UNQUEUED)
            queued = sorted((j for j in jobs if j["state"] == "queued"), key=lambda j: j["id"])
            for job in [j for j in queued if j["kind"] in UNQUEUED]:
                self._start(job)
            waiting = [j for j in queued if j["kind"] not in UNQUEUED]
            for job in waiting[: max(0, self.slots - busy)]:
                self._start(job)

    def _start(self, job: dict) -> None:
        log = self.logs / f"job-{job['id']}.log"
        try:
            with open(log, "ab") as out:
                child = subprocess.Popen(
                    job["argv"],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # own process group: survives the studio, cancellable
                    env=self.env,
                )
        except OSError as e:
            self._update(job["id"], state="failed", ended=_now(), note=f"could not start: {e}")
            return
        self._children[child.pid] = child
        self._update(job["id"], state="running", pid=child.pid, started=_now(), log=str(log))

    def start(self, every_s: float = 0.5) -> None:
        """Reconcile the queue with what is alive, then keep it moving in a daemon thread."""
        self.tick()

        def loop():
            while not self._stop.wait(every_s):
                try:
                    self.tick()
                except sqlite3.Error:  # a locked file for a moment: try again next tick
                    pass

        self._thread = threading.Thread(target=loop, name="studio-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (jobs keep running: a restarted studio picks them up)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
