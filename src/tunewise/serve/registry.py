"""Models served by name: what a path holds (run dir, HF dir, ONNX export) and its kind.

Each served model is one of three small handler kinds the endpoints call:

- ``classification``: ``predictor.predict(texts, pairs)`` (tunewise's Predictor or its ONNX twin)
- ``tokens``: ``tagger.predict(texts)`` -> ``[{"entities": [...]}]``
- ``generation``: ``generator.generate(prompt=|messages=, ..., stream=)`` -> str | iterator
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

    def run_batch(self, items: list) -> list:
        """One forward pass over items merged from several requests (the batcher's function)."""
        if self.kind == "tokens":
            return self.model.predict(list(items))
        # a text pair changes the tokenization, so plain texts and pairs run apart
        out: list = [None] * len(items)
        for with_pair in (False, True):
            idx = [i for i, (_, p) in enumerate(items) if (p is not None) == with_pair]
            if idx:
                res = classify(
                    self.model,
                    [items[i][0] for i in idx],
                    [items[i][1] for i in idx] if with_pair else None,
                )
                for i, r in zip(idx, res):
                    out[i] = r
        return out


def classify(pred, texts: list[str], pairs: list[str] | None) -> list[dict]:
    """``pred.predict(texts, pairs)`` with one tokenizer pass instead of two (``task.encode``
    also tokenizes untruncated, for statistics a server does not need); same ids, same
    batches, same decoding, so the same answers."""
    if not hasattr(pred, "logits_encoded"):
        return pred.predict(texts, pairs)
    from tunewise.tasks.classification import Encoded

    args = (texts, pairs) if pairs is not None else (texts,)
    enc = pred.tokenizer(*args, truncation=True, max_length=pred.max_length)
    tt = enc.get("token_type_ids") if pairs is not None else None
    data = Encoded(list(enc["input_ids"]), tt, None)
    return pred.decode(pred.logits_encoded(data))


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
        from tunewise.export.onnx_predictor import OnnxPredictor

        export = (
            json.loads((path / EXPORT_FILE).read_text()) if (path / EXPORT_FILE).is_file() else {}
        )
        parity = export.get("parity", {})
        if parity and not parity.get("ok", False) and not allow_failed_parity:
            raise UserError(
                f"{path}: this export FAILED its parity check ({parity.get('message')}); "
                "re-export, or pass --allow-failed-parity to serve it anyway"
            )
        pred = OnnxPredictor(path, batch_size=batch_size, threads=threads)
        backend_name = f"onnxruntime-{export.get('precision', 'fp32')}"
        return Served(name, "classification", pred, backend_name, str(path), {"export": export})
    if backend == "onnx":
        raise UserError(
            f"{path}: no {ONNX_FILE} here; export it with `tunewise export --format onnx`"
        )
    model_dir = path / "model" if (path / "run.json").is_file() else path
    if (path / "run.json").is_file():
        from tunewise.rundir import RunDir

        RunDir(path).require_complete()
    arch = _architecture(model_dir)
    meta_file = model_dir / "tunewise.json"
    task = json.loads(meta_file.read_text()).get("task") if meta_file.is_file() else None
    if task == "tokens":  # a tunewise token run: its own predictor (word-level decoding)
        from tunewise.predictor import load

        return Served(name, "tokens", load(path), "torch", str(path))
    if "ForTokenClassification" in arch:
        from tunewise.serve.adapters import HfTokenTagger

        return Served(
            name, "tokens", HfTokenTagger(model_dir, batch_size=batch_size), "torch", str(path)
        )
    if task == "sft" or "ForCausalLM" in arch or "ForConditionalGeneration" in arch:
        from tunewise.generation import Generator

        return Served(name, "generation", Generator(path), "torch", str(path))
    if "ForSequenceClassification" in arch or (model_dir / "tunewise.json").is_file():
        from tunewise.predictor import Predictor

        return Served(name, "classification", Predictor(path, batch_size), "torch", str(path))
    raise UserError(
        f"{path}: not a model tunewise can serve (no run.json, model.onnx or a config.json "
        "naming a sequence-classification, token-classification or causal-LM architecture)"
    )
