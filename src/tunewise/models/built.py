"""Models built here (``tunewise pretrain --from-scratch``): a small index in the tunewise cache,
listed by ``tunewise models`` and accepted by name as ``--model NAME``."""

from __future__ import annotations

import json
from pathlib import Path

from tunewise.models.gguf_cache import cache_root


def _index() -> Path:
    return cache_root() / "built-models.json"


def built_models() -> dict[str, dict]:
    """Name -> {"path", "description"} of every built model whose directory still exists."""
    try:
        data = json.loads(_index().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if (Path(v["path"]) / "config.json").is_file()}


def register_built(name: str, path: Path, description: str) -> None:
    """Add (or replace) ``name`` in the index (written atomically)."""
    data = built_models()
    data[name] = {"path": str(Path(path).resolve()), "description": description}
    idx = _index()
    idx.parent.mkdir(parents=True, exist_ok=True)
    tmp = idx.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.replace(idx)
