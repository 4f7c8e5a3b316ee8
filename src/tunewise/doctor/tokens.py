"""Checks under the chosen tokenizer: lengths in tokens, and the unknown-token rate."""

from __future__ import annotations

from tunewise.doctor.registry import Context, Splits, check
from tunewise.doctor.text import first, present, show

MAX_TRUNCATED = 0.01
UNK_WARN = 0.01
UNK_ERROR = 0.30
BATCH = 1024
HIST_BINS = 12


def token_ids(splits: Splits, name: str, ctx: Context, special: bool) -> list[list[int]]:
    """Token ids of every example of a split (pairs encoded together), cached."""

    def build() -> list[list[int]]:
        from tunewise.models.loading import quiet_transformers

        exs = splits[name]
        out: list[list[int]] = []
        with quiet_transformers():  # no "longer than the maximum" warnings: we count them
            for i in range(0, len(exs), BATCH):
                chunk = exs[i : i + BATCH]
                texts = [ex.text for ex in chunk]
                if hasattr(chunk[0], "words"):  # token data: tokenized word by word, as trained
                    words = [list(ex.words) for ex in chunk]
                    enc = ctx.tokenizer(
                        words,
                        is_split_into_words=True,
                        add_special_tokens=special,
                        truncation=False,
                    )
                elif any(ex.text_pair is not None for ex in chunk):
                    pair = [ex.text_pair or "" for ex in chunk]
                    enc = ctx.tokenizer(texts, pair, add_special_tokens=special, truncation=False)
                else:
                    enc = ctx.tokenizer(texts, add_special_tokens=special, truncation=False)
                out.extend(enc["input_ids"])
        return out

    return ctx.cached(f"ids:{name}:{special}", build)


def _percentile(sorted_values: list[int], q: float) -> int:
    return sorted_values[min(len(sorted_values) - 1, int(q * (len(sorted_values) - 1) + 0.5))]


def histogram(lengths: list[int], bins: int = HIST_BINS) -> dict:
    """Counts of lengths in ``bins`` equal integer-width bins from 0 to the longest."""
    width = max(1, -(-(max(lengths) + 1) // bins))
    edges = list(range(0, width * bins + 1, width))
    counts = [0] * bins
    for n in lengths:
        counts[min(n // width, bins - 1)] += 1
    return {"edges": edges, "counts": counts}


@check("length", "warning", needs_tokenizer=True)
def length(splits: Splits, ctx: Context):
    """Lengths in tokens (min/median/p95/max) and the share max_length would truncate."""
    details: dict = {"max_length": ctx.max_length}
    parts = []
    for name in present(splits):
        lengths = sorted(len(ids) for ids in token_ids(splits, name, ctx, special=True))
        over = sum(n > ctx.max_length for n in lengths)
        share = over / len(lengths)
        details[name] = {
            "min": lengths[0],
            "median": _percentile(lengths, 0.5),
            "p95": _percentile(lengths, 0.95),
            "max": lengths[-1],
            "truncated": over,
            "truncated_share": round(share, 4),
            "histogram": histogram(lengths),
        }
        if share > MAX_TRUNCATED:
            parts.append(f"{name}: {share:.1%} truncated (p95 {details[name]['p95']} tokens)")
    train = details.get("train") or next((v for k, v in details.items() if k != "max_length"), {})
    summary = f"median {train.get('median')}, p95 {train.get('p95')}, max {train.get('max')} tokens"
    if not parts:
        return ctx.result(True, f"lengths fit max_length {ctx.max_length} ({summary})", "", details)
    return ctx.result(
        False,
        f"over max_length {ctx.max_length}: " + ", ".join(parts),
        "; ".join(parts) + "; the cut-off ends are never seen: raise model.max_length "
        "(costs compute) or shorten the texts.",
        details,
    )


@check("unknown_tokens", "error", needs_tokenizer=True)
def unknown_tokens(splits: Splits, ctx: Context):
    """Share of [UNK] tokens: a vocabulary that does not cover the language."""
    unk = getattr(ctx.tokenizer, "unk_token_id", None)
    if unk is None:
        return ctx.result(
            True,
            "the tokenizer has no unknown token (byte-level)",
            "",
            {"unk_token": None},
            severity="info",
        )
    details: dict = {"unk_token": ctx.tokenizer.unk_token}
    total = total_unk = 0
    worst = 0.0
    for name in present(splits):
        ids = token_ids(splits, name, ctx, special=False)
        n = sum(len(x) for x in ids)
        u = [sum(t == unk for t in x) for x in ids]
        rate = sum(u) / n if n else 0.0
        worst = max(worst, rate)
        total, total_unk = total + n, total_unk + sum(u)
        ranked = sorted(
            (i for i in range(len(ids)) if u[i]), key=lambda i: -u[i] / max(len(ids[i]), 1)
        )
        details[name] = {
            "tokens": n,
            "unknown_tokens": sum(u),
            "unknown_share": round(rate, 4),
            "rows_with_unknown": sum(1 for x in u if x),
            "examples": [
                {"text": show(splits[name][i]), "unknown": u[i], "tokens": len(ids[i])}
                for i in first(ranked, 3)
            ],
        }
    details["overall_unknown_share"] = round(total_unk / total, 4) if total else 0.0
    if worst <= UNK_WARN:
        return ctx.result(
            True, f"{details['overall_unknown_share']:.2%} unknown tokens", "", details
        )
    severity = "error" if worst > UNK_ERROR else "warning"
    return ctx.result(
        False,
        f"{worst:.1%} of tokens are {ctx.tokenizer.unk_token} in the worst split",
        f"the model's vocabulary does not cover this text ({worst:.1%} unknown tokens); "
        "use a model whose tokenizer covers the language (e.g. a multilingual or "
        "Chinese model for Chinese text).",
        details,
        severity=severity,
    )
