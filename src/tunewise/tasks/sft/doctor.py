"""The doctor's checks of sft data (named in ``SFTTask.doctor_checks``).

The text checks every task shares (duplicates, train/test overlap, conflicts, near-duplicates)
see an sft example as its prompt (the text) and its reference answer (the label): the same
prompt twice is a duplicate, in train and test a leak, with two different answers a conflict.
The checks here read the conversations themselves, through the run's chat template.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tunewise.data.examples import Example
from tunewise.doctor.registry import Context, Splits, check
from tunewise.doctor.text import first, present

MAX_CUT_SHARE = 0.01
"""Above this share of rows whose last answer is cut by max_length, the length check warns."""


@dataclass
class SFTDoctorExample(Example):
    """An sft example as the text checks see it, with the conversation kept for the sft checks."""

    chat: object = field(default=None, repr=False)


def doctor_view(examples: list) -> list[SFTDoctorExample]:
    out = []
    for ex in examples:
        if ex.messages is None:
            text, answer = ex.text or "", None
        else:
            text = "\n".join(m["content"] for m in ex.prompt or [])
            answer = ex.reference
        out.append(SFTDoctorExample(text, answer, None, ex.where, ex))
    return out


def _chats(splits: Splits, name: str) -> list:
    return [ex.chat for ex in splits.get(name) or [] if getattr(ex, "chat", None) is not None]


@check("empty_answers", "error")
def empty_answers(splits: Splits, ctx: Context):
    """Assistant turns with no text: the model would learn to answer with nothing."""
    details: dict = {}
    total = 0
    for name in present(splits):
        bad = [
            ex
            for ex in _chats(splits, name)
            if ex.messages
            and any(m["role"] == "assistant" and not m["content"].strip() for m in ex.messages)
        ]
        total += len(bad)
        details[name] = {"rows": len(bad), "examples": [{"text": ex.where} for ex in first(bad)]}
    if not total:
        return ctx.result(True, "every assistant turn has text", "", details)
    return ctx.result(
        False,
        f"{total} row(s) with an empty assistant answer",
        "an empty answer teaches the model to stop at once; fill in or drop these rows.",
        details,
    )


def _encoded(splits: Splits, name: str, ctx: Context) -> list[tuple[list[int], list[int]]]:
    """(ids, labels) of every conversation of a split through the chat template, cached."""

    def build():
        from tunewise.models.loading import quiet_transformers
        from tunewise.tasks.sft.chat_template import encode_conversation, end_of_turn

        eot = end_of_turn(ctx.tokenizer)
        out = []
        with quiet_transformers():
            for ex in _chats(splits, name):
                if ex.messages is None:
                    ids = ctx.tokenizer(ex.text, add_special_tokens=False)["input_ids"]
                    out.append((ids, ids))
                else:
                    out.append(encode_conversation(ctx.tokenizer, ex.messages, eot))
        return out

    return ctx.cached(f"sft:{name}", build)


def _has_template(ctx: Context) -> bool:
    return bool(getattr(ctx.tokenizer, "chat_template", None))


@check("sft_length", "warning", needs_tokenizer=True)
def sft_length(splits: Splits, ctx: Context):
    """Conversation lengths in tokens, and answers whose end is cut off by max_length."""
    if not _has_template(ctx):
        return ctx.result(True, "skipped: no chat template", "", {"skipped": "no chat template"})
    details: dict = {"max_length": ctx.max_length}
    cut_total = rows_total = 0
    for name in present(splits):
        enc = _encoded(splits, name, ctx)
        lens = np.array([len(ids) for ids, _ in enc] or [0])
        truncated = int((lens > ctx.max_length).sum())
        # an answer is cut when trained tokens lie past max_length: the model never sees its
        # end-of-turn token for that row and learns to run on
        cut = [
            i
            for i, (ids, labels) in enumerate(enc)
            if any(lab != -100 for lab in labels[ctx.max_length :])
        ]
        cut_total += len(cut)
        rows_total += len(enc)
        details[name] = {
            "rows": len(enc),
            "mean": round(float(lens.mean()), 1),
            "p95": float(np.percentile(lens, 95)),
            "max": int(lens.max()),
            "truncated": truncated,
            "answers_cut": len(cut),
            "examples": [{"text": _chats(splits, name)[i].where} for i in first(cut)],
        }
    share = cut_total / max(rows_total, 1)
    if share <= MAX_CUT_SHARE:
        return ctx.result(
            True,
            f"{cut_total} of {rows_total} answers cut by max_length {ctx.max_length}",
            "",
            details,
        )
    return ctx.result(
        False,
        f"{cut_total} of {rows_total} rows ({share:.1%}) have their answer cut by max_length "
        f"{ctx.max_length}",
        "their end-of-turn token is lost, so the model learns not to stop; raise "
        "model.max_length or shorten these rows.",
        details,
    )


@check("end_of_turn", "error", needs_tokenizer=True)
def end_of_turn_check(splits: Splits, ctx: Context):
    """Every trained answer ends with the end-of-turn token (what makes generation stop)."""
    if not _has_template(ctx):
        return ctx.result(True, "skipped: no chat template", "", {"skipped": "no chat template"})
    from tunewise.tasks.sft.chat_template import end_of_turn

    eot = end_of_turn(ctx.tokenizer)
    eot_id = ctx.tokenizer.convert_tokens_to_ids(eot)
    details: dict = {"end_of_turn": eot, "end_of_turn_id": eot_id}
    missing_total = 0
    for name in present(splits):
        enc = _encoded(splits, name, ctx)
        chats = _chats(splits, name)
        missing = [
            i
            for i, (ids, labels) in enumerate(enc)
            if chats[i].messages is not None and eot_id not in [x for x in labels if x != -100]
        ]
        missing_total += len(missing)
        details[name] = {
            "rows_without_end_of_turn": len(missing),
            "examples": [{"text": chats[i].where} for i in first(missing)],
        }
    if not missing_total:
        return ctx.result(True, f"every answer ends with {eot}", "", details)
    return ctx.result(
        False,
        f"{missing_total} answer(s) are trained without the end-of-turn token {eot}",
        "a model trained on them never learns to stop; use a chat template whose assistant "
        "turns end in an end-of-turn token.",
        details,
    )
