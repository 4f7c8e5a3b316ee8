"""A small synthetic catalog with two tastes (good-words vs bad-words items) and users who
like one taste, written as interactions/items CSVs; and one fitted run on the tiny BERT."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from tests.conftest import NEG, POS

GENRES = {"pos": "Comedy", "neg": "Horror"}


def write_data(d: Path, users: int = 24, items: int = 40, seed: int = 0) -> tuple[Path, Path]:
    rng = random.Random(seed)
    rows = []
    for i in range(1, items + 1):
        kind = "pos" if i % 2 else "neg"
        words = POS if kind == "pos" else NEG
        rows.append(
            {
                "item_id": str(i),
                "title": f"{words[i % len(words)]} {words[(i * 3) % len(words)]} {i}",
                "genres": GENRES[kind],
                "description": " ".join(rng.choice(words) for _ in range(4)) if i % 7 else "",
            }
        )
    items_csv = d / "items.csv"
    with open(items_csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    inter = []
    t = 1000
    for u in range(1, users + 1):
        taste = 1 if u % 2 else 0  # odd users like odd (pos) items
        liked = [i for i in range(1, items - 3) if i % 2 == taste]
        rng.shuffle(liked)
        for i in liked[:12]:
            t += rng.randint(1, 50)
            inter.append({"user_id": str(u), "item_id": str(i), "rating": 5, "timestamp": t})
        other = [i for i in range(1, items - 3) if i % 2 != taste]
        for i in rng.sample(other, 2):
            t += 1
            inter.append({"user_id": str(u), "item_id": str(i), "rating": 1, "timestamp": t})
    # the last items of the catalog appear only at the end of the time line: cold-start
    for u in range(1, users + 1):
        for i in range(items - 3, items + 1):
            if i % 2 == u % 2:
                t += 5
                inter.append({"user_id": str(u), "item_id": str(i), "rating": 5, "timestamp": t})
    inter_csv = d / "interactions.csv"
    with open(inter_csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(inter[0]))
        w.writeheader()
        w.writerows(inter)
    return inter_csv, items_csv


@pytest.fixture(scope="session")
def rec_files(tmp_path_factory) -> tuple[Path, Path]:
    return write_data(tmp_path_factory.mktemp("rec-data"))


@pytest.fixture(scope="session")
def rec_run(rec_files, tiny_model_dir, tmp_path_factory) -> Path:
    from tunewise.apps.recommend import fit

    inter, items = rec_files
    out = tmp_path_factory.mktemp("rec-run") / "rec"
    fit(
        inter,
        items,
        out,
        item_text="{title}. {genres}. {description}",
        model=str(tiny_model_dir),
        epochs=2,
        max_length=48,
        holdout=3,
        cold_share=0.1,
        rerank=True,
        overrides=[
            "train.threads=1",
            "train.batch_size=16",
            "train.lr=2e-3",
            "train.bf16=false",
            "task.options.rerank_top=4",  # the recommend run's, not the reranker's
        ],
        echo=lambda line: None,
    )
    return out
