"""Fixtures of the pretraining tests: tiny encoders built from a config (no MLM head, as
minilm), a tiny Llama, English and Chinese text, and a private tunewise cache."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.conftest import FILL, NEG, POS

ZH = [
    "这家店的菜很好吃，服务也很周到",
    "物流太慢了，包装也破了",
    "质量不错，价格便宜，推荐购买",
    "客服态度很差，再也不买了",
    "屏幕清晰，电池耐用，很满意",
    "我在北京大学读书，专业是计算机",
]


def english_lines(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words = FILL + POS + NEG
    return [" ".join(rng.choice(words) for _ in range(rng.randint(4, 14))) for _ in range(n)]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Built models and from-scratch encoders go to this test's own cache."""
    monkeypatch.setenv("TUNEWISE_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    from tests.conftest import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("pt-bert"))


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    from tests.sft.conftest import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("pt-llama"))


@pytest.fixture
def en_text(tmp_path) -> Path:
    p = tmp_path / "corpus.txt"
    p.write_text("\n".join(english_lines(240, 1)) + "\n", encoding="utf-8")
    return p


def pretrain_config(model: Path, text: Path, out: Path, **options) -> dict:
    return {
        "model": {"name": str(model), "max_length": 32},
        "data": {"train": str(text)},
        "task": {"type": "pretrain", "options": options},
        "train": {
            "max_steps": 12,
            "batch_size": 16,
            "lr": 3e-3,
            "bf16": False,
            "seed": 3,
            "threads": 1,
            "warmup_ratio": 0.0,
        },
        "out": str(out),
    }
