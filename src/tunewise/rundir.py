"""The run directory: the contract between training and every later step.

Layout (the one place it is documented; ``docs/run-directory.md`` repeats it for users)::

    RUN/
      run.json           status (running | completed | failed | interrupted), pid, host, times,
                         tunewise/torch/transformers versions, the command line, error if any
      config.yaml        the resolved config (every default filled in); rerun with --config
      labels.json        {"labels": [...id order], "multi_label": bool, "threshold": float}
      data.json          files, rows per split, label counts, split recipe (ratios, seed),
                         dedupe/truncation statistics
      train_log.jsonl    one JSON record per line: {"type": "train"|"eval", "step", ...}
      metrics.json       {"dev": {...}, "test": {...}, "baselines": {"majority": {...}},
                          "training": {...}} -- written once, at the end
      model/             the best dev checkpoint as a plain transformers directory
                         (config.json with id2label/label2id, model.safetensors, tokenizer files,
                         tunewise.json); AutoModelForSequenceClassification and pipeline load it
      predictions/       dev.jsonl, test.jsonl: per row (file order) gold id, predicted id, logits
      checkpoints/       step-XXXXXXXX/ resumable states (removed when the run completes)

A later stage reads only these files. ``run.json``'s status is written ``completed`` last; a
directory whose status is anything else did not finish, and readers say so.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path

import yaml

from tunewise.errors import UserError
from tunewise.redact import redact_argv, redact_config

RUN_FILE = "run.json"


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename (never half a file)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json(path: Path, data) -> None:
    atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:  # a damaged file: one line naming it
        raise UserError(f"{path}: damaged, not valid JSON ({str(e)[:120]})") from None


def _pid_alive(pid: int, host: str) -> bool:
    if host != socket.gethostname():
        return True  # cannot tell from here
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunDir:
    """Paths and status of one run directory."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    config = property(lambda self: self.path / "config.yaml")
    labels = property(lambda self: self.path / "labels.json")
    data = property(lambda self: self.path / "data.json")
    log = property(lambda self: self.path / "train_log.jsonl")
    metrics = property(lambda self: self.path / "metrics.json")
    model = property(lambda self: self.path / "model")
    checkpoints = property(lambda self: self.path / "checkpoints")
    predictions = property(lambda self: self.path / "predictions")
    run_file = property(lambda self: self.path / RUN_FILE)

    # -- status -----------------------------------------------------------------------------
    def info(self) -> dict:
        return read_json(self.run_file) if self.run_file.is_file() else {}

    def status(self) -> str:
        """completed | failed | interrupted | running | missing; a dead writer reads interrupted."""
        info = self.info()
        status = info.get("status", "missing")
        if status == "running" and not _pid_alive(int(info.get("pid", -1)), info.get("host", "")):
            return "interrupted"
        return status

    def set_status(self, status: str, **extra) -> None:
        info = self.info()
        info.update(status=status, updated=time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra)
        if status == "running":
            info.update(pid=os.getpid(), host=socket.gethostname())
        write_json(self.run_file, info)

    def start(self, config_dict: dict, resume: bool) -> None:
        """Mark the run as running (fresh, or resumed) and save the resolved config."""
        import tokenizers
        import torch
        import transformers

        import tunewise

        self.path.mkdir(parents=True, exist_ok=True)
        if not resume:
            from tunewise.outdir import claim

            claim(self.path, "run")  # --overwrite may delete only what tunewise created
        info = self.info() if resume else {}
        info.setdefault("started", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        info["resumed"] = info.get("resumed", 0) + (1 if resume else 0)
        info["command"] = redact_argv(sys.argv)  # no secret from the command line on disk
        info["versions"] = {
            "tunewise": tunewise.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
        }
        info.pop("error", None)
        write_json(self.run_file, info)
        if not resume:
            atomic_write(self.config, yaml.safe_dump(redact_config(config_dict), sort_keys=False))
        self.set_status("running")

    def require_complete(self) -> None:
        """Raise a UserError unless this directory holds a finished run with a model."""
        if not self.path.is_dir():
            raise UserError(f"{self.path}: no such run directory")
        status = self.status()
        if status == "missing":
            raise UserError(f"{self.path}: not a tunewise run directory (no {RUN_FILE})")
        if status != "completed":
            hint = (
                f"; continue it with `tunewise train --resume {self.path}`"
                if status in ("interrupted", "failed")
                else ""
            )
            raise UserError(f"{self.path}: this run did not finish (status: {status}){hint}")
        if (
            not (self.model / "config.json").is_file()
            and not (self.model / "tunewise.json").is_file()
        ):
            raise UserError(f"{self.path}: run has no model/ directory")


def prepare_out(path: Path, overwrite: bool) -> None:
    """Refuse to write a new run over an existing one unless asked to (and then only over a
    folder tunewise created, never a run a live process is writing)."""
    from tunewise.outdir import prepare_run_out

    prepare_run_out(path, overwrite)


def replace_dir(tmp: Path, final: Path) -> None:
    """Move a fully written directory ``tmp`` into place as ``final``."""
    old = final.with_name(final.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old)
