"""On SNIPS the doctor finds the 25 texts shared by train and test and the train duplicates."""

import pytest

from tests.conftest import SHARED
from tunewise.data import Example
from tunewise.doctor import run_doctor


def _split(name: str) -> list[Example]:
    d = SHARED / "snips" / name
    texts = (d / "seq.in").read_text(encoding="utf-8").splitlines()
    labels = (d / "label").read_text(encoding="utf-8").splitlines()
    return [
        Example(t, y, None, f"{name} line {i + 1}") for i, (t, y) in enumerate(zip(texts, labels))
    ]


@pytest.mark.shared
def test_snips_shared_texts_and_duplicates():
    splits = {"train": _split("train"), "dev": _split("valid"), "test": _split("test")}
    report = run_doctor(splits)
    overlap = report["cross_split_overlap"]
    assert not overlap.ok
    assert overlap.details["pairs"]["train-test"]["shared_texts"] == 25
    dup = report["duplicates"].details["train"]
    assert (dup["duplicated_texts"], dup["extra_copies"]) == (154, 225)
    assert (dup["raw_duplicated_texts"], dup["raw_extra_copies"]) == (134, 189)
    assert report.errors == []
