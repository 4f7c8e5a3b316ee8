"""Packing: several examples in one row, with no attention and no loss across boundaries."""

import torch

from tunewise.tasks.sft.chat_template import end_of_turn
from tunewise.tasks.sft.data import ChatExample
from tunewise.tasks.sft.task import IGNORE, SFTTask


def _examples():
    rows = [
        ("What is two plus two?", "Four."),
        ("Name a colour.", "Blue, like the sea."),
        ("Say hi", "Hi!"),
    ]
    return [
        ChatExample(
            [{"role": "user", "content": q}, {"role": "assistant", "content": a}], None, "x"
        )
        for q, a in rows
    ]


def test_packed_rows_give_each_example_its_own_logits_and_loss(tiny_llama_dir, tiny_tokenizer):
    from transformers import AutoModelForCausalLM

    tok = tiny_tokenizer
    task = SFTTask(end_of_turn(tok))
    enc = task.encode(_examples(), tok, 512)
    packed = task.pack(enc, 512)
    assert len(packed) == 1 and packed.rows == [[0, 1, 2]]
    assert packed.lengths[0] == sum(enc.lengths)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir).eval()
    # a second, shorter packed row forces padding in the batch
    two = task.pack(task.encode(_examples()[:1], tok, 512), 512)
    both = type(packed)(
        packed.input_ids + two.input_ids,
        packed.labels + two.labels,
        packed.position_ids + two.position_ids,
    )
    batch = task.collate(both, [0, 1], tok.pad_token_id)
    assert "attention_mask" not in batch
    batch.pop("labels")
    batch.pop("logits_to_keep")  # full logits here, to compare every position
    with torch.no_grad():
        packed_logits = model(**batch, use_cache=False).logits
        start = 0
        for i, n in enumerate(enc.lengths):
            alone = model(input_ids=torch.tensor([enc.input_ids[i]])).logits[0]
            # identical to running the example alone: nothing attended across the boundary
            torch.testing.assert_close(
                packed_logits[0, start : start + n], alone, atol=1e-5, rtol=1e-4
            )
            assert packed.labels[0][start] == IGNORE  # an example's first token is no target
            start += n
        alone0 = model(input_ids=torch.tensor([enc.input_ids[0]])).logits[0]
        torch.testing.assert_close(packed_logits[1, : enc.lengths[0]], alone0, atol=1e-5, rtol=1e-4)
    # the packed loss (as the loop computes it) equals the loss of the examples run apart
    with torch.no_grad():
        sep = task.collate(enc, [0, 1, 2], tok.pad_token_id)
        sep_labels = sep.pop("labels")
        sep_loss = task.loss(model(**sep).logits, sep_labels)
        pk = task.collate(packed, [0], tok.pad_token_id)
        pk_labels = pk.pop("labels")
        packed_loss = task.loss(model(**pk, use_cache=False).logits, pk_labels)
    assert pk_labels.tolist() == sep_labels.tolist()
    torch.testing.assert_close(packed_loss, sep_loss, atol=1e-5, rtol=1e-4)


def test_packing_respects_max_length(tiny_tokenizer):
    tok = tiny_tokenizer
    task = SFTTask(end_of_turn(tok))
    enc = task.encode(_examples() * 4, tok, 512)
    limit = max(enc.lengths) * 2
    packed = task.pack(enc, limit)
    assert all(n <= limit for n in packed.lengths)
    assert sorted(i for r in packed.rows for i in r) == list(range(len(enc)))
    assert sum(packed.lengths) == sum(enc.lengths)
