"""Read CSV, TSV, JSON Lines and Parquet files into :class:`Example` lists.

Every problem with a file ends in one :class:`UserError` naming the file, the line (or
Parquet row) and the column, so a user can open the file and fix it.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

from tunewise.data.examples import Example, label_to_str
from tunewise.errors import UserError, where

# extension -> format; ".json" is read as JSON Lines (FewCLUE and others ship it that way)
FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
}
SUPPORTED = ".csv, .tsv, .tab, .jsonl, .json (JSON Lines), .parquet"
QUOTING = ("auto", "none", "csv")
"""How quotes in delimited files are read: auto (CSV quoted, TSV not, as GLUE, CLUE and
ChnSentiCorp ship them), none (a quote is an ordinary character; cells hold no tab or line
break), csv (RFC 4180 quoting, for TSV written by a CSV writer)."""


@dataclass
class _Table:
    columns: list[str]
    rows: list[tuple[int, dict]]
    """(line or row number, {column: value}) per data row."""
    unit: str
    """``line`` for text formats, ``row`` for Parquet."""


def read_examples(
    path: str | Path,
    *,
    text_column: str = "text",
    text_pair_column: str | None = None,
    label_column: str = "label",
    require_label: bool = True,
    multi_label: bool = False,
    label_sep: str = "|",
    quoting: str = "auto",
) -> list[Example]:
    """Read one data file; the format comes from the extension.

    Labels are strings: ``1`` and ``1.0`` become ``"1"``. With ``multi_label`` a label is a
    list of strings, from a JSON/Parquet list or a cell split on ``label_sep``; an explicit
    empty list means "no label applies" and is kept, a blank or null cell is a missing label.
    ``quoting`` (see :data:`QUOTING`): a ``.tsv`` is read without quote processing unless it
    is ``csv``.

    Raises:
        UserError: the file is missing, unreadable, or a row is bad (the message says where).
    """
    table = read_table(path, quoting)
    return _to_examples(
        table,
        path,
        text_column,
        text_pair_column,
        label_column,
        require_label,
        multi_label,
        label_sep,
    )


def read_table(path: str | Path, quoting: str = "auto") -> _Table:
    """The rows of one data file as ``{column: value}`` (the columns a user maps), each with
    its line (row for Parquet) number; the format comes from the extension.

    Raises:
        UserError: the file is missing, unreadable, or malformed (the message says where).
    """
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{path}: file not found")
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        kind = repr(p.suffix) if p.suffix else "(no extension)"
        raise UserError(f"{path}: unsupported file type {kind}; use one of {SUPPORTED}")
    data = p.read_bytes()
    if not data.strip():
        raise UserError(f"{path}: empty file (no rows)")
    if fmt == "parquet":
        table = _read_parquet(data, path)
    else:
        text = _decode(data, path)
        if fmt == "jsonl":
            table = _read_jsonl(text, path)
        elif _plain(fmt, quoting):
            table = _read_plain(text, path, "," if fmt == "csv" else "\t", fmt.upper())
        else:
            table = _read_delimited(text, path, "," if fmt == "csv" else "\t", fmt.upper())
    return table


def _loc(path: object, unit: str, n: int, column: str | None = None) -> str:
    if unit == "line":
        return where(path, n, column)
    out = f"{path} row {n}"
    return out + (f", column {column!r}" if column is not None else "")


def _decode(data: bytes, path: object) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line_start = data.rfind(b"\n", 0, e.start) + 1
        line = data.count(b"\n", 0, e.start) + 1
        column = len(data[line_start : e.start].decode("utf-8", errors="replace")) + 1
        raise UserError(
            f"{where(path, line)}: not valid UTF-8 (byte 0x{data[e.start]:02x} at column "
            f"{column}); save the file as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")  # a BOM (Excel) would otherwise rename column 1


def _plain(fmt: str, quoting: str) -> bool:
    if quoting not in QUOTING:
        raise UserError(f"--quoting {quoting!r}: choose one of {', '.join(QUOTING)}")
    if quoting == "auto":
        return fmt == "tsv"
    return quoting == "none"


def _header(cells: list[str], path: object, line: int) -> list[str]:
    header = [c.strip() for c in cells]
    seen: dict[str, int] = {}
    for i, name in enumerate(header, start=1):
        if name in seen:
            raise UserError(
                f"{where(path, line)}: column name {name!r} appears twice (columns {seen[name]} "
                f"and {i}); rename one"
            )
        seen[name] = i
    return header


def _read_plain(text: str, path: object, delimiter: str, kind: str) -> _Table:
    """Delimited text without quote processing: one row per line, cells split on the
    delimiter, a quote is an ordinary character (how GLUE-style TSV files are written)."""
    header: list[str] | None = None
    rows: list[tuple[int, dict]] = []
    for n, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if not line.strip():
            continue
        cells = line.split(delimiter)
        if header is None:
            header = _header(cells, path, n)
            continue
        if len(cells) != len(header):
            sep = "tab" if delimiter == "\t" else repr(delimiter)
            raise UserError(
                f"{where(path, n)}: expected {len(header)} fields, found {len(cells)} "
                f"(cells split on every {sep}; this {kind} is read without quote processing: "
                "if its cells are quoted, pass --quoting csv)"
            )
        rows.append((n, dict(zip(header, cells))))
    if header is None:
        raise UserError(f"{path}: empty file (no rows)")
    return _Table(header, rows, "line")


def _read_delimited(text: str, path: object, delimiter: str, kind: str) -> _Table:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    index: dict[str, int] = {}
    rows: list[tuple[int, dict]] = []
    start = 1  # physical line where the row being read begins (a quoted cell may span lines)
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue  # blank line, or a row of empty cells (spreadsheet leftovers)
            if header is None:
                header = _header(cells, path, line)
                index = {name: i for i, name in enumerate(header)}
                continue
            if len(cells) != len(header):
                raise UserError(
                    f"{where(path, line)}: expected {len(header)} fields, found {len(cells)}"
                )
            rows.append((line, {name: cells[i] for name, i in index.items()}))
    except csv.Error as e:
        raise UserError(f"{where(path, start)}: not valid {kind} ({_csv_problem(e)})") from None
    if header is None:
        raise UserError(f"{path}: empty file (no rows)")
    return _Table(header, rows, "line")


def _csv_problem(error: csv.Error) -> str:
    msg = str(error)
    if "unexpected end of data" in msg:
        return "a quoted cell is never closed"
    if "expected after" in msg:
        return (
            "text follows the closing quote of a quoted cell; "
            'quote the whole cell and write each quote inside it as ""'
        )
    return msg.replace("\t", "\\t")


def _read_jsonl(text: str, path: object) -> _Table:
    columns: dict[str, None] = {}  # ordered set
    rows: list[tuple[int, dict]] = []
    for n, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            if not rows and raw.lstrip().startswith("["):
                raise _json_array(path) from None
            raise UserError(
                f"{where(path, n)}: not valid JSON ({e.msg} at column {e.colno})"
            ) from None
        if not isinstance(obj, dict):
            if not rows and isinstance(obj, list):
                raise _json_array(path)
            kind = "null" if obj is None else type(obj).__name__
            raise UserError(f"{where(path, n)}: expected a JSON object, found {kind}")
        columns.update(dict.fromkeys(obj))
        rows.append((n, obj))
    if not rows:
        raise UserError(f"{path}: empty file (no rows)")
    return _Table(list(columns), rows, "line")


def _json_array(path: object) -> UserError:
    return UserError(
        f"{path}: a JSON array; expected JSON Lines (one object per line), "
        "e.g. convert with: jq -c '.[]' in.json > out.jsonl"
    )


def _read_parquet(data: bytes, path: object) -> _Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as e:
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        detail = detail.removeprefix("Could not open Parquet input source '<Buffer>': ")
        raise UserError(f"{path}: not a readable Parquet file ({detail})") from None
    rows = [(i, row) for i, row in enumerate(table.to_pylist(), start=1)]
    return _Table(list(table.column_names), rows, "row")


_FLAGS = {"text": "--text-column", "pair": "--text-pair-column", "label": "--label-column"}


def _to_examples(
    table: _Table,
    path: object,
    text_column: str,
    pair_column: str | None,
    label_column: str,
    require_label: bool,
    multi_label: bool,
    sep: str,
) -> list[Example]:
    wanted = [("text", text_column), ("pair", pair_column)]
    if require_label:
        wanted.append(("label", label_column))
    for role, column in wanted:
        if column is not None and column not in table.columns:
            raise UserError(
                f"{path}: no column {column!r} (columns: {', '.join(table.columns)}); "
                f"set {_FLAGS[role]}"
            )
    if not table.rows:
        raise UserError(f"{path}: no data rows (only a header)")
    has_label = label_column in table.columns
    out = []
    for n, row in table.rows:
        text = _text(row.get(text_column), _loc(path, table.unit, n, text_column))
        pair = None
        if pair_column is not None:
            pair = _text(row.get(pair_column), _loc(path, table.unit, n, pair_column))
        label = None
        if has_label:
            at = _loc(path, table.unit, n, label_column)
            value = row.get(label_column)
            label = _multi_label(value, sep, at) if multi_label else _single_label(value, at)
            if label is None and require_label:
                raise UserError(f"{at}: missing label")
        out.append(Example(text, label, pair, _loc(path, table.unit, n)))
    return out


def _is_null(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _text(value: object, at: str) -> str:
    if _is_null(value):
        raise UserError(f"{at}: empty text")
    if not isinstance(value, str):
        raise UserError(f"{at}: expected text, found {type(value).__name__} {value!r}")
    if not value.strip():
        raise UserError(f"{at}: empty text")
    bad = lone_surrogate(value)
    if bad is not None:
        raise UserError(
            f"{at}: a lone surrogate (U+{ord(value[bad]):04X} at character {bad + 1}) is not "
            "text; a JSON escape like \\ud800 without its pair? fix or remove it"
        )
    return value


def lone_surrogate(text: str) -> int | None:
    """Index of the first lone surrogate code point in ``text`` (it cannot be encoded as
    UTF-8 and breaks tokenizers), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return e.start
    return None


def _single_label(value: object, at: str) -> str | None:
    if isinstance(value, list | tuple):
        raise UserError(f"{at}: a list of labels; for multi-label data set task.multi_label=true")
    try:
        return label_to_str(value)
    except TypeError:
        raise UserError(
            f"{at}: expected a label (a string or an integer), found {type(value).__name__}"
        ) from None


def _multi_label(value: object, sep: str, at: str) -> list[str] | None:
    if _is_null(value):
        return None
    if isinstance(value, str):
        items: list = [s.strip() for s in value.split(sep)]
        if not any(items):
            return None
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        items = [value]
    labels = []
    for item in items:
        try:
            label = label_to_str(item)
        except TypeError:
            raise UserError(
                f"{at}: expected labels (strings or integers), found {type(item).__name__}"
            ) from None
        if label is not None and label not in labels:
            labels.append(label)
    return labels
