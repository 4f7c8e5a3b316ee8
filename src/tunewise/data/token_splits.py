"""Train/dev/test of token-tagged data: read, detect and validate the tag scheme, convert to BIO,
split dev/test off train when missing."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from tunewise.data import tagging
from tunewise.data.conll import TokenExample, read_token_file
from tunewise.errors import UserError

MAX_SHOWN = 5


@dataclass
class TokenSplits:
    train: list[TokenExample]
    dev: list[TokenExample]
    test: list[TokenExample]
    labels: list[str]
    """BIO labels in id order (O, then B-/I- of each train entity type)."""
    info: dict = field(default_factory=dict)


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


def require_valid(splits: TokenSplits) -> None:
    """Raise a UserError naming the first invalid tag sequences (used when the doctor is off)."""
    require_valid_examples([ex for part in (splits.train, splits.dev, splits.test) for ex in part])


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


def _split(exs: list[TokenExample], dev: float, test: float, seed: int):
    """Seeded random split of sentences; copies of one sentence land in the same split."""
    groups: dict[tuple, list[int]] = {}
    for i, ex in enumerate(exs):
        groups.setdefault(tuple(w.lower() for w in ex.words), []).append(i)
    keys = list(groups)
    random.Random(seed).shuffle(keys)
    n_test, n_dev = round(len(keys) * test), round(len(keys) * dev)
    which = {}
    for pos, k in enumerate(keys):
        part = 2 if pos < n_test else 1 if pos < n_test + n_dev else 0
        for i in groups[k]:
            which[i] = part
    parts: tuple[list, list, list] = ([], [], [])
    for i, ex in enumerate(exs):
        parts[which[i]].append(ex)
    return parts


def load_token_splits(data) -> TokenSplits:
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
    info: dict = {
        "task": "tokens",
        "files": {
            k: None if v is None else str(v)
            for k, v in (("train", data.train), ("dev", data.dev), ("test", data.test))
        },
        "rows_read": {"train": len(train)},
        "tag_schemes": schemes,
        "internal_scheme": tagging.INTERNAL,
        "entity_types": types,
    }
    if dev is None or test is None:
        dev_share = data.split.dev if dev is None else 0.0
        test_share = data.split.test if test is None else 0.0
        train, dev_part, test_part = _split(train, dev_share, test_share, data.split.seed)
        info["split"] = {
            "from": "train",
            "dev": dev_share if dev is None else None,
            "test": test_share if test is None else None,
            "seed": data.split.seed,
            "unit": "sentence",
        }
        dev = dev_part if dev is None else dev
        test = test_part if test is None else test
    info["rows"] = {"train": len(train), "dev": len(dev), "test": len(test)}
    info["words"] = {
        k: sum(len(e.words) for e in v) for k, v in (("train", train), ("dev", dev), ("test", test))
    }
    return TokenSplits(train, dev, test, tagging.bio_labels(types), info)
