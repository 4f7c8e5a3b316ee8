"""`tunewise pretrain` on bad input: one line, exit code 2, no half-written run that looks
complete."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _run(args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "tunewise", "pretrain", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    "args, says",
    [
        ([], "--text"),
        (["--text", "nope.txt", "--out", "r"], "nope.txt: text file or folder not found"),
        (["--text", "c.txt", "--objective", "xlm"], "--objective 'xlm'"),
        (["--text", "c.txt", "--from-scratch", "--size", "huge", "--out", "r"], "--size 'huge'"),
        (["--text", "c.txt", "--from-scratch", "--objective", "clm"], "use --objective mlm"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, says):
    (tmp_path / "c.txt").write_text("some text\nmore text\n")
    r = _run(args, tmp_path)
    assert r.returncode == 2, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert says in lines[-1] and "Traceback" not in r.stderr
    assert not (tmp_path / "r" / "metrics.json").exists()
