"""Dynamic masking: whole words for English, single characters for Chinese, 80/10/10, new
masks at every visit of a train row and the same masks for held-out rows."""

from __future__ import annotations

import numpy as np
from transformers import BertTokenizerFast

from tunewise.tasks.pretrain.encode import collate_mlm, encode_mlm
from tunewise.tasks.pretrain.masking import choose_masks, corrupt
from tunewise.tasks.pretrain.task import PretrainOptions, PretrainTask


def test_whole_word_masks_every_piece_of_a_word_together():
    words = [-1, 0, 0, 0, 1, 2, 2, -1]  # a 3-piece word, a 1-piece word, a 2-piece word
    for seed in range(50):
        m = choose_masks(words, 0.3, np.random.default_rng(seed))
        assert not m[0] and not m[-1]  # specials never
        for w in (0, 1, 2):
            pieces = m[[i for i, x in enumerate(words) if x == w]]
            assert pieces.all() or not pieces.any()  # all pieces of a word or none
        assert m.any()


def test_token_masking_can_split_a_word():
    words = [-1, 0, 0, 0, 0, 0, 0, -1]
    split = any(
        0 < choose_masks(words, 0.3, np.random.default_rng(s), whole_word=False)[1:7].sum() < 6
        for s in range(20)
    )
    assert split


def test_corrupt_80_10_10_and_labels():
    rng = np.random.default_rng(0)
    ids = list(range(10, 10010))
    masked = np.ones(len(ids), dtype=bool)
    x, y = corrupt(ids, masked, rng, mask_id=4, vocab_size=20000, special_ids=np.arange(5))
    assert (y == np.array(ids)).all()
    share_mask = (x == 4).mean()
    share_same = (x == np.array(ids)).mean()
    assert 0.77 < share_mask < 0.83 and 0.07 < share_same < 0.13
    assert not np.isin(x[x != 4], np.arange(5)).any()  # random tokens are never specials


def _task(tok) -> PretrainTask:
    return PretrainTask(PretrainOptions(), seed=1).bind(tok)


def test_chinese_is_masked_by_character(tiny_bert):
    tok = BertTokenizerFast.from_pretrained(tiny_bert)
    tok.add_tokens(list("质量不错价格便宜"))
    enc = encode_mlm(["质量不错价格便宜"], tok, 32)
    # BERT's pre-tokenizer makes each CJK character a word of its own
    assert enc.word_ids[0] == [-1, 0, 1, 2, 3, 4, 5, 6, 7, -1]


def test_train_rows_get_new_masks_each_visit_held_out_rows_keep_theirs(tiny_bert):
    tok = BertTokenizerFast.from_pretrained(tiny_bert)
    task = _task(tok)
    text = " ".join(["good bad fine great awful"] * 4)
    dev = encode_mlm([text], tok, 64)
    a = collate_mlm(task, dev, [0], 0)["masked"]
    b = collate_mlm(task, dev, [0], 0)["masked"]
    assert (a == b).all()
    train = encode_mlm([text], tok, 64)
    train.dynamic = True
    seen = {tuple(collate_mlm(task, train, [0], 0)["masked"][0].tolist()) for _ in range(6)}
    assert len(seen) > 1


def test_long_documents_are_cut_into_rows_not_truncated(tiny_bert):
    tok = BertTokenizerFast.from_pretrained(tiny_bert)
    enc = encode_mlm([" ".join(["good"] * 70)], tok, 32)
    assert [len(r) for r in enc.input_ids] == [32, 32, 12]
    assert sum(len(r) - 2 for r in enc.input_ids) == 70
    assert all(r[0] == tok.cls_token_id and r[-1] == tok.sep_token_id for r in enc.input_ids)
