"""Token data: readers (CoNLL, one character per line, JSONL spans), tag schemes, bad input."""

import re

import pytest

from tunewise.config import DataConfig
from tunewise.errors import UserError
from tunewise.tasks.tokens import tagging
from tunewise.tasks.tokens.conll import read_conll, read_jsonl_spans, read_token_file, split_words
from tunewise.tasks.tokens.data import read_tagged, require_valid

CONLL = """-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O
.  . O O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER
Smith NNP I-NP B-PER
"""


def load_token_splits(data):
    """Read and split tagged files as a run does (the runner's load_data)."""
    from types import SimpleNamespace

    from tunewise.config import Config
    from tunewise.run.runner import load_data

    cfg = Config(data=data, task={"type": "tokens"})
    _, d, info = load_data(cfg)
    return SimpleNamespace(
        train=d.train, dev=d.dev, test=d.test, labels=d.info["labels"], info={**d.info, **info}
    )


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_conll_columns_docstart_and_iob1(tmp_path):
    p = write(tmp_path, "eng.train", CONLL)
    exs = read_conll(p)
    assert [e.words for e in exs] == [
        ["EU", "rejects", "German", "call", "."],
        ["Peter", "Blackburn", "Smith"],
    ]
    assert exs[1].raw_tags == ["I-PER", "I-PER", "B-PER"]
    assert exs[0].where == f"{p} line 3" and exs[1].lines == [9, 10, 11]
    assert exs[0].text == "EU rejects German call ." and exs[0].offsets[2] == (11, 17)
    # another column as the tag: the chunk column
    assert read_conll(p, tag_column=2)[0].raw_tags[0] == "I-NP"
    tagged, scheme = read_tagged(p, DataConfig())
    assert scheme == "IOB1"
    # IOB1 -> BIO: the entity opened by I- gets B-, the B- between two PERs splits them
    assert tagged[1].tags == ["B-PER", "I-PER", "B-PER"]
    assert tagged[0].tags == ["B-ORG", "O", "B-MISC", "O", "O"]
    assert all(not e.issues for e in tagged)


def test_tab_separated_and_whitespace_only_separator_lines(tmp_path):
    p = write(
        tmp_path, "w.conll", "@me\tO\nParis\tB-location\n\t\nhi\tO\n\nNew\tB-group\nYork\tI-group\n"
    )
    exs = read_conll(p)
    assert [e.words for e in exs] == [["@me", "Paris"], ["hi"], ["New", "York"]]


def test_chars_per_line_bmes(tmp_path):
    text = "高 B-NAME\n勇 E-NAME\n， O\n男 O\n\n中 B-ORG\n国 M-ORG\n银 M-ORG\n行 E-ORG\n"
    p = write(tmp_path, "train.char.bmes", text)
    exs, scheme = read_tagged(p, DataConfig())
    assert scheme == "BMES"
    assert exs[0].text == "高勇，男" and exs[0].offsets[1] == (1, 2)
    assert exs[0].tags == ["B-NAME", "I-NAME", "O", "O"]
    assert exs[1].tags == ["B-ORG", "I-ORG", "I-ORG", "I-ORG"]


def test_jsonl_spans_cut_words_at_span_edges(tmp_path):
    p = write(
        tmp_path,
        "d.jsonl",
        '{"text": "Barack Obama visited Paris.", "entities": '
        '[{"start": 0, "end": 12, "label": "PER"}, {"start": 21, "end": 26, "label": "LOC"}]}\n'
        '{"text": "无人知晓北京", "spans": [[4, 6, "LOC"]]}\n',
    )
    a, b = read_jsonl_spans(p)
    assert a.words == ["Barack", "Obama", "visited", "Paris", "."]
    assert a.raw_tags == ["B-PER", "I-PER", "O", "B-LOC", "O"]
    assert b.words == list("无人知晓北京") and b.raw_tags[4:] == ["B-LOC", "I-LOC"]
    assert read_token_file(p)[0].words == a.words  # .jsonl picks the span reader


@pytest.mark.parametrize(
    "text, message",
    [
        ("EU I-ORG\nrejects\n", "line 2: expected a token and a tag"),
        ('{"text": "ab", "entities": [{"start": 0, "end": 9, "label": "X"}]}', "line 1: span 0-9"),
        (
            '{"text": "a b c"}\n{"text": "a b c", "entities": [[0, 3, "X"], [2, 5, "Y"]]}',
            "line 2: spans (0, 3) and (2, 5) overlap",
        ),
        ('{"text": "a"}\n{oops', "line 2: not valid JSON"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path, text, message):
    name = "bad.jsonl" if text.startswith("{") else "bad.conll"
    p = write(tmp_path, name, text)
    with pytest.raises(UserError, match=re.escape(message)) as e:
        read_token_file(p)
    assert str(p) in str(e.value)


def test_invalid_sequences_are_reported_with_lines_not_fixed(tmp_path):
    # BIO: I-PER after O on line 3; BIOES: B-LOC never closed (line 6)
    p = write(tmp_path, "bad.conll", "Hi B-X\nthere O\nPeter I-PER\n")
    exs, scheme = read_tagged(p, DataConfig(), "BIO")
    assert scheme == "BIO"
    assert exs[0].issues == [f"{p} line 3: tag 'I-PER' follows O (BIO needs B-PER first) (BIO)"]
    q = write(tmp_path, "bad.bioes", "a S-X\nb O\nc B-LOC\nd O\n")
    exs2, scheme2 = read_tagged(q, DataConfig())
    assert scheme2 == "BIOES"
    assert exs2[0].issues == [
        f"{q} line 3: entity LOC opened before 'O' is not closed with E-LOC (BIOES)"
    ]
    data = DataConfig(train=p, tag_scheme="BIO")
    splits = load_token_splits(data)
    with pytest.raises(UserError, match=r"1 invalid tag sequence\(s\): .*bad.conll line 3"):
        require_valid(splits)


def test_detect_schemes():
    assert tagging.detect_scheme([["B-A", "I-A", "O"], ["O", "B-B"]]) == "BIO"
    assert tagging.detect_scheme([["I-A", "I-A", "B-A"], ["O", "I-B"]]) == "IOB1"
    assert tagging.detect_scheme([["I-A", "I-A", "O"]]) == "IO"
    assert tagging.detect_scheme([["B-A", "E-A", "S-B"]]) == "BIOES"
    assert tagging.detect_scheme([["U-A", "B-A", "L-A"]]) == "BIOES"  # BILOU
    assert tagging.detect_scheme([["B-A", "M-A", "E-A"]]) == "BMES"


@pytest.mark.parametrize(
    "scheme, seq",
    [
        ("IO", ["I-PER", "I-PER", "O", "I-LOC", "I-ORG"]),
        ("BIO", ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG"]),
        ("IOB1", ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG"]),
        ("BIOES", ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "S-ORG"]),
        ("BMES", ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "S-ORG"]),
    ],
)
def test_every_scheme_converts_to_the_same_entities(scheme, seq):
    assert tagging.validate(seq, scheme) == []
    bio = tagging.convert(seq, scheme)
    if scheme == "IO":  # IO cannot separate the two adjacent PERs
        assert tagging.to_spans(bio, "BIO") == [("PER", 0, 2), ("LOC", 3, 4), ("ORG", 4, 5)]
    else:
        assert tagging.to_spans(bio, "BIO") == [
            ("PER", 0, 2),
            ("PER", 2, 3),
            ("LOC", 4, 5),
            ("ORG", 5, 6),
        ]


def test_validate_catches_each_kind_of_error():
    assert tagging.validate(["O", "E-X"], "BIOES") == [(1, "tag 'E-X' follows O")]
    assert tagging.validate(["B-X", "I-Y", "E-Y"], "BIOES")[0][0] == 0
    assert tagging.validate(["B-X", "M-X"], "BMES") == [
        (1, "entity X is not closed with E-X at the end")
    ]
    assert tagging.validate(["PER"], "BIO")[0][1].startswith("tag 'PER' has no")
    assert tagging.validate(["S-X"], "BIO")[0][1] == "tag 'S-X': prefix S is not part of BIO"
    assert tagging.validate(["O", "B-X"], "IOB1")[0][0] == 1


def test_split_words_keeps_offsets():
    text = "Barack Obama visited Paris, the U.S. and 北京 (China)."
    offs = split_words(text)
    words = [text[a:b] for a, b in offs]
    assert words == [
        "Barack", "Obama", "visited", "Paris", ",", "the", "U.S.", "and", "北", "京",
        "(", "China", ")", ".",
    ]  # fmt: skip


def test_splits_off_dev_and_keeps_copies_together(tmp_path):
    rows = "".join(f"w{i} B-X\nz O\n\n" for i in range(40)) + "w1 B-X\nz O\n\n"
    p = write(tmp_path, "t.conll", rows)
    s = load_token_splits(DataConfig(train=p))
    assert len(s.train) + len(s.dev) + len(s.test) == 41 and len(s.dev) == 4
    where = {tuple(e.words): n for n in ("train", "dev", "test") for e in getattr(s, n)}
    assert len(where) == 40  # the repeated sentence is in one split only
    assert s.labels == ["O", "B-X", "I-X"] and s.info["split"]["from"] == "train"


def test_an_all_o_test_file_is_read_in_trains_scheme(tmp_path):
    train = write(tmp_path, "train.conll", "Peter I-PER\nBlack I-PER\nSmith B-PER\n")
    test = write(tmp_path, "test.conll", "nothing O\nhere O\n")
    s = load_token_splits(DataConfig(train=train, test=test))
    assert s.info["tag_schemes"] == {"train": "IOB1", "test": "IOB1"}
