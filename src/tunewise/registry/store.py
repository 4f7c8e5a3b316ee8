"""SQLite store of runs: WAL journal and a busy timeout so several processes can write at once.

Where: ``$TUNEWISE_REGISTRY`` (a file path; ``off`` disables recording), else
``~/.tunewise/runs.db`` -- one registry per user, whatever directory a run is started from.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import yaml

from tunewise.errors import UserError
from tunewise.rundir import RunDir, _pid_alive, read_json

ENV = "TUNEWISE_REGISTRY"
BUSY_MS = 30_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    pid INTEGER,
    host TEXT,
    started TEXT,
    updated TEXT,
    finished TEXT,
    model TEXT,
    task TEXT,
    study TEXT,
    config TEXT,
    metrics TEXT,
    error TEXT,
    parent TEXT,
    lineage TEXT
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE INDEX IF NOT EXISTS runs_study ON runs(study);
"""
_COLUMNS = (
    "path name status pid host started updated finished model task study config metrics error "
    "parent lineage"
).split()
_ADDED = {"parent": "TEXT", "lineage": "TEXT"}
"""Columns added after the first schema: a registry file from before gains them on open."""


def default_path() -> Path | None:
    """The registry file: ``$TUNEWISE_REGISTRY`` or ``~/.tunewise/runs.db``; None when ``off``."""
    env = os.environ.get(ENV, "").strip()
    if env.lower() in ("off", "0", "none", "false"):
        return None
    return Path(env).expanduser() if env else Path.home() / ".tunewise" / "runs.db"


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def summary_metrics(metrics: dict) -> dict:
    """The numbers worth a column: dev/test scalar metrics and training throughput, flattened."""
    keep = {}
    for split in ("dev", "test"):
        for k, v in (metrics.get(split) or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                keep[f"{split}.{k}"] = v
    for k in ("steps", "epochs", "train_seconds", "examples_per_s", "processes"):
        v = (metrics.get("training") or {}).get(k)
        if v is not None:
            keep[f"training.{k}"] = v
    for k in ("best_step", "metric_for_best", "threshold"):
        if k in metrics:
            keep[k] = metrics[k]
    return keep


class Registry:
    """One SQLite registry file. Every call opens its own connection (safe across processes)."""

    def __init__(self, path: str | Path | None = None):
        p = Path(path) if path is not None else default_path()
        if p is None:
            raise UserError(f"the run registry is off (${ENV}=off); set {ENV} to a file path")
        self.path = p

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=BUSY_MS / 1000, isolation_level=None)
        except (OSError, sqlite3.Error) as e:
            raise UserError(f"{self.path}: cannot open the run registry ({e}); set {ENV}") from None
        con.row_factory = sqlite3.Row
        con.execute(f"PRAGMA busy_timeout={BUSY_MS}")
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(_SCHEMA)
        have = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
        for col, kind in _ADDED.items():
            if col not in have:
                try:
                    con.execute(f"ALTER TABLE runs ADD COLUMN {col} {kind}")
                except sqlite3.OperationalError:  # another process added it first
                    pass
        return con

    # -- writing --------------------------------------------------------------------------
    def upsert(self, row: dict) -> int:
        """Insert or update the row for ``row["path"]``; returns its id."""
        cols = [c for c in _COLUMNS if c in row]
        sets = ", ".join(f"{c}=excluded.{c}" for c in cols if c != "path")
        sql = (
            f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT(path) DO UPDATE SET {sets} RETURNING id"
        )
        with closing(self._connect()) as con:
            con.execute("BEGIN IMMEDIATE")
            rid = con.execute(sql, [row[c] for c in cols]).fetchone()[0]
            con.execute("COMMIT")
        return int(rid)

    def remove(self, ids: list[int]) -> int:
        with closing(self._connect()) as con:
            cur = con.execute(f"DELETE FROM runs WHERE id IN ({','.join('?' * len(ids))})", ids)
            return cur.rowcount

    # -- reading --------------------------------------------------------------------------
    def _live(self, con, r: sqlite3.Row) -> dict:
        d = dict(r)
        d["config"] = json.loads(d["config"]) if d["config"] else {}
        d["metrics"] = json.loads(d["metrics"]) if d["metrics"] else {}
        d["lineage"] = json.loads(d["lineage"]) if d.get("lineage") else []
        if d["status"] == "running" and not _pid_alive(int(d["pid"] or -1), d["host"] or ""):
            # the writer died without a word (SIGKILL, power loss): it is not running
            d["status"] = "interrupted"
            con.execute(
                "UPDATE runs SET status='interrupted' WHERE id=? AND status='running'", (d["id"],)
            )
        return d

    def runs(self) -> list[dict]:
        """Every run, oldest first, with a dead writer's 'running' read as 'interrupted'."""
        with closing(self._connect()) as con:
            rows = con.execute("SELECT * FROM runs ORDER BY id").fetchall()
            return [self._live(con, r) for r in rows]

    def get(self, ref: str) -> dict:
        """A run by id, by path, or by a unique name; a UserError when there is none."""
        with closing(self._connect()) as con:
            if str(ref).isdigit():
                rows = con.execute("SELECT * FROM runs WHERE id=?", (int(ref),)).fetchall()
            else:
                path = str(Path(ref).expanduser().resolve())
                rows = con.execute("SELECT * FROM runs WHERE path=?", (path,)).fetchall()
                if not rows:
                    rows = con.execute("SELECT * FROM runs WHERE name=?", (ref,)).fetchall()
            if not rows:
                raise UserError(
                    f"no run {ref!r} in the registry {self.path} (see `tunewise runs ls`)"
                )
            if len(rows) > 1:
                ids = ", ".join(str(r["id"]) for r in rows)
                raise UserError(f"{ref!r} names several runs (ids {ids}); use an id")
            return self._live(con, rows[0])


def run_row(path: str | Path, study: str | None = None) -> dict:
    """A registry row built from what the run directory holds."""
    run = RunDir(Path(path).resolve())
    info = run.info()
    config = yaml.safe_load(run.config.read_text()) if run.config.is_file() else {}
    metrics = read_json(run.metrics) if run.metrics.is_file() else {}
    row = {
        "path": str(run.path),
        "name": run.path.name,
        "status": info.get("status", "missing"),
        "pid": info.get("pid"),
        "host": info.get("host"),
        "started": info.get("started"),
        "updated": info.get("updated") or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "finished": info.get("finished"),
        "model": (config.get("model") or {}).get("name"),
        "task": (config.get("task") or {}).get("type"),
        "config": json.dumps(_flat(config or {})),
        "metrics": json.dumps(summary_metrics(metrics)),
        "error": info.get("error"),
        # a continued run (tunewise.continual): the run it continued and its whole lineage
        "parent": info.get("parent"),
        "lineage": json.dumps(info["lineage"]) if info.get("lineage") else None,
    }
    if study is not None:
        row["study"] = study
    return row


def record_run(path: str | Path, study: str | None = None, warn=None) -> int | None:
    """Record (or refresh) the run at ``path`` in the default registry; never fails the run.

    Returns the run's id, or None when the registry is off or could not be written (``warn``
    is then called with one line saying why).
    """
    if default_path() is None:
        return None
    try:
        return Registry().upsert(run_row(path, study))
    except (UserError, sqlite3.Error, OSError) as e:
        if warn is not None:
            warn(f"warning [registry]: run not recorded: {e}")
        return None
