"""The doctor's checks of (question, passage) pairs (named in ``RetrievalTask.doctor_checks``)."""

from __future__ import annotations

from collections import defaultdict

from tunewise.data.examples import normalize_text
from tunewise.doctor.registry import Context, Splits, check
from tunewise.doctor.text import first


@check("retrieval_pairs", "warning")
def retrieval_pairs(splits: Splits, ctx: Context):
    """The same question with several different passages: the in-batch loss pushes one of
    its own answers away as a negative unless they are told apart (they are masked in a batch,
    but only one counts as right at evaluation)."""
    details: dict = {}
    total = 0
    for name in ("train", "dev", "test"):
        seen: dict = defaultdict(set)
        for ex in splits.get(name) or []:
            if ex.text_pair is not None:
                seen[normalize_text(ex.text)].add(normalize_text(ex.text_pair))
        many = [q for q, ps in seen.items() if len(ps) > 1]
        total += len(many)
        details[name] = {
            "questions": len(seen),
            "with_several_passages": len(many),
            "examples": [{"text": q[:200], "passages": len(seen[q])} for q in first(many)],
        }
    if not total:
        return ctx.result(True, "every question has one passage", "", details)
    return ctx.result(
        False,
        f"{total} question(s) have several different passages",
        "merge the answers or keep one per question; at evaluation only the row's own "
        "passage counts as relevant.",
        details,
    )


@check("retrieval_test_in_train", "warning")
def retrieval_test_in_train(splits: Splits, ctx: Context):
    """Test (and dev) questions also in train: their scores measure memory, not retrieval."""
    train = {normalize_text(ex.text) for ex in splits.get("train") or []}
    details: dict = {}
    leaked = 0
    for name in ("dev", "test"):
        rows = [ex for ex in splits.get(name) or [] if normalize_text(ex.text) in train]
        leaked += len(rows)
        details[name] = {
            "rows": len(splits.get(name) or []),
            "in_train": len(rows),
            "examples": [{"text": ex.text[:200], "where": ex.where} for ex in first(rows)],
        }
    if not leaked:
        return ctx.result(True, "no dev/test question is in train", "", details)
    return ctx.result(
        False,
        f"{leaked} dev/test question(s) are also train questions",
        "drop them from dev/test (or from train); a question seen with its answer in training "
        "is recalled, not retrieved.",
        details,
    )
