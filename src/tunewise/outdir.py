"""Output folders tunewise may replace: only those it created itself, never one in use.

A run or export folder gets a marker file (:data:`OWNER_FILE`) when tunewise creates it
empty; ``--overwrite`` deletes a folder only when that marker is there (so a project folder
that merely holds a ``run.json`` is never wiped) and never a run whose writer is still alive.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path

from tunewise.errors import UserError

RUN_FILE = "run.json"
OWNER_FILE = ".tunewise-owned"
"""Marker of a folder tunewise created (a run or an export): ``--overwrite`` may delete it."""


def claim(path: Path, kind: str) -> None:
    """Mark ``path`` (a folder tunewise has just created or found empty) as tunewise's."""
    marker = Path(path) / OWNER_FILE
    if marker.is_file():
        return
    marker.write_text(
        json.dumps(
            {
                "kind": kind,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "host": socket.gethostname(),
                "note": "written by tunewise: --overwrite may delete this folder",
            }
        )
        + "\n"
    )


RUN_ENTRIES = {
    "run.json",
    "config.yaml",
    "labels.json",
    "data.json",
    "train_log.jsonl",
    "metrics.json",
    "model",
    "predictions",
    "checkpoints",
    "doctor.json",
    "label_issues.jsonl",
    "report.html",
    "report.md",
    "exports",
    "evaluations",
    "tensorboard",
    "wandb",
    "mlflow_run.txt",
    "samples.jsonl",
    "samples.md",
    ".before.json",
    "splits",
    OWNER_FILE,
}
"""What a run directory holds (docs/run-directory.md), for runs saved before the marker."""


def owned(path: Path, kind: str = "run") -> bool:
    """Whether tunewise created ``path`` as a ``kind`` folder (run or export): its marker, or
    (a run saved before markers) a ``run.json`` written by tunewise and nothing but the files a
    run holds. An export never replaces a run, nor a run an export."""
    path = Path(path)
    marker = path / OWNER_FILE
    if marker.is_file():
        try:
            return json.loads(marker.read_text(encoding="utf-8")).get("kind") == kind
        except (OSError, ValueError, AttributeError):
            return False
    if kind != "run":
        return False
    try:
        info = json.loads((path / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(info, dict) or "tunewise" not in (info.get("versions") or {}):
        return False
    return all(
        e.name in RUN_ENTRIES or e.name.startswith("seed-") or ".tmp-" in e.name
        for e in path.iterdir()
    )


def check_out(path: Path, flag: str = "--out") -> None:
    """Refuse an output path that is a file or cannot be created or written (one line)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag} {path}: is a file, not a folder; give a folder path")
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"{flag} {path}: {probe} is a file, so the folder cannot be created")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {path}: {probe} is not writable")


def _live_writer(path: Path) -> int | None:
    """The pid of a live process that is writing the run at ``path``, if any."""
    run = Path(path) / RUN_FILE
    try:
        info = json.loads(run.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or info.get("status") != "running":
        return None
    pid, host = info.get("pid"), info.get("host", "")
    if not isinstance(pid, int) or pid == os.getpid():
        return None
    if host != socket.gethostname():
        return pid  # cannot tell from here: take it as alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def clear_for_overwrite(path: Path, what: str = "run") -> None:
    """Delete the folder ``path`` for ``--overwrite``: only a folder tunewise created, and
    never a run a live process is still writing.

    Raises:
        UserError: the folder is not tunewise's, or a live process is writing it.
    """
    path = Path(path)
    pid = _live_writer(path)
    if pid is not None:
        raise UserError(
            f"{path}: a run in progress (process {pid}) is writing this folder; stop it first "
            "or choose another --out"
        )
    if not owned(path, what):
        raise UserError(
            f"{path}: --overwrite only replaces a {what} folder tunewise created (it has no "
            f"{OWNER_FILE} marker); move or delete its files yourself, or choose another --out"
        )
    shutil.rmtree(path)


def _status(path: Path) -> str:
    """The run's status as ``run.json`` says it (a dead writer's run reads interrupted)."""
    try:
        info = json.loads((Path(path) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "missing"
    status = info.get("status", "missing") if isinstance(info, dict) else "missing"
    if status == "running" and _live_writer(path) is None:
        return "interrupted"
    return status


def prepare_run_out(path: Path, overwrite: bool) -> None:
    """Make ``path`` ready for a new run: absent or empty, or emptied under ``overwrite``."""
    path = Path(path)
    check_out(path)
    if path.exists() and any(path.iterdir()):
        if not overwrite:
            status = _status(path)
            what = f"a run (status: {status})" if status != "missing" else "files"
            raise UserError(
                f"{path}: already holds {what}; choose another --out, pass --overwrite, "
                f"or continue it with --resume {path}"
            )
        if not (path / RUN_FILE).is_file() and not owned(path, "run"):
            raise UserError(
                f"{path}: --overwrite only replaces run directories, and this is not one"
            )
        clear_for_overwrite(path, "run")


def prepare_export_out(path: Path, overwrite: bool, kind: str = "export") -> None:
    """Check an export's ``--out``: absent or empty, or (with ``overwrite``) an export folder
    tunewise wrote; the export replaces it only once it is complete.

    Args:
        kind: what the folder is (``export``, ``assistant``): only a folder tunewise made as
            that kind is replaced.
    """
    path = Path(path)
    check_out(path)
    if path.exists() and any(path.iterdir()):
        if not overwrite:
            raise UserError(f"{path}: already exists; choose another --out or pass --overwrite")
        if not owned(path, kind):
            raise UserError(
                f"{path}: --overwrite only replaces {'an' if kind[0] in 'aeiou' else 'a'} {kind} "
                f"folder tunewise created (it has no "
                f"{OWNER_FILE} marker); move or delete its files yourself, or choose another --out"
            )
