"""[harden] property-based tests of every reader: any text round-trips through write-then-read,
or is refused with a UserError naming the file and the line (row, for Parquet)."""

from __future__ import annotations

import atexit
import csv
import io
import itertools
import json
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunewise.data import read_examples
from tunewise.errors import UserError
from tunewise.tasks.tokens.conll import read_conll

SETTINGS = settings(
    derandomize=True, max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# any Unicode text (every plane; hypothesis leaves out lone surrogates, which UTF-8 cannot
# hold), weighted toward the characters that break readers
TRICKY = st.sampled_from(
    [
        '"',
        "'",
        ",",
        "\t",
        "\n",
        "\r",
        "\r\n",
        "\x00",
        "\ufeff",
        "\u2028",
        "\x0c",
        "\x85",
        " ",
        "\\",
        "é",
        "中",
        "😀",
        "\U0010fffd",
    ]
)
TEXT = st.lists(st.one_of(st.text(max_size=20), TRICKY), max_size=12).map("".join)
LONG = st.integers(10_000, 200_000).map(lambda n: "x" * n)
TEXTS = st.lists(st.one_of(TEXT, LONG), min_size=1, max_size=6)
LABELS = st.sampled_from(["pos", "neg", "0", "1", "中性"])


def _check(path: Path, texts: list[str], read, unit: str = "line"):
    """Read back: equal texts, or a UserError that names the file and a line/row."""
    try:
        got = read(path)
    except UserError as e:
        msg = str(e)
        assert str(path) in msg, msg
        assert f" {unit} " in msg or "empty file" in msg or "no data rows" in msg, msg
        assert "\n" not in msg.strip(), msg  # one line
        return None
    assert [e.text for e in got] == texts
    return got


_ROOT = Path(tempfile.mkdtemp(prefix="tw-prop-"))
atexit.register(shutil.rmtree, _ROOT, True)
_COUNT = itertools.count()


def _quoting(eol: str) -> int:
    return csv.QUOTE_MINIMAL if eol == "\r\n" else csv.QUOTE_ALL


def _tmp(name: str) -> Path:
    d = _ROOT / str(next(_COUNT))
    d.mkdir()
    return d / name


@SETTINGS
@given(
    TEXTS, st.lists(LABELS, min_size=6, max_size=6), st.sampled_from(["\n", "\r\n"]), st.booleans()
)
def test_csv_round_trips_or_is_refused_with_file_and_line(texts, labels, eol, bom):
    buf = io.StringIO()
    # Python's writer leaves a cell holding "\r" unquoted when the line ends in "\n" alone,
    # which no reader can tell from a line break: with "\n" every cell is quoted
    w = csv.writer(buf, lineterminator=eol, quoting=_quoting(eol))
    w.writerow(["text", "label"])
    for t, y in zip(texts, labels):
        w.writerow([t, y])
    p = _tmp("d.csv")
    p.write_bytes((("\ufeff" if bom else "") + buf.getvalue()).encode("utf-8"))
    _check(p, texts, read_examples)


@SETTINGS
@given(TEXTS, st.lists(LABELS, min_size=6, max_size=6), st.sampled_from(["\n", "\r\n"]))
def test_quoted_tsv_round_trips_with_quoting_csv(texts, labels, eol):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator=eol, quoting=_quoting(eol))
    w.writerow(["label", "text"])
    for t, y in zip(texts, labels):
        w.writerow([y, t])
    p = _tmp("d.tsv")
    p.write_text(buf.getvalue(), encoding="utf-8", newline="")
    _check(p, texts, lambda q: read_examples(q, quoting="csv"))


# a plain TSV cell cannot hold a tab or a line break (the format has no quoting)
PLAIN = TEXTS.map(
    lambda ts: [t.replace("\t", " ").replace("\n", " ").replace("\r", " ") for t in ts]
)


@SETTINGS
@given(PLAIN, st.lists(LABELS, min_size=6, max_size=6), st.sampled_from(["\n", "\r\n"]))
def test_plain_tsv_round_trips_quotes_and_all(texts, labels, eol):
    body = "label\ttext" + eol + "".join(f"{y}\t{t}{eol}" for t, y in zip(texts, labels))
    p = _tmp("d.tsv")
    p.write_text(body, encoding="utf-8", newline="")
    _check(p, texts, read_examples)


@SETTINGS
@given(PLAIN, st.lists(LABELS, min_size=6, max_size=6), st.booleans())
def test_plain_tsv_with_stray_tabs_is_refused_with_file_and_line(texts, labels, ascii_):
    body = "label\ttext\n" + "".join(f"{y}\t{t}\tEXTRA\n" for t, y in zip(texts, labels))
    p = _tmp("d.tsv")
    p.write_text(body, encoding="utf-8", newline="")
    try:
        read_examples(p)
    except UserError as e:
        assert str(p) in str(e) and " line " in str(e)
    else:
        raise AssertionError("a row with an extra field was accepted")


@SETTINGS
@given(TEXTS, st.lists(LABELS, min_size=6, max_size=6), st.booleans())
def test_jsonl_round_trips_or_is_refused(texts, labels, ascii_):
    p = _tmp("d.jsonl")
    rows = [json.dumps({"text": t, "label": y}, ensure_ascii=ascii_) for t, y in zip(texts, labels)]
    p.write_text("\n".join(rows) + "\n", encoding="utf-8", newline="")
    _check(p, texts, read_examples)


@SETTINGS
@given(TEXTS, st.lists(LABELS, min_size=6, max_size=6))
def test_parquet_round_trips_or_is_refused(texts, labels):
    p = _tmp("d.parquet")
    pq.write_table(pa.table({"text": texts, "label": labels[: len(texts)]}), p)
    _check(p, texts, read_examples, unit="row")


TOKEN = st.text(min_size=1, max_size=8).filter(
    lambda t: t.strip() == t and not any(c.isspace() for c in t) and not t.startswith("-DOCSTART-")
)
SENTENCE = st.lists(
    st.tuples(TOKEN, st.sampled_from(["O", "B-PER", "I-PER", "B-LOC"])), min_size=1, max_size=6
)


@SETTINGS
@given(
    st.lists(SENTENCE, min_size=1, max_size=4),
    st.sampled_from(["\t", " "]),
    st.sampled_from(["\n", "\r\n"]),
)
def test_conll_round_trips_tokens_and_tags(sentences, sep, eol):
    p = _tmp("d.conll")
    body = eol.join(eol.join(f"{w}{sep}{t}" for w, t in s) + eol for s in sentences)
    p.write_text(body, encoding="utf-8", newline="")
    try:
        got = read_conll(p)
    except UserError as e:
        assert str(p) in str(e) and " line " in str(e), str(e)
        return
    assert [g.words for g in got] == [[w for w, _ in s] for s in sentences]
    assert [g.raw_tags for g in got] == [[t for _, t in s] for s in sentences]


MESSAGE = st.one_of(TEXT, st.just("a\u2028b"), st.just("x\x0cy")).filter(lambda t: t.strip())


@SETTINGS
@given(st.lists(st.tuples(MESSAGE, MESSAGE), min_size=1, max_size=5), st.booleans())
def test_sft_jsonl_round_trips_chats(pairs, ascii_):
    from tunewise.tasks.sft.data import read_sft

    p = _tmp("chat.jsonl")
    rows = [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in pairs
    ]
    p.write_text(
        "".join(json.dumps(r, ensure_ascii=ascii_) + "\n" for r in rows),
        encoding="utf-8",
        newline="",
    )
    got = read_sft(p)
    assert [g.messages for g in got] == [r["messages"] for r in rows]


@SETTINGS
@given(st.lists(TEXT.filter(lambda t: t.strip()), min_size=1, max_size=5), st.booleans())
def test_jsonl_spans_round_trip_texts(texts, ascii_):
    from tunewise.tasks.tokens.conll import read_jsonl_spans

    p = _tmp("spans.jsonl")
    body = "".join(
        json.dumps({"text": t, "entities": []}, ensure_ascii=ascii_) + "\n" for t in texts
    )
    p.write_text(body, encoding="utf-8", newline="")
    try:
        got = read_jsonl_spans(p)
    except UserError as e:
        assert str(p) in str(e) and " line " in str(e), str(e)
        return
    assert [g.text for g in got] == texts


def test_conll_token_with_a_line_separator_keeps_its_line(tmp_path):
    p = tmp_path / "d.conll"
    p.write_text("a\u2028b\tO\nc\tB-PER\n\nd\tO\n", encoding="utf-8")
    got = read_conll(p)
    assert [g.words for g in got] == [["a\u2028b", "c"], ["d"]]
    assert got[1].where.endswith("line 4")
