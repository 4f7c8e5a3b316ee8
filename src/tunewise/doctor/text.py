"""How the doctor compares texts: normalized keys, groups of equal texts, examples."""

from __future__ import annotations

import unicodedata

from tunewise.data.examples import Example
from tunewise.doctor.registry import MAX_EXAMPLES, Context, Splits

Key = tuple[str, str | None]


def normalize(text: str) -> str:
    """NFKC, casefold, punctuation removed, whitespace collapsed to one space.

    Two texts equal after this are duplicates ("Hello, world!" and "hello world").
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(c).startswith("P") else c for c in text)
    return " ".join(text.split())


def key_of(ex: Example, normalized: bool = True) -> Key:
    """Both texts of a pair must match for two examples to be the same."""
    f = normalize if normalized else (lambda t: t)
    return f(ex.text), None if ex.text_pair is None else f(ex.text_pair)


def show(ex: Example) -> str:
    """An example's text for a person (the pair after `` [SEP] ``), cut to 200 characters."""
    text = ex.text if ex.text_pair is None else f"{ex.text} [SEP] {ex.text_pair}"
    return text if len(text) <= 200 else text[:197] + "..."


def groups(splits: Splits, name: str, ctx: Context, normalized: bool = True) -> dict:
    """{key: [examples]} of one split, in first-occurrence order (cached per split)."""

    def build() -> dict:
        out: dict[Key, list[Example]] = {}
        for ex in splits.get(name) or []:
            out.setdefault(key_of(ex, normalized), []).append(ex)
        return out

    return ctx.cached(f"groups:{name}:{normalized}", build)


def label_key(label) -> str | None:
    """A label as one comparable string (multi-label lists sorted and joined by ``|``)."""
    if isinstance(label, list):
        return "|".join(sorted(set(label)))
    return label


def flat_labels(examples: list[Example]) -> list[str]:
    """Every label of every example (multi-label lists flattened; missing labels skipped)."""
    out: list[str] = []
    for ex in examples:
        if isinstance(ex.label, list):
            out.extend(ex.label)
        elif ex.label is not None:
            out.append(ex.label)
    return out


def present(splits: Splits) -> list[str]:
    """Names of the non-empty splits, train first."""
    order = ["train", "dev", "test"]
    names = sorted(splits, key=lambda n: (order.index(n) if n in order else 3, n))
    return [n for n in names if splits[n]]


def pairs(splits: Splits) -> list[tuple[str, str]]:
    """(a, b) split pairs to compare: train-dev, train-test, dev-test (when present)."""
    names = present(splits)
    return [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]


def first(items, n: int = MAX_EXAMPLES) -> list:
    return list(items)[:n]
