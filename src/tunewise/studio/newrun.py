"""The new-run form: datasets (packaged or uploaded), a preview, the doctor, the train command.

Everything the form launches is a `tunewise` command line, shown to the user before it runs:
the studio adds no training path of its own.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tunewise.data.readers import FORMATS, read_table
from tunewise.errors import UserError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
PREVIEW_ROWS = 5
TEXT_GUESSES = ("text", "sentence", "review", "question", "prompt", "content", "message", "title")
LABEL_GUESSES = ("label", "labels", "category", "class", "target", "tags", "answer")


def packaged_datasets() -> list[dict]:
    from tunewise.data import PACKAGED

    return [
        {"name": d.name, "description": d.description, "license": d.license, "source": d.source}
        for d in PACKAGED.values()
    ]


def materialize(name: str, workdir: Path) -> dict:
    """The train/dev/test files of packaged dataset ``name`` under ``workdir/datasets``
    (written once; `tunewise data get` writes the same bytes)."""
    from tunewise.data import get_packaged

    out = workdir / "datasets" / name
    if not (out / "SOURCE.json").is_file():
        get_packaged(name, out)
    return {split: str(out / f"{split}.jsonl") for split in ("train", "dev", "test")}


def save_upload(workdir: Path, filename: str, body: bytes) -> Path:
    """Keep an uploaded file under ``workdir/uploads`` (its name made safe)."""
    base = Path(filename or "").name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    if suffix not in FORMATS:
        raise UserError(f"{base or 'upload'}: unsupported file type; use one of {sorted(FORMATS)}")
    if not body.strip():
        raise UserError(f"{base}: empty file (no rows)")
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", stem)[:60] or "data"
    out = workdir / "uploads" / f"{safe}{suffix}"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(body)
    return out


def _guess(columns: list[str], names: tuple[str, ...]) -> str | None:
    low = {c.lower(): c for c in columns}
    return next((low[n] for n in names if n in low), None)


def preview(path: str | Path, rows: int = PREVIEW_ROWS) -> dict:
    """Columns, the first rows and the row count of a data file, with guessed text/label
    columns (the form's defaults for the mapping)."""
    p = Path(path)
    if p.suffix.lower() in (".conll", ".txt", ".bio", ".iob"):
        lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
        return {"path": str(p), "columns": [], "rows": [], "lines": lines[:20], "total": len(lines)}
    table = read_table(p)
    return {
        "path": str(p),
        "columns": table.columns,
        "rows": [values for _, values in table.rows[:rows]],
        "total": len(table.rows),
        "text_column": _guess(table.columns, TEXT_GUESSES),
        "label_column": _guess(table.columns, LABEL_GUESSES),
    }


@cache
def settings_help() -> dict[str, dict]:
    """Default and one-line reason of each setting the form offers, from the docstrings of
    the typed config (``config.py``), the one place they are written."""
    from tunewise import config

    docs: dict[str, str] = {}
    tree = ast.parse(inspect.getsource(config))
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        body = cls.body
        for a, b in zip(body, body[1:]):
            if (
                isinstance(a, ast.AnnAssign)
                and isinstance(a.target, ast.Name)
                and isinstance(b, ast.Expr)
                and isinstance(getattr(b, "value", None), ast.Constant)
                and isinstance(b.value.value, str)
            ):
                docs[f"{cls.name}.{a.target.id}"] = " ".join(b.value.value.split())
    fields = {
        "epochs": ("TrainConfig", "epochs"),
        "batch_size": ("TrainConfig", "batch_size"),
        "lr": ("TrainConfig", "lr"),
        "max_steps": ("TrainConfig", "max_steps"),
        "seed": ("TrainConfig", "seed"),
        "seeds": ("TrainConfig", "seeds"),
        "max_length": ("ModelConfig", "max_length"),
        "method": ("MethodConfig", "name"),
    }
    out = {}
    for key, (cls_name, field) in fields.items():
        cls = getattr(config, cls_name, None)
        info = cls.model_fields.get(field) if cls is not None else None
        out[key] = {
            "default": info.default if info is not None else None,
            "why": docs.get(f"{cls_name}.{field}", ""),
        }
    return out


def choices() -> dict:
    """What the form's selects offer: tasks, packaged models, methods."""
    from tunewise.methods.base import all_methods
    from tunewise.models.registry import PACKAGED_MODELS
    from tunewise.tasks import TASKS

    return {
        "tasks": [{"name": t.name, "summary": t.summary} for t in TASKS.values()],
        "models": [
            {"name": m.name, "description": m.description} for m in PACKAGED_MODELS.values()
        ],
        "methods": sorted(all_methods()),
    }


class NewRun(BaseModel):
    """The new-run form, validated once (a bad field is a 422 naming it)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    train: str = Field(min_length=1)
    dev: str | None = None
    test: str | None = None
    task: str = "classification"
    model: str = "minilm"
    method: str = "full"
    text_column: str | None = None
    text_pair_column: str | None = None
    label_column: str | None = None
    epochs: float | None = Field(None, gt=0)
    max_steps: int | None = Field(None, ge=1)
    batch_size: int | None = Field(None, ge=1)
    lr: float | None = Field(None, gt=0)
    max_length: int | None = Field(None, ge=8)
    seed: int | None = None
    seeds: int | None = Field(None, ge=1, le=10)
    allow: list[str] = []
    extra: list[str] = []
    """Dotted overrides (``train.threads=1``) passed as they are."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError("letters, digits, '.', '_' and '-' only (at most 80)")
        return v

    @field_validator("extra")
    @classmethod
    def _extra(cls, v: list[str]) -> list[str]:
        for item in v:
            if "=" not in item or item.startswith("-"):
                raise ValueError(f"{item!r}: a dotted override KEY=VALUE such as train.threads=1")
        return v


def _data_flags(form: NewRun) -> list[str]:
    argv = ["--train", form.train]
    for flag, value in (
        ("--dev", form.dev),
        ("--test", form.test),
        ("--text-column", form.text_column),
        ("--text-pair-column", form.text_pair_column),
        ("--label-column", form.label_column),
    ):
        if value:
            argv += [flag, str(value)]
    return argv


def train_argv(form: NewRun, out: Path) -> list[str]:
    """``python -m tunewise train ...`` for the form (only the settings the user changed)."""
    argv = [sys.executable, "-m", "tunewise", "train", "--task", form.task, "--model", form.model]
    argv += _data_flags(form)
    if form.method != "full":
        argv += ["--method", form.method]
    for flag, value in (
        ("--epochs", form.epochs),
        ("--max-steps", form.max_steps),
        ("--batch-size", form.batch_size),
        ("--lr", form.lr),
        ("--max-length", form.max_length),
        ("--seed", form.seed),
        ("--seeds", form.seeds),
    ):
        if value is not None:
            argv += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    for name in form.allow:
        argv += ["--allow", name]
    return [*argv, "--out", str(out), *form.extra]


def doctor_argv(form: NewRun, out: Path) -> list[str]:
    """``python -m tunewise doctor ...``: the checks training would run first."""
    argv = [sys.executable, "-m", "tunewise", "doctor", "--task", form.task, "--model", form.model]
    argv += _data_flags(form)
    if form.max_length is not None:
        argv += ["--max-length", str(form.max_length)]
    return [*argv, "--out", str(out)]
