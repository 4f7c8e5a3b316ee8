"""Reading pretraining text (.txt lines or paragraphs, JSONL/CSV columns, folders) and keeping
the test sets' texts out (dedup, and the doctor check when dedup is off)."""

from __future__ import annotations

import json

import pytest

from tunewise.doctor.registry import CHECKS, Context
from tunewise.errors import UserError
from tunewise.tasks.pretrain.data import find_test_copies, read_test_texts, read_texts


def test_txt_one_document_per_line_stray_blank_lines_ignored(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("first doc\nsecond doc\n\n" + "".join(f"doc {i}\n" for i in range(40)))
    docs = read_texts(p, ["text"])
    assert [d.text for d in docs[:2]] == ["first doc", "second doc"] and len(docs) == 42
    assert docs[2].where.endswith("line 4")


def test_txt_blank_line_separated_documents(tmp_path):
    p = tmp_path / "b.txt"
    p.write_text("para one\ncontinues here\n\npara two\nmore\nand more\n\n\nthird\n")
    docs = read_texts(p, ["text"])
    assert [d.text for d in docs] == [
        "para one\ncontinues here",
        "para two\nmore\nand more",
        "third",
    ]


def test_jsonl_and_csv_columns_joined_and_folders(tmp_path):
    d = tmp_path / "corpus"
    (d / "sub").mkdir(parents=True)
    (d / "a.jsonl").write_text(
        json.dumps({"title": "T1", "body": "B1"})
        + "\n"
        + json.dumps({"title": "T2", "body": ""})
        + "\n"
    )
    (d / "sub" / "b.csv").write_text("title,body\nT3,B3\n")
    (d / "ignored.bin").write_bytes(b"\0\1")
    docs = read_texts(d, ["title", "body"])
    assert [x.text for x in docs] == ["T1\nB1", "T2", "T3\nB3"]


@pytest.mark.parametrize("name", ["missing.txt", "empty.txt", "bad.txt", "x.docx"])
def test_bad_text_is_one_user_error(tmp_path, name):
    (tmp_path / "empty.txt").write_text("\n\n")
    (tmp_path / "bad.txt").write_bytes(b"ok\n\xff\xfe bad\n")
    (tmp_path / "x.docx").write_text("x")
    with pytest.raises(UserError) as e:
        read_texts(tmp_path / name, ["text"])
    assert name in str(e.value) and "\n" not in str(e.value)


def test_test_copies_found_exact_normalized_and_contained(tmp_path):
    test = tmp_path / "test.csv"
    test.write_text("text,label\nApple Raises Its Dividend Again,1\nshort,0\n")
    corpus = tmp_path / "c.txt"
    corpus.write_text(
        "apple raises its   dividend again\n"
        "News: Apple raises its dividend again, says CEO\n"
        "short and sweet\n"
        "unrelated\n"
    )
    docs = read_texts(corpus, ["text"])
    tests = read_test_texts([str(test)], ["text"], "auto")
    assert find_test_copies(docs, tests) == 2
    assert [d.in_test is not None for d in docs] == [True, True, False, False]


def test_doctor_check_is_an_error_when_test_text_stays(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a test sentence here\nother text\n")
    docs = read_texts(corpus, ["text"])
    find_test_copies(docs, {"a test sentence here": "test.csv line 2"})
    f = CHECKS["test_texts_in_text"]({"train": docs, "dev": [], "test": []}, Context())
    assert not f.ok and f.severity == "error" and f.details["documents"] == 1
    clean = CHECKS["test_texts_in_text"]({"train": docs[1:], "dev": [], "test": []}, Context())
    assert clean.ok
