"""[harden] the report reads JSONL rows whose text holds U+2028 raw (label issues)."""

import json

from tunewise.evaluation.report_data import _jsonl


def test_rows_with_a_raw_line_separator_are_kept(tmp_path):
    p = tmp_path / "label_issues.jsonl"
    rows = [{"text": "one\u2028two", "row": 1}, {"text": "three\x0cfour", "row": 2}]
    p.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    notes = []
    assert _jsonl(p, notes) == rows and notes == []
