"""The repository holds code, not data: no tracked file over 1 MiB (a benchmark that wrote a
checkpoint into the working tree, committed by accident, fails here)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 1 << 20


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout"
)
def test_no_tracked_file_over_one_mib():
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    files = [f for f in out.split("\0") if f]
    assert len(files) > 100  # the listing worked
    big = [(f, (ROOT / f).stat().st_size) for f in files if (ROOT / f).is_file()]
    assert [(f, n) for f, n in big if n > LIMIT] == []
