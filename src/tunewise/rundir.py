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
from pydantic import BaseModel, ConfigDict, ValidationError

from tunewise.errors import UserError
from tunewise.redact import redact_argv, redact_config

RUN_FILE = "run.json"
CONFIG_FILE = "config.yaml"
LABELS_FILE = "labels.json"
DATA_FILE = "data.json"
LOG_FILE = "train_log.jsonl"
METRICS_FILE = "metrics.json"
DOCTOR_FILE = "doctor.json"
LABEL_ISSUES_FILE = "label_issues.jsonl"
META_FILE = "tunewise.json"
"""The model directory's own record (:class:`ModelMeta`): what a predictor needs to load it."""
MODEL_DIR = "model"
PREDICTIONS_DIR = "predictions"
CHECKPOINTS_DIR = "checkpoints"
SUMMARY_FILES = (LABELS_FILE, DATA_FILE, DOCTOR_FILE, LABEL_ISSUES_FILE, LOG_FILE)
"""Files a multi-seed run copies from the seed it selected."""


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
        self.data_overrides: dict = {}
        """Settings that replace the saved ones when files are read for this run (the CLI's
        ``--text-column`` ... on ``predict``/``evaluate``)."""

    config = property(lambda self: self.path / CONFIG_FILE)
    labels = property(lambda self: self.path / LABELS_FILE)
    data = property(lambda self: self.path / DATA_FILE)
    log = property(lambda self: self.path / LOG_FILE)
    metrics = property(lambda self: self.path / METRICS_FILE)
    doctor = property(lambda self: self.path / DOCTOR_FILE)
    label_issues = property(lambda self: self.path / LABEL_ISSUES_FILE)
    model = property(lambda self: self.path / MODEL_DIR)
    checkpoints = property(lambda self: self.path / CHECKPOINTS_DIR)
    predictions = property(lambda self: self.path / PREDICTIONS_DIR)
    run_file = property(lambda self: self.path / RUN_FILE)
    meta_file = property(lambda self: self.path / MODEL_DIR / META_FILE)

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
        from importlib.metadata import PackageNotFoundError, version

        import tokenizers
        import torch
        import transformers

        try:
            tunewise_version = version("tunewise")
        except PackageNotFoundError:  # run from a source tree without installing
            tunewise_version = "unknown"

        self.path.mkdir(parents=True, exist_ok=True)
        if not resume:
            from tunewise.outdir import claim

            claim(self.path, "run")  # --overwrite may delete only what tunewise created
        info = self.info() if resume else {}
        info.setdefault("started", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        info["resumed"] = info.get("resumed", 0) + (1 if resume else 0)
        info["command"] = redact_argv(sys.argv)  # no secret from the command line on disk
        info["versions"] = {
            "tunewise": tunewise_version,
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
        if not (self.model / "config.json").is_file() and not (self.model / META_FILE).is_file():
            raise UserError(f"{self.path}: run has no model/ directory")

    def data_settings(self) -> dict:
        """The ``data`` section of the run's saved config (columns, formats): how files given
        to ``predict``/``evaluate`` on this run are read. Empty when there is no config."""
        section = {}
        if self.config.is_file():
            data = yaml.safe_load(self.config.read_text(encoding="utf-8")) or {}
            found = data.get("data") if isinstance(data, dict) else None
            section = found if isinstance(found, dict) else {}
        return {**section, **self.data_overrides}


class ModelMeta(BaseModel):
    """``model/tunewise.json``: what loading a trained model needs, for every task.

    Common fields are typed here; a task's own fields (labels, threshold, end-of-turn token,
    label scaling ...) are kept as extra keys and read by that task's predictor.
    """

    model_config = ConfigDict(extra="allow")
    task: str
    """The registered task name (``tunewise.tasks``) whose predictor loads this directory."""
    max_length: int
    """Truncation length in tokens the model was trained with."""
    base_model: str | None = None
    """The pretrained model's name (packaged name, local dir or hub id)."""
    base_model_path: str | None = None
    """Where the base model was at training time (adapters load on top of it)."""
    method: dict | None = None
    """The fine-tuning method's record (name and options)."""

    def get(self, key: str, default=None):
        """A field or a task's own key, like ``dict.get``."""
        if key in type(self).model_fields:
            value = getattr(self, key)
            return default if value is None else value
        return (self.model_extra or {}).get(key, default)

    def to_dict(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)


def model_dir_of(path: str | Path) -> tuple[RunDir | None, Path]:
    """(the finished run or None, its model directory) for a run or a model directory."""
    from tunewise.integrity import verify_model_dir

    path = Path(path)
    if (path / RUN_FILE).is_file():
        run = RunDir(path)
        run.require_complete()
        return run, verify_model_dir(run.model)  # names a missing or damaged file
    if (path / META_FILE).is_file():
        return None, verify_model_dir(path)
    raise UserError(f"{path}: not a tunewise run directory or model directory")


def read_meta(model_dir: str | Path) -> ModelMeta:
    """The typed ``tunewise.json`` of a model directory; a missing or bad one is a UserError."""
    p = Path(model_dir) / META_FILE
    if not p.is_file():
        raise UserError(f"{p}: missing; not a tunewise model directory")
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
        if "task" not in raw:  # written before the task was recorded: a classifier
            raw["task"] = "classification"
        return ModelMeta.model_validate(raw)
    except (ValueError, ValidationError) as e:
        raise UserError(f"{p}: not a valid model record ({str(e).splitlines()[0]})") from None


def write_meta(model_dir: str | Path, meta: ModelMeta) -> None:
    """Write ``tunewise.json`` into ``model_dir`` (atomically)."""
    write_json(Path(model_dir) / META_FILE, meta.to_dict())


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
