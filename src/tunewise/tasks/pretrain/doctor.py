"""The pretraining task's doctor check: no text of the user's test sets in the pretraining text."""

from __future__ import annotations

from tunewise.doctor.registry import Context, Splits, check
from tunewise.doctor.text import first, present, show


@check("test_texts_in_text", "error")
def test_texts_in_text(splits: Splits, ctx: Context):
    """Pretraining documents that are (or hold) a text of the test sets named to keep out."""
    found = [d for n in present(splits) for d in splits[n] if getattr(d, "in_test", None)]
    if not found:
        return ctx.result(True, "no test text in the pretraining text", "", {"documents": 0})
    details = {
        "documents": len(found),
        "examples": [{"text": show(d), "where": d.where, "test": d.in_test} for d in first(found)],
    }
    return ctx.result(
        False,
        f"{len(found)} pretraining documents hold test texts",
        f"{len(found)} documents of the pretraining text are (or hold) texts of the test sets "
        f"named with --dedup-against (first: {found[0].where} = {found[0].in_test}); a model "
        "pretrained on them has read the test set. Drop them (the default, dedup on).",
        details,
    )
