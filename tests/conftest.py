"""Shared fixtures: a tiny random BERT built in-process, tiny learnable datasets."""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tests never write to the user's run registry (~/.tunewise/runs.db); subprocesses inherit this.
os.environ["TUNEWISE_REGISTRY"] = str(
    Path(tempfile.mkdtemp(prefix="tunewise-test-registry-")) / "runs.db"
)

SHARED = Path(
    os.environ.get("SHARED_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets")
)

POS = ["good", "great", "fun", "lovely", "superb", "moving", "bright", "warm"]
NEG = ["bad", "dull", "awful", "boring", "weak", "flat", "tired", "cold"]
FILL = [
    "the",
    "film",
    "was",
    "a",
    "story",
    "and",
    "plot",
    "really",
    "very",
    "quite",
    "movie",
    "cast",
]


def pytest_collection_modifyitems(config, items):
    # Tests that need the shared datasets are skipped with a reason when the folder is absent.
    if SHARED.is_dir():
        return
    skip = pytest.mark.skip(reason=f"shared datasets folder {SHARED} is absent")
    for item in items:
        if "shared" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer, hidden-32 random BERT with a small WordPiece vocab, saved as a local model."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


def build_tiny_model(d: Path) -> Path:
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-")
    vocab = (
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        + chars
        + ["##" + c for c in chars]
        + POS
        + NEG
        + FILL
    )
    tok = BertTokenizerFast(
        vocab={w: i for i, w in enumerate(dict.fromkeys(vocab))}, do_lower_case=True
    )
    tok.save_pretrained(d)
    cfg = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(0)
    BertModel(cfg).save_pretrained(d)
    return d


def make_rows(n: int, seed: int, multi: bool = False) -> list[dict]:
    """Sentences whose label is carried by sentiment words (learnable by a tiny model)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        y = rng.random() < 0.5
        words = [rng.choice(FILL) for _ in range(rng.randint(2, 12))]
        words.insert(rng.randrange(len(words) + 1), rng.choice(POS if y else NEG))
        text = " ".join(words) + f" {rng.randint(0, 10**6)}"
        if multi:
            labels = ["pos" if y else "neg"] + (["long"] if len(words) > 8 else [])
            rows.append({"text": text, "label": labels})
        else:
            rows.append({"text": text, "label": "pos" if y else "neg"})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def tiny_data(tmp_path) -> dict[str, Path]:
    return {
        "train": write_jsonl(tmp_path / "train.jsonl", make_rows(160, 1)),
        "dev": write_jsonl(tmp_path / "dev.jsonl", make_rows(40, 2)),
        "test": write_jsonl(tmp_path / "test.jsonl", make_rows(40, 3)),
    }


def tiny_config(model_dir: Path, data: dict, out: Path, **train) -> dict:
    """A config for a seconds-long run on the tiny model."""
    return {
        "model": {"name": str(model_dir), "max_length": 32},
        "data": {k: str(v) for k, v in data.items()},
        "train": {
            "epochs": 10,
            "batch_size": 16,
            "lr": 2e-3,
            "warmup_ratio": 0.1,
            "bf16": False,
            "seed": 7,
            "threads": 1,
            **train,
        },
        "out": str(out),
    }


def kill_after_checkpoint(cfg_path: Path, checkpoints: Path, min_step: int) -> None:
    """Start ``tunewise train --config cfg_path`` in a real process and SIGKILL it as soon as
    a complete checkpoint at ``min_step`` or later exists (a crash mid-training)."""
    import signal
    import subprocess
    import sys
    import time

    from tunewise.training.checkpoint import latest_checkpoint

    env = dict(os.environ, PYTHONPATH=os.getcwd())
    proc = subprocess.Popen(
        [sys.executable, "-m", "tunewise", "train", "--config", str(cfg_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        c = latest_checkpoint(checkpoints)
        if c is not None and int(c.name.split("-")[1]) >= min_step:
            break
        assert proc.poll() is None, "run finished before it could be killed"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
