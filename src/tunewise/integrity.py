"""A saved model folder is checked before use: sizes and hashes recorded when it was saved.

A damaged folder used to answer garbage (tokenizer files gone: every token ``[UNK]``, 100
predictions, exit 0) or end in a raw traceback (truncated safetensors, corrupt JSON). Now a
run records ``model/manifest.json`` (size and SHA-256 of every file) when it completes, and
loading verifies it and names the file that is missing, truncated or changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from tunewise.errors import UserError

MANIFEST = "manifest.json"
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer.model", "vocab.json", "spiece.model")
_JSON_FILES = ("tunewise.json", "config.json", "tokenizer_config.json")
EDITABLE = "tunewise.json"
"""Left out of the hashes (a person may edit it, e.g. the base model's path of an adapter run
whose base moved); it must still be valid JSON."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(model_dir: Path) -> Path:
    """Record size and SHA-256 of every file under ``model_dir`` in ``manifest.json``."""
    model_dir = Path(model_dir)
    files = {
        str(p.relative_to(model_dir)): {"bytes": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(model_dir.rglob("*"))
        if p.is_file() and p.name not in (MANIFEST, EDITABLE) and not p.name.startswith(".")
    }
    path = model_dir / MANIFEST
    tmp = path.with_name(f".{MANIFEST}.tmp")
    tmp.write_text(json.dumps({"algorithm": "sha256", "files": files}, indent=2) + "\n")
    os.replace(tmp, path)  # never half a manifest
    return path


def read_json_file(path: Path, what: str = "") -> dict:
    """A JSON object from ``path``, or a UserError naming the file (missing, corrupt)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: missing{what}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: damaged, not valid JSON ({str(e)[:120]}){what}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: damaged, expected a JSON object{what}")
    return data


def verify_model_dir(model_dir: Path) -> Path:
    """Check ``model_dir`` against its manifest (or, for folders saved before manifests, that
    its JSON files parse and a tokenizer is there); return it.

    Raises:
        UserError: naming the first file that is missing, has the wrong size or hash, or is
            not valid JSON.
    """
    model_dir = Path(model_dir)
    hint = "; the model folder is damaged: restore it or train again"
    manifest = model_dir / MANIFEST
    if manifest.is_file():
        files = read_json_file(manifest, hint).get("files", {})
        for name, rec in files.items():
            p = model_dir / name
            if not p.is_file():
                raise UserError(f"{p}: missing (recorded when the model was saved){hint}")
            size = p.stat().st_size
            if size != rec.get("bytes"):
                raise UserError(
                    f"{p}: {size} bytes, {rec.get('bytes')} when the model was saved "
                    f"(truncated or replaced){hint}"
                )
            if _sha256(p) != rec.get("sha256"):
                raise UserError(f"{p}: its contents changed since the model was saved{hint}")
    for name in _JSON_FILES:
        if (model_dir / name).exists():
            read_json_file(model_dir / name, hint)
    if not any((model_dir / f).is_file() for f in TOKENIZER_FILES):
        raise UserError(
            f"{model_dir}: no tokenizer files ({', '.join(TOKENIZER_FILES[:2])}, ...): every "
            f"word would become [UNK]{hint}"
        )
    return model_dir
