"""The same `tunewise train` under torchrun with 2 CPU processes (gloo): one writer, exact rows."""

import json
import os
import subprocess
import sys

from tests.conftest import make_rows, write_jsonl


def test_two_processes_train_and_evaluate_every_row_once(tiny_model_dir, tmp_path):
    data = {
        s: write_jsonl(tmp_path / f"{s}.jsonl", make_rows(n, i))
        for i, (s, n) in enumerate((("train", 160), ("dev", 40), ("test", 43)))
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "-m",
        "tunewise",
        "train",
        "--model",
        str(tiny_model_dir),
        "--train",
        str(data["train"]),
        "--dev",
        str(data["dev"]),
        "--test",
        str(data["test"]),
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--max-length",
        "32",
        "--out",
        str(tmp_path / "run"),
    ]
    env = dict(os.environ, PYTHONPATH=os.getcwd(), OMP_NUM_THREADS="1")
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["training"]["processes"] == 2
    assert m["training"]["steps"] == 20  # 20 batches an epoch, split over 2 processes, 2 epochs
    assert m["test"]["n"] == 43  # padded shards repeat rows; the metric counts each row once
    assert p.stdout.count("run directory:") == 1  # only the main process reports
