"""Models served by name: what a path holds (run dir, HF dir, ONNX export) and its task.

A served model's ``kind`` is its task's registered name; the task's predictor answers the
task's route (``Task.route``): ``predict_batch(items)`` for a micro-batch, or the generation
endpoints for a task whose route generates (a ``Generator``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunewise.errors import UserError


@dataclass
class Served:
    """A model the server answers for, under ``name``."""

    name: str
    kind: str  # classification | tokens | generation
    model: Any
    backend: str = "torch"
    path: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def labels(self) -> list[str] | None:
        return list(getattr(self.model, "labels", []) or []) or None

    def info(self) -> dict:
        """What /v1/models tells beyond name and kind: for an adapter run, its base and the
        models whose adapters share the loaded base (see ``shared_base``)."""
        keys = ("adapter", "base", "shares_base_with")
        return {k: self.extra[k] for k in keys if k in self.extra}

    @property
    def task(self):
        from tunewise.tasks import get_task

        return get_task(self.kind)

    @property
    def generates(self) -> bool:
        route = self.task.route
        return route is not None and route.generation

    def run_batch(self, items: list) -> list:
        """One forward pass over items merged from several requests (the batcher's function)."""
        return self.model.predict_batch(list(items))


def parse_spec(spec: str) -> tuple[str, Path]:
    """``name=path`` or ``path`` (named after its folder)."""
    name, sep, path = spec.partition("=")
    if sep and name and not Path(spec).exists():
        return name, Path(path)
    p = Path(spec)
    return (p.resolve().name or "model"), p


def _architecture(model_dir: Path) -> str:
    cfg = model_dir / "config.json"
    if not cfg.is_file():
        return ""
    return " ".join(json.loads(cfg.read_text()).get("architectures") or [])


def load_served(
    spec: str,
    backend: str = "auto",
    batch_size: int = 32,
    threads: int | None = None,
    allow_failed_parity: bool = False,
) -> Served:
    """Load what ``spec`` (``[name=]path``) points at.

    Args:
        backend: auto (ONNX for an ONNX export, torch otherwise), torch or onnx.
    """
    from tunewise.export.onnx_predictor import EXPORT_FILE, ONNX_FILE

    name, path = parse_spec(spec)
    if not path.is_dir():
        raise UserError(f"{path}: no such directory (give a run directory or an export)")
    if backend not in ("auto", "torch", "onnx"):
        raise UserError(f"--backend {backend!r}: the choices are auto, torch, onnx")
    if (path / ONNX_FILE).is_file() and backend in ("auto", "onnx"):
        from tunewise.export.onnx_predictor import onnx_predictor

        export = (
            json.loads((path / EXPORT_FILE).read_text()) if (path / EXPORT_FILE).is_file() else {}
        )
        parity = export.get("parity", {})
        if parity and not parity.get("ok", False) and not allow_failed_parity:
            raise UserError(
                f"{path}: this export FAILED its parity check ({parity.get('message')}); "
                "re-export, or pass --allow-failed-parity to serve it anyway"
            )
        pred = onnx_predictor(path, batch_size=batch_size, threads=threads)
        backend_name = f"onnxruntime-{export.get('precision', 'fp32')}"
        return Served(name, pred.task.name, pred, backend_name, str(path), {"export": export})
    if backend == "onnx":
        raise UserError(
            f"{path}: no {ONNX_FILE} here; export it with `tunewise export --format onnx`"
        )
    from tunewise.rundir import META_FILE, RUN_FILE
    from tunewise.tasks import TASKS

    if (path / RUN_FILE).is_file() or (path / META_FILE).is_file():
        from tunewise.run.api import load

        pred = load(
            path, batch_size=batch_size
        )  # a registered loader's (a routed run) or the task's
        return Served(name, pred.task.name, pred, "torch", str(path))
    arch = _architecture(path)
    for task in TASKS.values():  # a plain transformers directory: the task that serves its kind
        if any(a.endswith(task.hf_architectures) for a in arch.split()) and task.hf_architectures:
            return Served(
                name,
                task.name,
                task.plain_predictor(path, batch_size=batch_size),
                "torch",
                str(path),
            )
    raise UserError(
        f"{path}: not a model tunewise can serve (no run.json, model.onnx or a config.json "
        "naming an architecture a task serves: "
        + ", ".join(
            f"{t.name}: ...{'/...'.join(t.hf_architectures)}"
            for t in TASKS.values()
            if t.hf_architectures
        )
        + ")"
    )
