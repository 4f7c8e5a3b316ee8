"""The token task: first-sub-token alignment, labels the loss ignores, decoding, entity metrics."""

import numpy as np
import pytest
import torch

from tunewise.tasks.tokens.conll import TokenExample, join_words
from tunewise.tasks.tokens.metrics import bootstrap_f1, entity_metrics, word_memory_baseline
from tunewise.tasks.tokens.tagging import bio_labels
from tunewise.tasks.tokens.task import IGNORE, TokenTask, constrained_decode


def _ex(words, tags=None):
    text, offs = join_words(words, " ")
    return TokenExample(words, tags, "mem", text, offs)


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


def test_only_first_subtoken_carries_the_label(tok):
    task = TokenTask(bio_labels(["LOC", "PER"]))
    ex = _ex(["bob", "went", "to", "paris"], ["B-PER", "O", "O", "B-LOC"])
    enc = task.encode([ex], tok, 64)
    ids = enc.input_ids[0]
    pieces = tok.convert_ids_to_tokens(ids)
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]"
    # each word starts where a non-## piece starts
    assert [pieces[p] for p in enc.first[0]] == ["b", "w", "t", "p"]
    batch = task.collate(enc, [0], 0)
    lab = batch["labels"][0].tolist()
    expected = [IGNORE] * len(ids)
    for w, p in enumerate(enc.first[0]):
        expected[p] = task.label2id[ex.tags[w]]
    assert lab == expected
    assert sum(x != IGNORE for x in lab) == 4  # one per word; sub-tokens and specials ignored


def test_round_trip_logits_to_words_to_character_spans(tok):
    task = TokenTask(bio_labels(["LOC", "PER"]))
    ex = _ex(
        ["bob", "smith", "went", "to", "paris", "."], ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]
    )
    enc = task.encode([ex], tok, 64)
    # logits that put the gold tag on every first sub-token and nonsense elsewhere
    c = len(task.labels)
    logits = np.full((1, len(enc.input_ids[0]), c), 0.0, dtype=np.float32)
    logits[0, :, task.label2id["B-LOC"]] = 5.0  # non-first positions: must be ignored
    for w, p in enumerate(enc.first[0]):
        logits[0, p] = 0.0
        logits[0, p, task.label2id[ex.tags[w]]] = 9.0
    (words,) = task.row_outputs(logits, enc, [0])
    assert words.shape == (6, c)
    assert task.decode_tags(words)[0] == ex.tags
    ents = task.entities(ex.text, ex.offsets, words)
    assert [(e["type"], e["text"], e["start"], e["end"]) for e in ents] == [
        ("PER", "bob smith", 0, 9),
        ("LOC", "paris", 18, 23),
    ]
    assert all(ex.text[e["start"] : e["end"]] == e["text"] and 0 < e["score"] <= 1 for e in ents)


def test_truncated_words_are_counted_and_predicted_o(tok):
    task = TokenTask(bio_labels(["X"]))
    ex = _ex(["a"] * 20, ["B-X"] + ["O"] * 19)
    enc = task.encode([ex, _ex(["b"], ["O"])], tok, 8)
    assert enc.truncated == 1 and enc.stats["words_cut"] == 20 - 6
    assert enc.first[0][6:] == [-1] * 14
    logits = np.zeros((1, 8, 3), dtype=np.float32)
    logits[0, :, 1] = 3.0  # the model says B-X everywhere it looks
    words = task.row_outputs(logits, enc, [0])[0]
    assert task.decode_tags(words)[0][6:] == ["O"] * 14


def test_loss_ignores_minus_100():
    task = TokenTask(bio_labels(["X"]))
    logits = torch.randn(2, 4, 3)
    labels = torch.tensor([[IGNORE, 1, IGNORE, 0], [IGNORE, 2, IGNORE, IGNORE]])
    keep = labels != IGNORE
    expected = torch.nn.functional.cross_entropy(logits[keep], labels[keep])
    assert torch.allclose(task.loss(logits, labels), expected)
    assert task.loss(logits, torch.full((2, 4), IGNORE)).item() == 0.0


def test_constrained_decoding_never_opens_with_i():
    labels = bio_labels(["X"])  # O, B-X, I-X
    logp = np.log(np.array([[0.3, 0.2, 0.5], [0.1, 0.1, 0.8], [0.9, 0.05, 0.05]]))
    assert constrained_decode(logp, labels) == [1, 2, 0]  # argmax would be I-X I-X O


def test_entity_metrics_by_hand():
    gold = [
        ["B-PER", "I-PER", "O", "B-LOC"],
        ["B-ORG", "O", "B-PER"],
    ]
    pred = [
        ["B-PER", "I-PER", "O", "B-ORG"],  # PER right; LOC typed as ORG: 1 FP + 1 FN
        ["B-ORG", "O", "O"],  # ORG right; PER missed
    ]
    m = entity_metrics(gold, pred)
    # 4 gold entities, 3 predicted, 2 right
    assert m["gold_entities"] == 4 and m["pred_entities"] == 3
    assert m["micro_precision"] == pytest.approx(2 / 3)
    assert m["micro_recall"] == pytest.approx(2 / 4)
    assert m["micro_f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    # per type: PER P 1/1 R 1/2; LOC P 0 R 0; ORG P 1/2 R 1/1
    assert m["per_type"]["PER"] == {
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(2 / 3),
        "support": 2,
    }
    assert m["per_type"]["LOC"]["f1"] == 0.0
    assert m["per_type"]["ORG"]["f1"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0 + 2 / 3) / 3)
    assert m["token_accuracy"] == pytest.approx(5 / 7)
    # strict: a span one word short is wrong, however many tokens match
    short = entity_metrics([["B-PER", "I-PER"]], [["B-PER", "O"]])
    assert short["micro_f1"] == 0.0 and short["token_accuracy"] == 0.5


def test_bootstrap_interval_brackets_the_point():
    gold = [["B-X", "O"], ["O", "B-X"], ["B-X", "I-X"], ["O", "O"]] * 10
    pred = [["B-X", "O"], ["O", "O"], ["B-X", "I-X"], ["B-X", "O"]] * 10
    f1 = entity_metrics(gold, pred)["micro_f1"]
    lo, hi = bootstrap_f1(gold, pred)["micro_f1"]
    assert lo < f1 < hi


def test_word_memory_baseline():
    words = [["paris", "is", "nice"], ["new", "york"]]
    tags = [["B-LOC", "O", "O"], ["B-LOC", "I-LOC"]]
    assert word_memory_baseline(words, tags, [["Paris", "new", "york", "rome"]]) == [
        ["B-LOC", "I-LOC", "I-LOC", "O"]
    ]
