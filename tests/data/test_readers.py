"""read_examples: every format, label normalization, and one exact message per bad input."""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tunewise.data import Example, read_examples
from tunewise.errors import UserError


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def jsonl(*rows) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def parquet(tmp_path, columns: dict, name: str = "d.parquet"):
    path = tmp_path / name
    pq.write_table(pa.table(columns), path)
    return path


def error_of(path, **kwargs) -> str:
    with pytest.raises(UserError) as info:
        read_examples(path, **kwargs)
    return str(info.value)


# ---- formats -------------------------------------------------------------------------------


def test_csv_reads_text_label_and_physical_lines(tmp_path):
    p = write(
        tmp_path,
        "train.csv",
        'text,label\n"  spaced, kept  ",pos\n"two\nlines",neg\n\nlast,1\n',
    )
    got = read_examples(p)
    assert got == [
        Example("  spaced, kept  ", "pos", None, f"{p} line 2"),
        Example("two\nlines", "neg", None, f"{p} line 3"),
        # the quoted cell spans lines 3-4 and line 5 is blank: this row is on line 6
        Example("last", "1", None, f"{p} line 6"),
    ]


def test_csv_with_bom_and_crlf(tmp_path):
    p = write(tmp_path, "a.csv", b"\xef\xbb\xbftext,label\r\nhello,a\r\nbye,b\r\n")
    got = read_examples(p)
    assert [(e.text, e.label) for e in got] == [("hello", "a"), ("bye", "b")]


@pytest.mark.parametrize("ext", ["tsv", "tab", "TSV"])
def test_tsv(tmp_path, ext):
    p = write(tmp_path, f"d.{ext}", "sentence\tlabel\nit's a, b\t0\nok\t1\n")
    got = read_examples(p, text_column="sentence")
    assert [(e.text, e.label) for e in got] == [("it's a, b", "0"), ("ok", "1")]


@pytest.mark.parametrize("ext", ["jsonl", "json"])
def test_jsonl_types_and_lines(tmp_path, ext):
    content = jsonl({"text": "a", "label": 1}) + "   \n" + jsonl({"text": "b", "label": "x"})
    p = write(tmp_path, f"d.{ext}", content)
    got = read_examples(p)
    assert got == [Example("a", "1", None, f"{p} line 1"), Example("b", "x", None, f"{p} line 3")]


def test_parquet_integral_floats_become_int_strings(tmp_path):
    p = parquet(tmp_path, {"text": ["a", "b", "c"], "label": [1.0, 0.0, 2.5]})
    got = read_examples(p)
    assert [e.label for e in got] == ["1", "0", "2.5"]
    assert got[1].where == f"{p} row 2"


def test_label_values_normalized(tmp_path):
    rows = [{"text": "t", "label": v} for v in (1, 1.0, " pos ", True, -3)]
    got = read_examples(write(tmp_path, "d.jsonl", jsonl(*rows)))
    assert [e.label for e in got] == ["1", "1", "pos", "True", "-3"]


def test_text_pair(tmp_path):
    p = write(tmp_path, "p.csv", "premise,hypothesis,label\na,b,entail\n")
    got = read_examples(p, text_column="premise", text_pair_column="hypothesis")
    assert got == [Example("a", "entail", "b", f"{p} line 2")]


def test_labels_optional(tmp_path):
    p = write(tmp_path, "u.csv", "text\nhello\n")
    assert read_examples(p, require_label=False) == [Example("hello", None, None, f"{p} line 2")]
    q = write(tmp_path, "v.csv", "text,label\nhello,\nbye,b\n")
    assert [e.label for e in read_examples(q, require_label=False)] == [None, "b"]


def test_multi_label_from_cells_lists_and_parquet(tmp_path):
    p = write(tmp_path, "m.csv", 'text,label\na," x | y ||x"\nb,z\n')
    assert [e.label for e in read_examples(p, multi_label=True)] == [["x", "y"], ["z"]]
    q = write(tmp_path, "m.tsv", "text\tlabel\na\tx;y\n")
    assert read_examples(q, multi_label=True, label_sep=";")[0].label == ["x", "y"]
    r = write(
        tmp_path,
        "m.jsonl",
        jsonl({"text": "a", "label": ["b", 2, "b"]}, {"text": "c", "label": []}),
    )
    # an explicit empty list is "no label applies", which multi-label training needs
    assert [e.label for e in read_examples(r, multi_label=True)] == [["b", "2"], []]
    s = parquet(tmp_path, {"text": ["a"], "label": [["u", "v"]]})
    assert read_examples(s, multi_label=True)[0].label == ["u", "v"]


# ---- errors: file level ---------------------------------------------------------------------


def test_missing_file(tmp_path):
    p = tmp_path / "nope.csv"
    assert error_of(p) == f"{p}: file not found"


def test_unsupported_extension(tmp_path):
    p = write(tmp_path, "d.xlsx", "x")
    assert error_of(p) == (
        f"{p}: unsupported file type '.xlsx'; use one of "
        ".csv, .tsv, .tab, .jsonl, .json (JSON Lines), .parquet"
    )


@pytest.mark.parametrize(
    "name,content",
    [("e.csv", ""), ("e.csv", "\n \n"), ("e.jsonl", "\n\n"), ("e.parquet", ""), ("e.tsv", "\t\n")],
)
def test_empty_file(tmp_path, name, content):
    p = write(tmp_path, name, content)
    assert error_of(p) == f"{p}: empty file (no rows)"


def test_header_only(tmp_path):
    p = write(tmp_path, "h.csv", "text,label\n\n")
    assert error_of(p) == f"{p}: no data rows (only a header)"
    q = parquet(tmp_path, {"text": pa.array([], pa.string()), "label": pa.array([], pa.int64())})
    assert error_of(q) == f"{q}: no data rows (only a header)"


@pytest.mark.parametrize(
    "kwargs,column,flag",
    [
        ({}, "text", "--text-column"),
        ({"text_column": "sentence"}, "label", "--label-column"),
        ({"text_column": "sentence", "text_pair_column": "b"}, "b", "--text-pair-column"),
    ],
)
def test_missing_column(tmp_path, kwargs, column, flag):
    p = write(tmp_path, "c.csv", "sentence,x\nhi,1\n")
    assert error_of(p, **kwargs) == (
        f"{p}: no column {column!r} (columns: sentence, x); set {flag}"
    )


def test_missing_column_jsonl_lists_keys_of_all_lines(tmp_path):
    p = write(tmp_path, "c.jsonl", jsonl({"sentence": "a"}, {"sentence": "b", "y": 1}))
    assert error_of(p) == f"{p}: no column 'text' (columns: sentence, y); set --text-column"


def test_not_utf8_names_line_and_column(tmp_path):
    content = "text,label\nok,1\nfine,0\ncaf\u00e9 na".encode() + b"\xff" + b"ve,1\n"
    p = write(tmp_path, "latin.csv", content)
    # the bad byte follows "café na": 7 characters (8 bytes), so it is in column 8
    assert error_of(p) == (
        f"{p} line 4: not valid UTF-8 (byte 0xff at column 8); save the file as UTF-8"
    )


def test_utf16_file_is_reported_as_not_utf8(tmp_path):
    p = write(tmp_path, "w.csv", "text,label\nhi,1\n".encode("utf-16"))
    assert error_of(p) == (
        f"{p} line 1: not valid UTF-8 (byte 0xff at column 1); save the file as UTF-8"
    )


def test_corrupt_parquet(tmp_path):
    p = write(tmp_path, "bad.parquet", b"this is not parquet at all")
    assert error_of(p) == (
        f"{p}: not a readable Parquet file (Parquet magic bytes not found in footer. "
        "Either the file is corrupted or this is not a parquet file.)"
    )


# ---- errors: row level ----------------------------------------------------------------------


def test_wrong_field_count(tmp_path):
    p = write(tmp_path, "f.csv", "text,label\na,1\nb,2\n\nc,3,extra\n")
    assert error_of(p) == f"{p} line 5: expected 2 fields, found 3"
    q = write(tmp_path, "f.tsv", "text\tlabel\nonly one field\n")
    assert error_of(q).startswith(f"{q} line 2: expected 2 fields, found 1 (")
    assert error_of(q, quoting="csv") == f"{q} line 2: expected 2 fields, found 1"


def test_unclosed_quote(tmp_path):
    p = write(tmp_path, "q.csv", 'text,label\nok,1\n"never closed,1\nmore,0\n')
    assert error_of(p) == (f"{p} line 3: not valid CSV (a quoted cell is never closed)")


def test_text_after_closing_quote(tmp_path):
    p = write(tmp_path, "q.tsv", 'text\tlabel\n"quoted" then more\t1\n')
    assert error_of(p, quoting="csv") == (
        f"{p} line 2: not valid TSV (text follows the closing quote of a quoted cell; "
        'quote the whole cell and write each quote inside it as "")'
    )


@pytest.mark.parametrize(
    "content,line",
    [
        ("text,label\na,1\n,0\n", 3),
        ("text,label\na,1\n   ,0\n", 3),
        ('text,label\n"multi\nline",1\n"",0\n', 4),
    ],
)
def test_empty_text_csv(tmp_path, content, line):
    p = write(tmp_path, "t.csv", content)
    assert error_of(p) == f"{p} line {line}, column 'text': empty text"


@pytest.mark.parametrize(
    "row", [{"text": None, "label": 1}, {"label": 1}, {"text": " ", "label": 1}]
)
def test_empty_or_null_text_jsonl(tmp_path, row):
    p = write(tmp_path, "t.jsonl", jsonl({"text": "a", "label": 0}, row))
    assert error_of(p) == f"{p} line 2, column 'text': empty text"


def test_empty_pair_text(tmp_path):
    p = write(tmp_path, "p.csv", "a,b,label\nx,y,1\nx,,1\n")
    msg = error_of(p, text_column="a", text_pair_column="b")
    assert msg == f"{p} line 3, column 'b': empty text"


def test_null_text_parquet(tmp_path):
    p = parquet(tmp_path, {"text": ["a", None], "label": [0, 1]})
    assert error_of(p) == f"{p} row 2, column 'text': empty text"


def test_non_string_text(tmp_path):
    p = write(tmp_path, "n.jsonl", jsonl({"text": 12, "label": 0}))
    assert error_of(p) == f"{p} line 1, column 'text': expected text, found int 12"


@pytest.mark.parametrize(
    "name,content,line",
    [
        ("l.csv", "text,label\na,1\nb,\n", 3),
        ("l.csv", "text,label\na,1\nb,  \n", 3),
        ("l.jsonl", jsonl({"text": "a", "label": 1}, {"text": "b", "label": None}), 2),
        ("l.jsonl", jsonl({"text": "a", "label": 1}, {"text": "b"}), 2),
        ("l.jsonl", jsonl({"text": "a", "label": 1}, {"text": "b", "label": ""}), 2),
    ],
)
def test_missing_label(tmp_path, name, content, line):
    p = write(tmp_path, name, content)
    assert error_of(p) == f"{p} line {line}, column 'label': missing label"


def test_missing_label_parquet_nan(tmp_path):
    p = parquet(tmp_path, {"text": ["a", "b"], "label": [1.0, float("nan")]})
    assert error_of(p) == f"{p} row 2, column 'label': missing label"


def test_missing_multi_label(tmp_path):
    p = write(tmp_path, "m.csv", "text,label\na,x\nb, | \n")
    assert error_of(p, multi_label=True) == f"{p} line 3, column 'label': missing label"


def test_list_label_without_multi_label(tmp_path):
    p = write(tmp_path, "m.jsonl", jsonl({"text": "a", "label": ["x", "y"]}))
    assert error_of(p) == (
        f"{p} line 1, column 'label': a list of labels; "
        "for multi-label data set task.multi_label=true"
    )


def test_object_label(tmp_path):
    p = write(tmp_path, "o.jsonl", jsonl({"text": "a", "label": {"k": 1}}))
    assert error_of(p) == (
        f"{p} line 1, column 'label': expected a label (a string or an integer), found dict"
    )


def test_invalid_json_line(tmp_path):
    p = write(tmp_path, "j.jsonl", jsonl({"text": "a", "label": 1}) + "\n{'text': 'b'}\n")
    assert error_of(p) == (
        f"{p} line 3: not valid JSON (Expecting property name enclosed in double quotes "
        "at column 2)"
    )


def test_json_line_not_an_object(tmp_path):
    p = write(tmp_path, "j.jsonl", jsonl({"text": "a", "label": 1}, [1, 2]))
    assert error_of(p) == f"{p} line 2: expected a JSON object, found list"


@pytest.mark.parametrize(
    "content", ['[{"text": "a", "label": 1}]\n', '[\n  {"text": "a", "label": 1}\n]\n']
)
def test_json_array_file(tmp_path, content):
    p = write(tmp_path, "arr.json", content)
    msg = error_of(p)
    assert re.fullmatch(
        re.escape(f"{p}: a JSON array; expected JSON Lines (one object per line)") + ".*", msg
    )
