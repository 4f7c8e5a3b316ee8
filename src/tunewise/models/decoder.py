"""Decoders (GPT-style) used as classifiers: a pad token and last-token pooling that holds."""

from __future__ import annotations


def ensure_pad_token(tokenizer, model) -> None:
    """Give a decoder without a pad token one (its EOS), in the tokenizer and the model config.

    ...ForSequenceClassification on a decoder pools the last token that is not the pad id
    (whatever the padding side); without a pad id it refuses batches of more than one. Our
    batches are right-padded to their longest row, and the collate puts the pad id only in
    padding, so the pooled token is each row's real last token (tested).
    """
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            from tunewise.errors import UserError

            raise UserError("this tokenizer has neither a pad nor an EOS token to pad with")
        tokenizer.pad_token = tokenizer.eos_token
    config = getattr(model, "config", None)
    if config is not None and getattr(config, "pad_token_id", 0) is None:
        config.pad_token_id = tokenizer.pad_token_id
