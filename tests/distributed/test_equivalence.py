"""Two CPU processes (gloo) under the documented `accelerate launch --cpu --num_processes 2`
give the same result as one process with the same global batch; evaluation covers exactly the
split's rows; unavailable engines fail with one clear line."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tunewise
from tests.conftest import make_rows, tiny_config, write_jsonl
from tunewise.distributed import accelerate_cpu_request, check_engine
from tunewise.errors import UserError


@pytest.fixture(scope="module")
def no_dropout_model(tiny_model_dir, tmp_path_factory):
    # dropout draws from each process's own RNG stream; without it the math is identical
    d = tmp_path_factory.mktemp("nodrop") / "model"
    shutil.copytree(tiny_model_dir, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (d / "config.json").write_text(json.dumps(cfg))
    return d


def _logits(run: Path, split: str) -> np.ndarray:
    rows = [
        json.loads(x) for x in (run / "predictions" / f"{split}.jsonl").read_text().splitlines()
    ]
    assert [r["row"] for r in rows] == list(range(len(rows)))
    return np.array([r["logits"] for r in rows])


def test_two_processes_match_one_with_the_same_global_batch(no_dropout_model, tmp_path):
    data = {
        s: write_jsonl(tmp_path / f"{s}.jsonl", make_rows(n, i))
        for i, (s, n) in enumerate((("train", 96), ("dev", 41), ("test", 43)))
    }
    # one process: batches of 8, two per optimizer step = global batch 16
    one = tiny_config(
        no_dropout_model, data, tmp_path / "one", epochs=2, batch_size=8, grad_accum=2
    )
    one["doctor"] = {"enabled": False}
    r1 = tunewise.train(one)
    # two processes: batches of 8 each, the same pairs of batches per optimizer step
    accelerate = Path(sys.executable).parent / "accelerate"
    cmd = [str(accelerate), "launch", "--cpu", "--num_processes", "2", "-m", "tunewise", "train"]
    cmd += ["--model", str(no_dropout_model), "--max-length", "32", "--no-doctor"]
    for s, p in data.items():
        cmd += [f"--{s}", str(p)]
    cmd += ["--epochs", "2", "--batch-size", "8", "--lr", "2e-3", "--seed", "7", "--no-bf16"]
    cmd += ["--out", str(tmp_path / "two"), "train.threads=1"]
    env = dict(os.environ, PYTHONPATH=os.getcwd(), OMP_NUM_THREADS="1")
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "starting 2 with torch.distributed.run" in p.stderr
    assert p.stdout.count("run directory:") == 1  # one writer
    m1 = r1.metrics
    m2 = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert m2["training"]["processes"] == 2 and m1["training"]["processes"] == 1
    assert m2["training"]["steps"] == m1["training"]["steps"] == 12
    for split, n in (("dev", 41), ("test", 43)):
        assert m2[split]["n"] == n  # exactly the split's rows, no padded duplicates
        for k in ("accuracy", "macro_f1"):
            assert m2[split][k] == pytest.approx(m1[split][k], abs=1e-9), (split, k)
        np.testing.assert_allclose(
            _logits(tmp_path / "two", split), _logits(r1.path, split), atol=2e-4
        )
    log = lambda p: [json.loads(x) for x in (p / "train_log.jsonl").read_text().splitlines()]  # noqa: E731
    loss1 = [r["loss"] for r in log(r1.path) if r["type"] == "train"]
    loss2 = [r["loss"] for r in log(tmp_path / "two") if r["type"] == "train"]
    assert loss2 == pytest.approx(loss1, abs=2e-4)


def test_accelerate_cpu_request_reads_the_parent_launch(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "TUNEWISE_RELAUNCHED"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "no")
    launch = ["/v/bin/python", "/v/bin/accelerate", "launch", "--cpu"]
    assert accelerate_cpu_request([*launch, "--num_processes", "2", "-m", "tunewise"]) == 2
    assert accelerate_cpu_request([*launch, "--num-processes=3", "x.py"]) == 3
    assert accelerate_cpu_request([*launch, "--num_processes", "1", "x.py"]) is None
    assert accelerate_cpu_request(["/usr/bin/python", "-m", "pytest"]) is None
    mpi = [*launch, "--num_processes", "2", "--mpirun_hostfile", "h", "x.py"]
    assert accelerate_cpu_request(mpi) is None  # accelerate forks through MPI itself
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert accelerate_cpu_request([*launch, "--num_processes", "2", "x.py"]) is None


def test_missing_engines_are_one_clear_error(monkeypatch):
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    with pytest.raises(UserError, match="deepspeed is not installed|DeepSpeed needs GPUs"):
        check_engine(has_gpu=False)
    monkeypatch.delenv("ACCELERATE_USE_DEEPSPEED")
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    with pytest.raises(UserError, match="FSDP .* needs GPUs"):
        check_engine(has_gpu=False)
    check_engine(has_gpu=True)  # FSDP on GPUs goes ahead
