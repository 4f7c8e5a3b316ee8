"""[harden] TSV files as GLUE, CLUE and ChnSentiCorp ship them: no quote processing."""

from __future__ import annotations

import pytest

from tunewise.data import read_examples
from tunewise.errors import UserError


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_tsv_cells_that_begin_with_a_quote_load_as_they_are(tmp_path):
    p = _write(
        tmp_path,
        "t.tsv",
        'label\ttext\n1\t"the best film" of the year\n0\t"unclosed quote\n1\tplain\n',
    )
    exs = read_examples(p)
    assert [e.text for e in exs] == ['"the best film" of the year', '"unclosed quote', "plain"]
    assert [e.label for e in exs] == ["1", "0", "1"]


def test_tsv_crlf_and_the_quoted_kind(tmp_path):
    p = _write(tmp_path, "c.tsv", 'text\tlabel\r\n"a\tb"\tx\r\n"say ""hi"""\ty\r\n')
    exs = read_examples(p, quoting="csv")
    assert [e.text for e in exs] == ["a\tb", 'say "hi"']
    with pytest.raises(
        UserError, match=r"c.tsv line 2: expected 2 fields, found 3 .*--quoting csv"
    ):
        read_examples(p)


def test_csv_can_be_read_without_quotes(tmp_path):
    p = _write(tmp_path, "n.csv", 'text,label\n"half,x\n')
    with pytest.raises(UserError, match="never closed"):
        read_examples(p)
    assert read_examples(p, quoting="none")[0].text == '"half'


def test_bad_quoting_value(tmp_path):
    p = _write(tmp_path, "t.tsv", "text\tlabel\na\tb\n")
    with pytest.raises(UserError, match="--quoting 'smart': choose one of auto, none, csv"):
        read_examples(p, quoting="smart")


@pytest.mark.parametrize(
    "name,text",
    [
        ("d.csv", "text,label,text\na,b,c\n"),
        ("d.tsv", "text\tlabel\ttext\na\tb\tc\n"),
    ],
)
def test_duplicate_header_names_are_refused(tmp_path, name, text):
    p = _write(tmp_path, name, text)
    with pytest.raises(UserError) as e:
        read_examples(p)
    assert str(e.value) == (
        f"{p} line 1: column name 'text' appears twice (columns 1 and 3); rename one"
    )


def test_lone_surrogate_in_jsonl_is_refused_with_file_and_line(tmp_path):
    p = _write(
        tmp_path, "s.jsonl", '{"text": "fine", "label": "a"}\n{"text": "\\ud800 x", "label": "b"}\n'
    )
    with pytest.raises(
        UserError, match=r"s.jsonl line 2, column 'text': a lone surrogate \(U\+D800"
    ):
        read_examples(p)
