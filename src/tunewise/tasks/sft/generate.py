"""Greedy generation in batches: what the evaluation's before/after answers and test
generation metrics use (``Generator`` answers one prompt at a time, with sampling)."""

from __future__ import annotations

import torch


def generate_batch(
    model,
    tokenizer,
    prompts: list[list[int]],
    max_new_tokens: int,
    stop_ids: list[int],
    pad_id: int,
) -> list[dict]:
    """Greedy answers to several tokenized prompts at once (left-padded).

    Returns:
        One dict per prompt: ``text`` (decoded, special tokens dropped), ``stopped`` (ended by
        an end-of-turn/EOS token rather than the length limit), ``new_tokens``.
    """
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for r, p in enumerate(prompts):
        ids[r, width - len(p) :] = torch.tensor(p, dtype=torch.long)
        mask[r, width - len(p) :] = 1
    model.eval()
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids.to(model.device),
            attention_mask=mask.to(model.device),
            max_new_tokens=max_new_tokens,
            use_cache=True,  # training turns the KV cache off on the model; decoding needs it
            do_sample=False,
            eos_token_id=stop_ids,
            pad_token_id=pad_id,
        )
    results = []
    for row in out[:, width:].tolist():
        end = next((k for k, t in enumerate(row) if t in stop_ids), None)
        new = row if end is None else row[:end]
        results.append(
            {
                "text": tokenizer.decode(new, skip_special_tokens=True).strip(),
                "stopped": end is not None,
                "new_tokens": len(new) + (0 if end is None else 1),
            }
        )
    return results


def answers(model, tokenizer, examples, max_new_tokens: int, stop_ids, pad_id) -> list[dict]:
    """Greedy answers to the prompts of ``examples``, 8 at a time."""
    from tunewise.tasks.sft.chat_template import encode_prompt

    out = []
    for s in range(0, len(examples), 8):
        chunk = examples[s : s + 8]
        prompts = [encode_prompt(tokenizer, ex.prompt) for ex in chunk]
        out += generate_batch(model, tokenizer, prompts, max_new_tokens, stop_ids, pad_id)
    return out
