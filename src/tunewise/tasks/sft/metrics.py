"""Generation quality on dev prompts: exact match, ROUGE-L, how often answers stop, and the
before/after samples written side by side into the run directory."""

from __future__ import annotations

import json
from pathlib import Path

from tunewise.rundir import atomic_write


def _norm(s: str) -> str:
    return " ".join(s.lower().split())


def generation_scores(answers: list[dict], references: list[str | None]) -> dict[str, list]:
    """Per-row scores (rows with a reference): exact match, ROUGE-L F1, stopped (ended with an
    end-of-turn/EOS token) and new tokens, for means and their intervals."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    out: dict[str, list] = {"exact_match": [], "rouge_l": [], "stopped": [], "new_tokens": []}
    for a, ref in zip(answers, references):
        if ref is None:
            continue
        out["exact_match"].append(float(_norm(a["text"]) == _norm(ref)))
        out["rouge_l"].append(scorer.score(ref, a["text"])["rougeL"].fmeasure)
        out["stopped"].append(float(a["stopped"]))
        out["new_tokens"].append(float(a["new_tokens"]))
    return out


def generation_metrics(answers: list[dict], references: list[str | None]) -> dict:
    """Exact match and ROUGE-L F1 against references (where they exist), share of answers
    that ended with an end-of-turn/EOS token, mean generated tokens."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    em, rl = [], []
    for a, ref in zip(answers, references):
        if ref is None:
            continue
        em.append(float(_norm(a["text"]) == _norm(ref)))
        rl.append(scorer.score(ref, a["text"])["rougeL"].fmeasure)
    n = len(answers)
    return {
        "n": n,
        "with_reference": len(em),
        "exact_match": sum(em) / len(em) if em else None,
        "rouge_l": sum(rl) / len(rl) if rl else None,
        "stopped_share": sum(a["stopped"] for a in answers) / n if n else None,
        "mean_new_tokens": sum(a["new_tokens"] for a in answers) / n if n else None,
    }


def write_samples(run_path: Path, examples, before: list[dict], after: list[dict]) -> None:
    """``samples.jsonl`` (one line per dev prompt) and ``samples.md`` (a side-by-side table)."""
    lines, md = (
        [],
        [
            "# Dev prompts before and after fine-tuning",
            "",
            "Greedy answers of the base model (before) and the fine-tuned model (after). "
            "`stop` = ended with an end-of-turn/EOS token; `length` = hit the token limit.",
            "",
            "| # | prompt | reference | before | after |",
            "|---|---|---|---|---|",
        ],
    )
    for i, (ex, b, a) in enumerate(zip(examples, before, after)):
        prompt = ex.prompt[-1]["content"] if ex.prompt else ""
        rec = {
            "row": i,
            "where": ex.where,
            "prompt": ex.prompt,
            "reference": ex.reference,
            "before": b["text"],
            "before_finish": "stop" if b["stopped"] else "length",
            "after": a["text"],
            "after_finish": "stop" if a["stopped"] else "length",
        }
        lines.append(json.dumps(rec, ensure_ascii=False))

        def cell(s: str | None, n: int = 300) -> str:
            s = (s or "").replace("|", "\\|").replace("\n", "<br>")
            return s if len(s) <= n else s[:n] + " …"

        md.append(
            f"| {i} | {cell(prompt)} | {cell(ex.reference)} | {cell(b['text'])} "
            f"({rec['before_finish']}) | {cell(a['text'])} ({rec['after_finish']}) |"
        )
    atomic_write(run_path / "samples.jsonl", "\n".join(lines) + ("\n" if lines else ""))
    atomic_write(run_path / "samples.md", "\n".join(md) + "\n")
