"""The doctor's checks of token-tagged data."""

from tests.doctor.helpers import run
from tunewise.doctor import run_doctor
from tunewise.tasks import get_task
from tunewise.tasks.tokens.conll import TokenExample, join_words


def tex(words, tags, where="mem line 1", issues=(), scheme="BIO"):
    text, offs = join_words(words, " ")
    ex = TokenExample(list(words), list(tags), where, text, offs, list(tags))
    ex.issues, ex.scheme = list(issues), scheme
    return ex


def sents(n, prefix, typ="PER"):
    return [tex([f"{prefix}{i}", "said", "hi"], [f"B-{typ}", "O", "O"]) for i in range(n)]


def test_shared_sentences_warns_and_errors_when_most_are_shared():
    train = sents(20, "a")
    some = run("shared_sentences", {"train": train, "test": sents(18, "t") + train[:2]})
    assert not some.ok and some.severity == "warning"
    assert some.details["pairs"]["train-test"]["shared_sentences_of_test"] == 2
    most = run("shared_sentences", {"train": train, "test": train[:15] + sents(5, "t")})
    assert not most.ok and most.severity == "error" and "75% of test" in most.title
    assert run("shared_sentences", {"train": train, "test": sents(5, "t")}).ok


def test_tag_scheme_reports_each_invalid_sequence_with_its_line():
    bad = tex(["Peter"], ["B-PER"], issues=["f.conll line 7: tag 'I-PER' follows O (BIO)"])
    f = run("tag_scheme", {"train": sents(3, "a") + [bad], "test": sents(2, "t")})
    assert not f.ok and f.severity == "error" and "1 invalid tag sequences (train: 1)" == f.title
    assert "f.conll line 7" in f.message
    assert run("tag_scheme", {"train": sents(3, "a")}).ok
    mixed = sents(2, "t")
    for e in mixed:
        e.scheme = "IOB1"
    m = run("tag_scheme", {"train": sents(3, "a"), "test": mixed})
    assert not m.ok and m.severity == "warning"


def test_entity_types_missing_from_train():
    f = run("entity_types", {"train": sents(12, "a"), "test": sents(2, "t", "LOC")})
    assert not f.ok and f.details["missing_from_train"] == {"test": ["LOC"]}
    assert "LOC" in f.title
    rare = run("entity_types", {"train": sents(12, "a") + sents(3, "b", "ORG")})
    assert not rare.ok and rare.details["rare_in_train"] == {"ORG": 3}
    assert run("entity_types", {"train": sents(12, "a"), "test": sents(2, "t")}).ok


def test_sentence_truncation_counts_sub_tokens(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    long = tex(["abcdefgh"] * 4, ["O"] * 4)  # 4 words x 8 pieces + 2 specials = 34
    f = run("sentence_truncation", {"train": [long] + sents(3, "a")}, tokenizer=tok, max_length=16)
    assert not f.ok and f.details["train"]["truncated"] == 1
    assert f.details["train"]["max"] == 34
    assert run("sentence_truncation", {"train": [long]}, tokenizer=tok, max_length=64).ok


def test_token_runs_get_token_checks_only():
    report = run_doctor(
        {"train": sents(12, "a"), "test": sents(2, "t")}, checks=get_task("tokens").doctor_checks
    )
    assert [f.check for f in report.findings] == [
        "unknown_tokens",
        "shared_sentences",
        "tag_scheme",
        "entity_types",
        "sentence_truncation",
    ]
