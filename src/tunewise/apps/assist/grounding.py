"""How close a generated reply stays to the FAQ answer it was grounded on: ROUGE-L F1 (the
scorer the sft task's metrics use), so a reply that drifts from the answer is not sent."""

from __future__ import annotations


def overlap(reply: str, reference: str) -> float:
    """ROUGE-L F1 of ``reply`` against ``reference`` (0 when either is empty)."""
    if not reply.strip() or not reference.strip():
        return 0.0
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    return float(scorer.score(reference, reply)["rougeL"].fmeasure)
