"""Reading unlabeled text for pretraining, and keeping the user's test texts out of it.

Sources: a ``.txt`` file (one document per line, or documents separated by blank lines, see
:data:`PARAGRAPH_SHARE`), a JSONL/CSV/TSV/Parquet file (one or more text columns, joined
with a newline), or a folder of such files (read in sorted order).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tunewise.data.examples import normalize_text
from tunewise.errors import UserError

TEXT_SUFFIXES = (".txt", ".jsonl", ".json", ".csv", ".tsv", ".parquet")
CONTAINMENT_BUDGET = 20_000_000
"""Largest (documents x test texts) product for which "a test text inside a longer document"
is looked for too (exact copies are always found)."""
PARAGRAPH_SHARE = 0.05
"""A .txt holds blank-line separated documents when blank lines are at least this share of its
other lines (documents of 20 lines or fewer on average) and some document spans lines."""
MIN_CONTAINED = 20
"""Test texts shorter than this many characters are matched only as whole documents."""


@dataclass
class TextDoc:
    """One pretraining document (the doctor's text checks read ``text`` and ``label``)."""

    text: str
    where: str = ""
    label: None = None
    text_pair: None = None
    in_test: str | None = None
    """Where the test copy of this text is (set when it was not dropped)."""


def _read_txt(path: Path) -> list[TextDoc]:
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise UserError(f"{path} line {line}: not valid UTF-8 text") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    lines = raw.splitlines()
    # blank-line separated documents: documents of several lines, and blank lines common
    # enough to be separators (a stray empty line in a one-per-line file is not one)
    multi = any(a.strip() and b.strip() for a, b in zip(lines, lines[1:]))
    blanks = sum(1 for s in lines if not s.strip())
    docs: list[TextDoc] = []
    if multi and blanks >= PARAGRAPH_SHARE * (len(lines) - blanks):
        block: list[str] = []
        start = 0
        for n, s in enumerate(lines + [""], 1):
            if s.strip():
                if not block:
                    start = n
                block.append(s.strip())
            elif block:
                docs.append(TextDoc("\n".join(block), f"{path} line {start}"))
                block = []
        return docs
    return [TextDoc(s.strip(), f"{path} line {n}") for n, s in enumerate(lines, 1) if s.strip()]


def _read_table(path: Path, columns: list[str], quoting: str) -> list[TextDoc]:
    """Rows of a table, the text columns joined by a newline; empty cells are skipped (an
    unlabeled corpus has gaps), cells that are not text are a UserError."""
    from tunewise.data.readers import read_table

    table = read_table(path, quoting)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise UserError(
            f"{path}: no column {missing[0]!r} (columns: {', '.join(table.columns)}); "
            "set --text-column (several: a,b)"
        )
    docs = []
    unit = table.unit
    for n, row in table.rows:
        parts = []
        for c in columns:
            v = row.get(c)
            if v is None or (isinstance(v, float) and v != v):
                continue
            if not isinstance(v, str):
                raise UserError(f"{path} {unit} {n}, column {c!r}: expected text, found {v!r}")
            if v.strip():
                parts.append(v.strip())
        if parts:
            docs.append(TextDoc("\n".join(parts), f"{path} {unit} {n}"))
    return docs


def read_file(path: Path, columns: list[str], quoting: str = "auto") -> list[TextDoc]:
    """The documents of one file (see the module docstring); a bad file is a UserError."""
    if path.suffix.lower() == ".txt":
        return _read_txt(path)
    if path.suffix.lower() not in TEXT_SUFFIXES:
        raise UserError(
            f"{path}: unsupported text file (use .txt, one document per line or blank-line "
            "separated, or JSONL/CSV/TSV/Parquet with --text-column)"
        )
    return _read_table(path, columns, quoting)


def read_texts(path: str | Path, columns: list[str], quoting: str = "auto") -> list[TextDoc]:
    """Every document of ``path``, a file or a folder of text files."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in TEXT_SUFFIXES)
        if not files:
            raise UserError(f"{p}: no text files in this folder ({', '.join(TEXT_SUFFIXES)})")
        docs = [d for f in files for d in read_file(f, columns, quoting)]
    elif p.is_file():
        docs = read_file(p, columns, quoting)
    else:
        raise UserError(f"{p}: text file or folder not found")
    if not docs:
        raise UserError(f"{p}: no text in it (every line or cell is empty)")
    return docs


def read_test_texts(paths: list[str], columns: list[str], quoting: str) -> dict[str, str]:
    """Normalized text -> where, of every text in the labeled test sets the user named."""
    out: dict[str, str] = {}
    for path in paths:
        for d in read_texts(path, columns, quoting):
            out.setdefault(normalize_text(d.text), d.where)
    return out


def find_test_copies(docs: list[TextDoc], tests: dict[str, str]) -> int:
    """Mark (``in_test``) every document that is a test text or, within the budget, holds one
    (normalized); returns how many."""
    long_tests = [(t, w) for t, w in tests.items() if len(t) >= MIN_CONTAINED]
    contain = len(docs) * len(long_tests) <= CONTAINMENT_BUDGET
    found = 0
    for d in docs:
        key = normalize_text(d.text)
        where = tests.get(key)
        if where is None and contain:
            where = next((w for t, w in long_tests if len(t) < len(key) and t in key), None)
        d.in_test = where
        found += where is not None
    return found
