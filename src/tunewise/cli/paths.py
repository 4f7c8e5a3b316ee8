"""Checks on output paths a command writes: never over its input, never onto a folder."""

from __future__ import annotations

import os
from pathlib import Path

from tunewise.errors import UserError


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output_file(output: Path, inputs: list[Path], flag: str = "--output") -> None:
    """Refuse an output file that is one of the inputs, a folder, or under a file (one line)."""
    output = Path(output)
    for path in inputs:
        if path is not None and _same(output, Path(path)):
            raise UserError(
                f"{flag} {output}: is the input file; choose another path (writing there would "
                "replace your data)"
            )
    if output.is_dir():
        raise UserError(f"{flag} {output}: is a folder; give a file path, e.g. {output}/out.jsonl")
    parent = output.parent
    while not parent.exists() and parent.parent != parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise UserError(f"{flag} {output}: {parent} is a file, so it cannot hold {output.name}")


_FLAG_NAMES = {
    "model.name": "--model",
    "data.train": "--train",
    "method.name": "--method",
    "task.type": "--task",
    "train.early_stopping_patience": "--early-stopping",
    "doctor.enabled": "--doctor/--no-doctor",
    "doctor.allow": "--allow",
    "track.backends": "--track",
    "train.bf16": "--bf16/--no-bf16",
    "task.multi_label": "--multi-label",
}


def flag_name(key: str) -> str:
    """The CLI flag of a dotted config key (``train.epochs`` -> ``--epochs``)."""
    return _FLAG_NAMES.get(key, "--" + key.rsplit(".", 1)[-1].replace("_", "-"))


def refuse_resume_flags(resume: Path, flags: dict, config, overrides, overwrite: bool) -> None:
    """``--resume`` continues a run with its saved settings: refuse, in one line, every other
    setting given with it (silently ignoring ``--epochs 5 --lr 0.5 --out elsewhere`` trained
    with the old settings into the old folder)."""
    given = [
        flag_name(k)
        for k, v in flags.items()
        if v is not None and not (k == "out" and _same(Path(v), Path(resume)))
    ]
    if config is not None:
        given.insert(0, "--config")
    given += list(overrides or [])
    if overwrite:
        given.append("--overwrite")
    if given:
        raise UserError(
            f"--resume {resume} continues the run with its saved settings (its config.yaml); "
            f"drop {', '.join(given)}, or start a new run with another --out to change them"
        )
