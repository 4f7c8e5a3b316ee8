"""Readers for instruction JSONL, chat JSONL and plain text; bad rows name file and line."""

import json

import pytest

from tunewise.errors import UserError
from tunewise.tasks.sft.data import read_sft


def _jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_instruction_chat_and_text_rows(tmp_path):
    p = _jsonl(
        tmp_path / "d.jsonl",
        [
            {"instruction": "Add", "input": "2 and 3", "output": "5"},
            {"instruction": "Greet", "output": "Hi"},
            {
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Balance?"},
                    {"role": "assistant", "content": "Which account?"},
                    {"role": "user", "content": "Checking"},
                    {"role": "assistant", "content": "$5."},
                ]
            },
        ],
    )
    a, b, c = read_sft(p)
    assert a.messages == [
        {"role": "user", "content": "Add\n\n2 and 3"},
        {"role": "assistant", "content": "5"},
    ]
    assert b.messages[0]["content"] == "Greet" and b.reference == "Hi"
    assert len(c.messages) == 5 and c.reference == "$5." and c.prompt[-1]["content"] == "Checking"
    assert c.where.endswith("d.jsonl line 3")
    t = tmp_path / "corpus.txt"
    t.write_text("first doc line one\nline two\n\n\nsecond doc\n")
    docs = read_sft(t)
    assert [d.text for d in docs] == ["first doc line one\nline two", "second doc"]
    assert docs[1].messages is None and docs[1].where.endswith("line 5")


@pytest.mark.parametrize(
    "row, message",
    [
        ('{"instruction": "x"', "line 2 column .*not valid JSON"),
        ({"instruction": "Do it"}, "line 2: missing field 'output'"),
        ({"instruction": "", "output": "y"}, "line 2: field 'instruction' is empty"),
        ({"instruction": "x", "output": 3}, "line 2: field 'output' must be a string"),
        ({"messages": [{"role": "bot", "content": "x"}]}, "line 2 message 1: role 'bot'"),
        ({"messages": [{"role": "user", "content": "x"}]}, "line 2: no assistant message"),
        ({"messages": [{"role": "user"}]}, "line 2 message 1: expected an object"),
        ({"messages": "hi"}, "line 2: 'messages' must be a non-empty list"),
        ({"prompt": "x"}, "line 2: expected 'messages'"),
        (
            {"messages": [{"role": "assistant", "content": "x"}]},
            "line 2: the conversation must start with a user message",
        ),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, row, message):
    p = _jsonl(tmp_path / "bad.jsonl", [{"instruction": "ok", "output": "ok"}, row])
    with pytest.raises(UserError, match=message) as e:
        read_sft(p)
    assert "bad.jsonl" in str(e.value)


def test_bad_files(tmp_path):
    with pytest.raises(UserError, match="file not found"):
        read_sft(tmp_path / "none.jsonl")
    (tmp_path / "x.csv").write_text("a\n")
    with pytest.raises(UserError, match="unsupported file type"):
        read_sft(tmp_path / "x.csv")
    (tmp_path / "e.jsonl").write_text("\n")
    with pytest.raises(UserError, match="empty file"):
        read_sft(tmp_path / "e.jsonl")
    (tmp_path / "u.txt").write_bytes(b"ok\n\xff\xfe bad\n")
    with pytest.raises(UserError, match="u.txt line 2: not valid UTF-8"):
        read_sft(tmp_path / "u.txt")
