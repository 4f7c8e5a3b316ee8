"""Token-tagged files: read, detect and validate the tag scheme, convert to BIO."""

from __future__ import annotations

from pathlib import Path

from tunewise.errors import UserError
from tunewise.tasks.base import TaskData
from tunewise.tasks.tokens import tagging
from tunewise.tasks.tokens.conll import TokenExample, read_token_file

MAX_SHOWN = 5


def read_tagged(
    path: Path, data, scheme: str = "auto", prefer: str | None = None
) -> tuple[list[TokenExample], str]:
    """Read one file, detect (or take) its scheme, validate every sentence, convert to BIO.

    Invalid sequences are kept as ``issues`` on their examples (converted the lenient
    way) for the doctor's ``tag_scheme`` check to report; they are never fixed silently.
    """
    exs = read_token_file(
        path,
        fmt=data.token_format,
        tag_column=data.tag_column,
        token_column=data.token_column,
        text_field=data.text_column,
    )
    if scheme == "auto":
        seqs = [ex.raw_tags for ex in exs]
        # a dev/test file valid in train's scheme is read in it (an all-O file looks like IO)
        if prefer and not any(tagging.validate(seq, prefer) for seq in seqs):
            scheme = prefer
        else:
            scheme = tagging.detect_scheme(seqs)
    for ex in exs:
        ex.scheme = scheme
        ex.issues = [
            f"{ex.word_where(i)}: {msg} ({scheme})"
            for i, msg in tagging.validate(ex.raw_tags, scheme)
        ]
        ex.tags = tagging.convert(ex.raw_tags, scheme)
    return exs, scheme


def scheme_issues(examples: list[TokenExample]) -> list[str]:
    return [msg for ex in examples for msg in ex.issues]


def require_valid(data: TaskData) -> None:
    """Refuse invalid tag sequences (used when the doctor, which reports them, is off)."""
    for part in (data.train, data.dev, data.test):
        require_valid_examples(part or [])


def require_valid_examples(examples: list[TokenExample]) -> None:
    bad = scheme_issues(examples)
    if bad:
        more = f" (and {len(bad) - MAX_SHOWN} more)" if len(bad) > MAX_SHOWN else ""
        raise UserError(
            f"{len(bad)} invalid tag sequence(s): {'; '.join(bad[:MAX_SHOWN])}{more}; fix the "
            "file, set data.tag_scheme, or let them through with --allow tag_scheme"
        )


def entity_types(examples: list[TokenExample]) -> list[str]:
    return sorted({t[2:] for ex in examples for t in ex.tags or [] if t != "O"})


def read_data(data) -> TaskData:
    """Read train, dev and test token files as ``data`` (a DataConfig) says."""
    if data.train is None:
        raise UserError("no training data: give --train FILE")
    train, s_train = read_tagged(data.train, data, data.tag_scheme)
    types = entity_types(train)
    if not types:
        raise UserError(f"{data.train}: no entities (every tag is O); nothing to learn")
    dev = test = None
    schemes = {"train": s_train}
    if data.dev is not None:
        dev, schemes["dev"] = read_tagged(data.dev, data, data.tag_scheme, s_train)
    if data.test is not None:
        test, schemes["test"] = read_tagged(data.test, data, data.tag_scheme, s_train)
    info = {
        "tag_schemes": schemes,
        "internal_scheme": tagging.INTERNAL,
        "entity_types": types,
        "labels": tagging.bio_labels(types),
    }
    return TaskData(train, dev, test, info)


def save_tagged_split(run: Path, name: str, examples) -> Path | None:
    """Keep a split's tagged sentences as ``RUN/splits/<name>.tokens.jsonl`` (words, tags):
    an int8 export is judged on the run's own dev sentences, also when dev came off train."""
    import json

    from tunewise.data.saved import split_path
    from tunewise.rundir import atomic_write

    if not examples:
        return None
    path = split_path(run, f"{name}.tokens")
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        json.dumps({"words": ex.words, "tags": ex.tags, "where": ex.where}, ensure_ascii=False)
        for ex in examples
    ]
    atomic_write(path, "\n".join(rows) + "\n")
    return path


def load_tagged_split(run: Path, name: str):
    """The sentences kept by :func:`save_tagged_split` (text re-joined with spaces), or None."""
    import json

    from tunewise.data.saved import split_path
    from tunewise.tasks.tokens.conll import TokenExample

    path = split_path(run, f"{name}.tokens")
    if not path.is_file():
        return None
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out.append(TokenExample(r["words"], r["tags"], r.get("where", "")))
    return out
