"""The registry, run_doctor, the report's JSON and the printed summary."""

import io
import json

import pytest
from rich.console import Console

from tests.doctor.helpers import distinct
from tunewise.doctor import CHECKS, print_summary, run_doctor
from tunewise.errors import UserError
from tunewise.tasks import TASKS, get_task

EXPECTED = {
    "duplicates": "warning",
    "cross_split_overlap": "warning",
    "same_splits": "error",
    "near_duplicates": "warning",
    "label_conflicts": "warning",
    "unseen_labels": "error",
    "rare_classes": "warning",
    "imbalance": "warning",
    "token_tags": "error",
    "short_texts": "warning",
    "test_size": "warning",
    "length": "warning",
    "unknown_tokens": "error",
    "shared_sentences": "error",
    "tag_scheme": "error",
    "entity_types": "warning",
    "sentence_truncation": "warning",
    "empty_answers": "error",
    "sft_length": "warning",
    "end_of_turn": "error",
    "regression_targets": "error",
    "target_conflicts": "warning",
    "retrieval_pairs": "warning",
    "retrieval_test_in_train": "warning",
    "test_texts_in_text": "error",
}
TOKEN_CHECKS = {
    "unknown_tokens",
    "shared_sentences",
    "tag_scheme",
    "entity_types",
    "sentence_truncation",
}


def test_registry_names_and_severities():
    assert {n: c.severity for n, c in CHECKS.items()} == EXPECTED
    assert all(c.doc for c in CHECKS.values())
    assert set(get_task("tokens").doctor_checks) == TOKEN_CHECKS
    # every check a task names is registered, and none is left that no task runs
    named = {n for t in TASKS.values() for n in t.doctor_checks}
    assert named <= set(CHECKS) and set(CHECKS) == named


def _leaky():
    train = distinct(20, "a", "x") + distinct(20, "b", "y")
    return {"train": train, "dev": list(train), "test": distinct(10, "t", "x")}


def test_errors_stop_unless_allowed(tmp_path):
    report = run_doctor(_leaky())
    assert [f.check for f in report.errors] == ["same_splits"]
    assert "test_size" in [f.check for f in report.warnings]
    allowed = run_doctor(_leaky(), allow=["same_splits"])
    assert allowed.errors == [] and [f.check for f in allowed.allowed_errors] == ["same_splits"]
    d = json.loads(allowed.write(tmp_path / "doctor.json").read_text())
    assert d["version"] == 1 and d["allowed"] == ["same_splits"] and d["errors"] == []
    assert d["allowed_errors"] == ["same_splits"]
    assert d["splits"] == {"train": 40, "dev": 40, "test": 10}
    assert len(d["findings"]) == len(get_task("classification").doctor_checks)


def test_unknown_allow_name_is_a_user_error():
    with pytest.raises(UserError, match="unknown check 'same_split'"):
        run_doctor(_leaky(), allow=["same_split"])


def test_summary_has_a_line_per_check():
    out = io.StringIO()
    print_summary(run_doctor(_leaky()), Console(file=out, width=100))
    text = out.getvalue()
    for name in CHECKS:
        assert (name in text) == (name in get_task("classification").doctor_checks)
    assert "1 error(s)" in text and "skip" in text
