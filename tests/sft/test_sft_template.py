"""The chat template: loss only on assistant tokens, end-of-turn kept, prompts identical to
training's, and templates that could never stop are refused."""

import pytest
import torch

from tunewise.errors import UserError
from tunewise.tasks.sft.chat_template import (
    encode_conversation,
    encode_prompt,
    end_of_turn,
    set_template,
    stop_token_ids,
)
from tunewise.tasks.sft.task import IGNORE, SFTTask

CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What's my balance?"},
    {"role": "assistant", "content": "In checking or savings?"},
    {"role": "user", "content": "Checking."},
    {"role": "assistant", "content": "$5,118.77."},
]


def test_labels_cover_exactly_the_assistant_turns_and_their_end_of_turn(tiny_tokenizer):
    tok = tiny_tokenizer
    eot = end_of_turn(tok)
    assert eot == "<|im_end|>" and stop_token_ids(tok, eot) == [tok.eos_token_id]
    ids, labels = encode_conversation(tok, CHAT, eot)
    assert len(ids) == len(labels)
    trained = [t for t, l in zip(ids, labels) if l != IGNORE]
    assert tok.decode(trained) == "In checking or savings?<|im_end|>$5,118.77.<|im_end|>"
    # the end-of-turn token, which is also the pad token here, is a target
    assert tok.pad_token_id == tok.eos_token_id
    assert sum(1 for l in labels if l == tok.eos_token_id) == 2
    # every user/system token is masked
    masked = tok.decode([t for t, l in zip(ids, labels) if l == IGNORE])
    assert "What's my balance?" in masked and "Be brief." in masked
    assert "savings" not in masked


def test_generation_prompt_is_the_training_prefix(tiny_tokenizer):
    tok = tiny_tokenizer
    ids, labels = encode_conversation(tok, CHAT, end_of_turn(tok))
    for k in (2, 4):  # before each assistant turn
        prompt = encode_prompt(tok, CHAT[:k])
        assert ids[: len(prompt)] == prompt
        assert labels[len(prompt) - 1] == IGNORE and labels[len(prompt)] != IGNORE


def test_collate_never_masks_eos_by_pad_id(tiny_tokenizer):
    tok = tiny_tokenizer
    task = SFTTask(end_of_turn(tok))
    from tunewise.tasks.sft.data import ChatExample

    exs = [ChatExample(CHAT, None, "a"), ChatExample(CHAT[1:3], None, "b")]
    enc = task.encode(exs, tok, 512)
    batch = task.collate(enc, [0, 1], tok.pad_token_id)
    short = len(enc.input_ids[1])
    keep = batch["logits_to_keep"]
    # the short row is padded with the pad id (== EOS), but no padding position is kept ...
    assert (batch["input_ids"][1, short:] == tok.pad_token_id).all()
    assert not keep[1, short - 1 :].any() and batch["attention_mask"][1, short:].sum() == 0
    # ... while its real end-of-turn is a target: the position before it is kept
    assert batch["input_ids"][1, short - 2] == tok.eos_token_id and keep[1, short - 3]
    # targets are exactly the trained tokens, row by row, in order
    expected = [t for lab in enc.labels for t in lab[1:] if t != IGNORE]
    assert batch["labels"].tolist() == expected
    assert len(expected) == enc.stats["trained_tokens"] == int(keep.sum())
    assert expected.count(tok.eos_token_id) == 3  # two turns in row 0, one in row 1
    # the loss is a mean over those targets only
    logits = torch.zeros(int(keep.sum()), len(tok))
    assert torch.isclose(
        task.loss(logits, batch["labels"]), torch.log(torch.tensor(len(tok) * 1.0))
    )


def test_truncation_is_counted_and_empty_rows_dropped(tiny_tokenizer):
    from tunewise.tasks.sft.data import ChatExample

    tok = tiny_tokenizer
    task = SFTTask(end_of_turn(tok))
    long = [{"role": "user", "content": "x" * 80}, {"role": "assistant", "content": "y" * 10}]
    enc = task.encode([ChatExample(long, None, "a"), ChatExample(CHAT, None, "b")], tok, 60)
    assert enc.stats["truncated"] == 2 and enc.stats["dropped_after_truncation"] == 1
    assert len(enc) == 1


def test_templates_that_cannot_stop_are_refused():
    from tests.sft.conftest import build_tiny_tokenizer

    tok = build_tiny_tokenizer()
    tok.chat_template = (
        "{% for m in messages %}{{ m['role'] + ': ' + m['content'] + '\n' }}{% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    with pytest.raises(UserError, match="could not stop"):
        end_of_turn(tok)
    tok.chat_template = None
    with pytest.raises(UserError, match="no chat template"):
        set_template(tok, None)
    set_template(tok, "chatml")
    assert end_of_turn(tok) == "<|im_end|>"
    with pytest.raises(UserError, match="neither a named template"):
        set_template(tok, "vicuna")


def test_plain_text_is_cut_into_blocks_with_every_token_trained(tiny_tokenizer):
    from tunewise.tasks.sft.data import ChatExample

    tok = tiny_tokenizer
    task = SFTTask(tok.eos_token)
    doc = "Overdraft fees apply when the balance falls below zero. " * 3
    enc = task.encode([ChatExample(None, doc, "corpus.txt line 1")], tok, 64)
    n = len(doc.encode()) + 1  # byte tokens + EOS closing the document
    assert enc.lengths == [64, 64, n - 128] and enc.stats["truncated"] == 0
    assert enc.labels == enc.input_ids  # continued pretraining: every token is a target
    assert enc.input_ids[-1][-1] == tok.eos_token_id
