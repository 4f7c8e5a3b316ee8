"""The classification task: encoding, collate (dynamic padding), loss, decoding."""

import numpy as np
import pytest
import torch

from tunewise.data import Example
from tunewise.tasks.classification import ClassificationTask


@pytest.fixture
def tok(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_encode_truncates_and_reports_share(tok):
    task = ClassificationTask(["neg", "pos"])
    exs = [Example("good " * 40, "pos"), Example("bad film", "neg")]
    enc = task.encode(exs, tok, max_length=16)
    assert enc.lengths[0] == 16 and enc.lengths[1] < 16
    assert enc.stats["truncated"] == 1 and enc.stats["truncated_share"] == 0.5
    assert enc.labels.tolist() == [1, 0]


def test_collate_pads_to_longest_in_batch_not_max_length(tok):
    task = ClassificationTask(["neg", "pos"])
    enc = task.encode([Example("good", "pos"), Example("bad film was dull", "neg")], tok, 128)
    b = task.collate(enc, [0, 1], pad_id=tok.pad_token_id)
    width = max(enc.lengths)
    assert b["input_ids"].shape == (2, width) < (2, 128)
    assert b["attention_mask"].sum(1).tolist() == enc.lengths
    assert (b["input_ids"][0, enc.lengths[0] :] == tok.pad_token_id).all()
    assert "token_type_ids" not in b  # single texts: the model's default segment ids


def test_pairs_get_segment_ids(tok):
    task = ClassificationTask(["neg", "pos"])
    enc = task.encode([Example("good", "pos", "bad film")], tok, 128)
    b = task.collate(enc, [0], pad_id=0)
    assert b["token_type_ids"][0].tolist().count(1) == len(tok("bad film")["input_ids"]) - 1


def test_loss_matches_torch_with_and_without_weights():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.3], [-1.0, 1.0]])
    y = torch.tensor([0, 1, 1])
    plain = ClassificationTask(["a", "b"])
    assert plain.loss(logits, y).item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits, y).item()
    )
    w = torch.tensor([1.0, 3.0])
    weighted = ClassificationTask(["a", "b"], class_weights=w)
    expect = torch.nn.functional.cross_entropy(logits, y, weight=w).item()
    assert weighted.loss(logits, y).item() == pytest.approx(expect)
    assert expect != pytest.approx(plain.loss(logits, y).item())


def test_multilabel_loss_and_decoding():
    task = ClassificationTask(["x", "y", "z"], multi_label=True)
    exs = [Example("t", ["x", "z"]), Example("u", ["y"])]
    y = task.encode_labels(exs)
    assert y.tolist() == [[1, 0, 1], [0, 1, 0]]
    logits = np.array([[3.0, -3.0, 0.1], [-3.0, 3.0, -0.1]], dtype=np.float32)
    assert task.predict(logits, 0.5).tolist() == [[1, 0, 1], [0, 1, 0]]
    assert task.predict(logits, 0.6).tolist() == [[1, 0, 0], [0, 1, 0]]
    bce = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(logits), torch.tensor(y)
    )
    assert task.loss(torch.tensor(logits), torch.tensor(y)).item() == pytest.approx(bce.item())
    assert task.tune_threshold(logits, y) <= 0.5
