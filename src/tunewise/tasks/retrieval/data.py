"""Reading a retrieval run's files: (question, passage) pairs and the corpus of passages.

Pairs come from the run's text column (the question) and text-pair column (its passage, e.g.
the FAQ answer). The corpus (``--corpus FILE``) holds every passage that can be retrieved: its
text is the pair column when the corpus has it (else ``passage``, ``text`` or its only column),
its id ``id``/``passage_id``/``answer_id``/``doc_id`` when present, else ``p<row>``. Passages
of the pairs missing from the corpus are added to it (and counted); without a corpus file the
corpus is every distinct passage of the pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tunewise.data.examples import Example, normalize_text
from tunewise.data.readers import read_examples, read_table
from tunewise.errors import UserError
from tunewise.tasks.base import TaskData
from tunewise.tasks.text import columns

DEFAULT_PASSAGE_COLUMN = "passage"
ID_COLUMNS = ("id", "passage_id", "answer_id", "doc_id")


@dataclass
class Corpus:
    """The passages a query is answered from, in index order."""

    ids: list[str]
    texts: list[str]
    added: int = 0
    """Passages of the pairs that were not in the corpus file (appended)."""
    _by_key: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if not self._by_key:
            self._by_key = {}
            for i, t in enumerate(self.texts):
                self._by_key.setdefault(normalize_text(t), i)

    def index_of(self, text: str) -> int | None:
        return self._by_key.get(normalize_text(text))

    def add(self, text: str) -> int:
        i = self.index_of(text)
        if i is None:
            i = len(self.texts)
            self.texts.append(text)
            self.ids.append(f"p{i}")
            self._by_key[normalize_text(text)] = i
            self.added += 1
        return i

    def to_dict(self) -> dict:
        return {"ids": self.ids, "texts": self.texts}

    @classmethod
    def from_dict(cls, d: dict) -> Corpus:
        return cls(list(d["ids"]), list(d["texts"]))


def pair_columns(data) -> dict:
    cols = columns(data)
    cols["text_pair_column"] = cols["text_pair_column"] or DEFAULT_PASSAGE_COLUMN
    return cols


def read_pairs(path: Path, data, *, require_passage: bool = True) -> list[Example]:
    """(question, passage) rows of ``path``: ``Example.text`` the question, ``text_pair``
    its passage (None when ``require_passage`` is off and the row has none)."""
    cols = pair_columns(data)
    exs = read_examples(
        path,
        text_column=cols["text_column"],
        text_pair_column=cols["text_pair_column"] if require_passage else None,
        label_column=cols["text_pair_column"],
        require_label=False,
        quoting=cols["quoting"],
    )
    if require_passage:
        for ex in exs:
            if not (ex.text_pair or "").strip():
                raise UserError(
                    f"{ex.where}: no passage in column {cols['text_pair_column']!r}; retrieval "
                    "needs a (question, passage) pair on every row"
                )
            ex.label = None
    return exs


def read_corpus(path: Path, data) -> Corpus:
    """The corpus file's passages and ids (one UserError naming the file on a bad file)."""
    table = read_table(path, columns(data)["quoting"])
    names = list(table.columns)
    if not table.rows:
        raise UserError(f"{path}: empty corpus file (no rows)")
    want = pair_columns(data)["text_pair_column"]
    col = next((c for c in (want, DEFAULT_PASSAGE_COLUMN, "text") if c in names), None)
    if col is None and len(names) == 1:
        col = names[0]
    if col is None:
        raise UserError(
            f"{path}: no passage column; expected {want!r} (the --text-pair-column), "
            f"'passage' or 'text'; the columns are: {', '.join(map(str, names))}"
        )
    id_col = next((c for c in ID_COLUMNS if c in names), None)
    ids, texts, seen = [], [], set()
    for i, (line, row) in enumerate(table.rows):
        text = row.get(col)
        text = "" if text is None else str(text).strip()
        if not text:
            raise UserError(f"{path} {table.unit} {line}: empty passage in column {col!r}")
        pid = str(row[id_col]) if id_col else f"p{i}"
        if pid in seen:
            raise UserError(
                f"{path} {table.unit} {line}: passage id {pid!r} repeats; ids must be unique"
            )
        seen.add(pid)
        ids.append(pid)
        texts.append(text)
    return Corpus(ids, texts)


def fold_of(groups: list[str], k: int) -> dict[str, int]:
    """Each group (an answer) -> its fold, 0..k-1: groups dealt round-robin in a seeded
    shuffle, so every fold holds about 1/k of the answers and none is in two folds."""
    import random

    uniq = sorted(set(groups))
    random.Random(0).shuffle(uniq)
    return {g: i % k for i, g in enumerate(uniq)}


def read_data(cfg) -> TaskData:
    data = cfg.data
    if data.train is None:
        raise UserError("no training data: give --train FILE")
    train = read_pairs(data.train, data)
    dev = read_pairs(data.dev, data) if data.dev is not None else None
    test = read_pairs(data.test, data) if data.test is not None else None
    opts = cfg.task.options or {}
    info: dict = {}
    k, fold = int(opts.get("cv_folds") or 0), opts.get("cv_fold")
    if k > 1 and fold is not None:
        # grouped cross-validation: the fold's answers (every question of them) are the test
        # split, never seen in training; the corpus keeps every answer
        folds = fold_of([normalize_text(e.text_pair) for e in train], k)
        test = [e for e in train if folds[normalize_text(e.text_pair)] == fold]
        train = [e for e in train if folds[normalize_text(e.text_pair)] != fold]
        info["cv"] = {"folds": k, "fold": fold, "grouped_by": "passage", "test_rows": len(test)}
    corpus = read_corpus(data.corpus, data) if data.corpus is not None else Corpus([], [])
    n_file = len(corpus.texts)
    for split in (train, dev, test):
        for e in split or []:
            corpus.add(e.text_pair)
    info["corpus"] = {
        "file": None if data.corpus is None else str(data.corpus),
        "passages": len(corpus.texts),
        "from_file": n_file,
        "added_from_pairs": corpus.added,
    }
    out = TaskData(train, dev, test, info)
    out.corpus = corpus  # type: ignore[attr-defined]
    return out
