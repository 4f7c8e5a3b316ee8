"""Token-tagged data: CoNLL columns, one-character-per-line (Chinese BMES), JSONL spans.

Every reader returns :class:`TokenExample` lists with the tags as written in the file
(``raw_tags``); :mod:`tunewise.tasks.tokens.data` detects the scheme and converts them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from tunewise.data.readers import _decode
from tunewise.errors import UserError, where

TOKEN_FORMATS = ("auto", "conll", "chars", "jsonl")
JSONL_EXT = (".jsonl", ".json")
_CJK = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL")
_LEAD = "\"'([{«“‘"
_TRAIL = "\"'.,;:!?)]}»”’"


@dataclass
class TokenExample:
    """One sentence: words with tags, the text they come from and each word's offsets."""

    words: list[str]
    tags: list[str] | None
    """Tags in the internal BIO scheme (after conversion); None for unlabeled text."""
    where: str = ""
    """``file line N`` of the first word (or of the JSON record)."""
    text: str = ""
    """The sentence text; words joined by a space (characters of Chinese data by nothing)."""
    offsets: list[tuple[int, int]] = field(default_factory=list)
    """Character (start, end) of each word in ``text``."""
    raw_tags: list[str] | None = None
    """Tags as written in the file, before scheme conversion."""
    lines: list[int] | None = None
    """File line of each word (CoNLL-style files), for error messages."""
    scheme: str = ""
    """The tag scheme the file was read in (IO, BIO, IOB1, BIOES, BMES)."""
    issues: list[str] = field(default_factory=list)
    """Invalid tag sequences found under ``scheme``, each naming file and line."""
    text_pair = None  # the doctor's text checks read examples through this interface
    label = None

    def word_where(self, i: int) -> str:
        """Where word ``i`` is: ``file line N`` (the sentence's place for JSONL)."""
        if self.lines:
            return self.where.rsplit(" line ", 1)[0] + f" line {self.lines[i]}"
        return self.where


def join_words(words: list[str], joiner: str) -> tuple[str, list[tuple[int, int]]]:
    """The text of ``words`` joined by ``joiner``, and each word's character offsets."""
    offsets, pos = [], 0
    for w in words:
        offsets.append((pos, pos + len(w)))
        pos += len(w) + len(joiner)
    return joiner.join(words), offsets


def is_cjk(ch: str) -> bool:
    return ord(ch) > 0x2E7F and unicodedata.name(ch, "").startswith(_CJK)


def split_words(text: str) -> list[tuple[int, int]]:
    """Word offsets of plain text: whitespace-separated, CJK characters one word each, and
    leading/trailing punctuation split off (``Paris.`` -> ``Paris`` ``.``, but ``U.S.`` kept),
    as in CoNLL-style training data."""
    out: list[tuple[int, int]] = []
    for m in re.finditer(r"\S+", text):
        s, e = m.span()
        for a, b in _split_cjk(text, s, e):
            while a < b and text[a] in _LEAD and b - a > 1:
                out.append((a, a + 1))
                a += 1
            tail = []
            while b - a > 1 and text[b - 1] in _TRAIL:
                if text[b - 1] == "." and "." in text[a : b - 1]:
                    break  # an abbreviation such as U.S.
                tail.append((b - 1, b))
                b -= 1
            out.append((a, b))
            out.extend(reversed(tail))
    return out


def _split_cjk(text: str, s: int, e: int):
    run = s
    for i in range(s, e):
        if is_cjk(text[i]):
            if run < i:
                yield run, i
            yield i, i + 1
            run = i + 1
    if run < e:
        yield run, e


def _looks_like_chars(words: list[list[str]]) -> bool:
    flat = [w for ws in words[:200] for w in ws]
    if not flat:
        return False
    single = sum(len(w) == 1 for w in flat) / len(flat)
    cjk = sum(is_cjk(w[0]) for w in flat) / len(flat)
    return single >= 0.95 and cjk >= 0.3


def read_conll(
    path: str | Path, *, tag_column: int = -1, token_column: int = 0, chars: bool | None = None
) -> list[TokenExample]:
    """Read a CoNLL-style file: one token per line, columns split by tabs (or else by spaces),
    blank (or whitespace-only) lines between sentences, ``-DOCSTART-`` lines skipped.

    Args:
        tag_column: which column holds the tag (0-based; negative counts from the end).
        chars: tokens are characters joined without spaces (Chinese); None = detect.
    """
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{path}: file not found")
    text = _decode(p.read_bytes(), path)
    sentences: list[tuple[list[str], list[str], list[int]]] = []
    words: list[str] = []
    tags: list[str] = []
    lines: list[int] = []
    # newlines only (CRLF too): a token may hold U+2028, which str.splitlines would cut at
    for n, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        if not line.strip() or line.startswith("-DOCSTART-"):
            if words:
                sentences.append((words, tags, lines))
                words, tags, lines = [], [], []
            continue
        cols = line.rstrip("\r\n").split("\t") if "\t" in line else line.split()
        try:
            tok, tag = cols[token_column].strip(), cols[tag_column].strip()
        except IndexError:
            raise UserError(
                f"{where(path, n)}: {len(cols)} column(s), but the {_nth(token_column)} column "
                f"holds the token and the {_nth(tag_column)} the tag (data.tag_column, "
                "data.token_column); one token and its tag per line, a blank line between sentences"
            ) from None
        if (len(cols) < 2 and tag_column in (-1, 0)) or not tok or not tag:
            raise UserError(
                f"{where(path, n)}: expected a token and a tag, got {line.strip()!r}; "
                "one token and its tag per line, a blank line between sentences"
            )
        words.append(tok)
        tags.append(tag)
        lines.append(n)
    if words:
        sentences.append((words, tags, lines))
    if not sentences:
        raise UserError(f"{path}: no sentences (empty file)")
    if chars is None:
        chars = _looks_like_chars([s[0] for s in sentences])
    out = []
    for ws, ts, ls in sentences:
        sent, offsets = join_words(ws, "" if chars else " ")
        out.append(TokenExample(ws, None, where(path, ls[0]), sent, offsets, ts, ls))
    return out


def _nth(i: int) -> str:
    return "last" if i == -1 else f"{i + 1}." if i >= 0 else f"{-i}.-from-last"


def read_jsonl_spans(
    path: str | Path, *, text_field: str = "text", spans_field: str = "auto"
) -> list[TokenExample]:
    """Read JSON Lines of ``{"text": ..., "entities": [{"start", "end", "label"}, ...]}``.

    Words are :func:`split_words` of the text, also cut at every span boundary so spans
    need not fall on whitespace. Tags come out in BIO. ``spans_field`` auto accepts
    ``entities``, ``spans`` or ``labels``; a span may be ``[start, end, label]`` too.
    """
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{path}: file not found")
    text = _decode(p.read_bytes(), path)
    out = []
    # newlines only: a text may hold U+2028 raw, which str.splitlines would cut the row at
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{where(path, n)}: not valid JSON ({e.msg})") from None
        if not isinstance(rec, dict) or not isinstance(rec.get(text_field), str):
            raise UserError(f"{where(path, n)}: expected an object with a string {text_field!r}")
        sent = rec[text_field]
        key = spans_field
        if key == "auto":
            key = next((k for k in ("entities", "spans", "labels") if k in rec), "entities")
        spans = [_span(s, sent, path, n) for s in rec.get(key) or []]
        spans.sort(key=lambda s: (s[0], s[1]))
        for a, b in zip(spans, spans[1:]):
            if b[0] < a[1]:
                raise UserError(
                    f"{where(path, n)}: spans {a[:2]} and {b[:2]} overlap; nested entities are "
                    "not supported"
                )
        cuts = {c for s in spans for c in s[:2]}
        offsets = []
        for a, b in split_words(sent):
            inner = sorted(c for c in cuts if a < c < b)
            for x, y in zip([a, *inner], [*inner, b]):
                offsets.append((x, y))
        starts = {s: i for i, (s, _) in enumerate(offsets)}
        ends = {e: i + 1 for i, (_, e) in enumerate(offsets)}
        tags = ["O"] * len(offsets)
        for s, e, lab in spans:
            # a span edge on whitespace: move it onto the nearest word edge inside the span
            i = next((starts[c] for c in range(s, e) if c in starts), None)
            j = next((ends[c] for c in range(e, s, -1) if c in ends), None)
            if i is None or j is None or j <= i:
                raise UserError(f"{where(path, n)}: span {s}-{e} {lab!r} covers no word")
            tags[i] = f"B-{lab}"
            for k in range(i + 1, j):
                tags[k] = f"I-{lab}"
        words = [sent[a:b] for a, b in offsets]
        out.append(TokenExample(words, None, where(path, n), sent, offsets, tags, None))
    if not out:
        raise UserError(f"{path}: no records (empty file)")
    return out


def _span(s, sent: str, path, n: int) -> tuple[int, int, str]:
    if isinstance(s, dict):
        start, end = s.get("start"), s.get("end")
        lab = s.get("label", s.get("type"))
    elif isinstance(s, (list, tuple)) and len(s) == 3:
        start, end, lab = s
    else:
        start = end = lab = None
    if not (isinstance(start, int) and isinstance(end, int) and isinstance(lab, str) and lab):
        raise UserError(
            f"{where(path, n)}: span {s!r}: expected {{'start': int, 'end': int, 'label': str}}"
        )
    if not 0 <= start < end <= len(sent):
        raise UserError(
            f"{where(path, n)}: span {start}-{end} {lab!r} is outside the text "
            f"({len(sent)} characters)"
        )
    return start, end, lab


def read_token_file(
    path: str | Path,
    *,
    fmt: str = "auto",
    tag_column: int = -1,
    token_column: int = 0,
    text_field: str = "text",
) -> list[TokenExample]:
    """Read a token-tagged file; ``fmt`` auto picks JSONL by extension (.jsonl/.json), else a
    CoNLL-style column file, one-character-per-line when its tokens are CJK characters."""
    if fmt not in TOKEN_FORMATS:
        raise UserError(f"data.token_format: {fmt!r}; use one of {', '.join(TOKEN_FORMATS)}")
    if fmt == "jsonl" or (fmt == "auto" and Path(path).suffix.lower() in JSONL_EXT):
        return read_jsonl_spans(path, text_field=text_field)
    chars = {"chars": True, "conll": False}.get(fmt)
    return read_conll(path, tag_column=tag_column, token_column=token_column, chars=chars)
