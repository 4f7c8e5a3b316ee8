"""Tag schemes (IO, BIO, IOB1, BIOES, BMES): detect, validate, convert to one internal scheme.

Internally every sequence is BIO (IOB2): an entity is ``B-X`` followed by ``I-X``s. Schemes differ
only in how they mark where an entity starts and ends:

- IO: only ``I-X``; adjacent entities of one type cannot be told apart.
- BIO (IOB2): every entity starts with ``B-X``.
- IOB1: an entity starts with ``I-X``; ``B-X`` only where it directly follows another ``X``.
- BIOES (also BILOU: ``L`` = ``E``, ``U`` = ``S``): ``B``egin, ``I``nside, ``E``nd, ``S``ingle.
- BMES: as BIOES with ``M``iddle for inside (Chinese corpora).

An invalid sequence (``I-PER`` after ``O`` in BIO, ``B-X`` never closed in BIOES ...) is
reported with its position, never silently repaired.
"""

from __future__ import annotations

from collections.abc import Sequence

SCHEMES = ("IO", "BIO", "IOB1", "BIOES", "BMES")
INTERNAL = "BIO"
_ALIASES = {"L": "E", "U": "S"}
_PREFIXES = {
    "IO": {"I"},
    "BIO": {"B", "I"},
    "IOB1": {"B", "I"},
    "BIOES": {"B", "I", "E", "S"},
    "BMES": {"B", "M", "E", "S"},
}

Span = tuple[str, int, int]
"""(type, first word, one past the last word)."""


def split_tag(tag: str) -> tuple[str, str | None]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` -> ``("O", None)``; ``"PER"`` -> ``("?", "PER")``."""
    if tag == "O":
        return "O", None
    for sep in ("-", "_"):
        if len(tag) > 2 and tag[1] == sep:
            p = tag[0].upper()
            return _ALIASES.get(p, p), tag[2:]
    return "?", tag


def detect_scheme(sequences: Sequence[Sequence[str]]) -> str:
    """The scheme a set of tag sequences is written in.

    M -> BMES; E or S -> BIOES; B only right after the same type (entities open with I) ->
    IOB1; other B -> BIO; no B at all -> IO. Unknown prefixes are left to :func:`validate`.
    """
    prefixes: set[str] = set()
    b_after_other = b_after_same = i_opens = False
    for seq in sequences:
        prev_p, prev_t = "O", None
        for tag in seq:
            p, t = split_tag(tag)
            prefixes.add(p)
            if p == "B":
                if prev_t == t and prev_p in ("B", "I"):
                    b_after_same = True
                else:
                    b_after_other = True
            elif p == "I" and (prev_p == "O" or prev_t != t):
                i_opens = True
            prev_p, prev_t = p, t
    if "M" in prefixes:
        return "BMES"
    if prefixes & {"E", "S"}:
        return "BIOES"
    if "B" not in prefixes:
        return "IO"
    if b_after_same and not b_after_other:
        return "IOB1"
    if i_opens and not b_after_other:
        return "IOB1"
    return "BIO"


def validate(seq: Sequence[str], scheme: str) -> list[tuple[int, str]]:
    """Problems of one sequence under ``scheme``: ``[(position, message)]`` (empty when valid)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}")
    allowed = _PREFIXES[scheme]
    inside = "M" if scheme == "BMES" else "I"
    closed = scheme in ("BIOES", "BMES")
    out: list[tuple[int, str]] = []
    prev_p, prev_t = "O", None
    for i, tag in enumerate(seq):
        p, t = split_tag(tag)
        cont = prev_p in ("B", inside) and prev_t == t  # this tag continues an open entity
        if p == "?":
            out.append((i, f"tag {tag!r} has no B-/I-/E-/S-/M- prefix and is not O"))
        elif p != "O" and p not in allowed:
            out.append((i, f"tag {tag!r}: prefix {p} is not part of {scheme}"))
        elif closed:
            if prev_p in ("B", inside) and not (cont and p in (inside, "E")):
                out.append(
                    (i - 1, f"entity {prev_t} opened before {tag!r} is not closed with E-{prev_t}")
                )
            if p in (inside, "E") and not cont:
                out.append((i, f"tag {tag!r} follows {seq[i - 1] if i else 'the start'}"))
        elif scheme == "BIO" and p == "I" and not (prev_p in ("B", "I") and prev_t == t):
            out.append(
                (
                    i,
                    f"tag {tag!r} follows {seq[i - 1] if i else 'the start'} (BIO needs B-{t} first)",
                )
            )
        elif scheme == "IOB1" and p == "B" and not (prev_p in ("B", "I") and prev_t == t):
            out.append(
                (
                    i,
                    f"tag {tag!r} follows {seq[i - 1] if i else 'the start'} (IOB1 uses B- only between two {t} entities)",
                )
            )
        prev_p, prev_t = p, t
    if closed and prev_p in ("B", inside):
        out.append((len(seq) - 1, f"entity {prev_t} is not closed with E-{prev_t} at the end"))
    return out


def to_spans(seq: Sequence[str], scheme: str) -> list[Span]:
    """Entity spans of a valid sequence; invalid parts are read the usual lenient way."""
    spans: list[Span] = []
    start, typ = None, None
    inside = "M" if scheme == "BMES" else "I"

    def close(end: int) -> None:
        nonlocal start, typ
        if start is not None:
            spans.append((typ, start, end))
        start, typ = None, None

    for i, tag in enumerate(seq):
        p, t = split_tag(tag)
        if p in ("O", "?"):
            close(i)
        elif p == "S":
            close(i)
            spans.append((t, i, i + 1))
        elif p == "B":
            close(i)
            start, typ = i, t
        elif p in (inside, "I", "E"):
            if start is None or typ != t:
                close(i)
                start, typ = i, t
            if p == "E":
                close(i + 1)
    close(len(seq))
    return spans


def from_spans(spans: Sequence[Span], n: int) -> list[str]:
    """BIO tags of ``n`` words with entities at ``spans``."""
    tags = ["O"] * n
    for t, s, e in spans:
        tags[s] = f"B-{t}"
        for k in range(s + 1, e):
            tags[k] = f"I-{t}"
    return tags


def convert(seq: Sequence[str], scheme: str) -> list[str]:
    """``seq`` from ``scheme`` to the internal BIO scheme."""
    return from_spans(to_spans(seq, scheme), len(seq))


def bio_labels(types: Sequence[str]) -> list[str]:
    """The BIO label set in id order: O, then B-X, I-X for each type (sorted)."""
    out = ["O"]
    for t in sorted(set(types)):
        out += [f"B-{t}", f"I-{t}"]
    return out
