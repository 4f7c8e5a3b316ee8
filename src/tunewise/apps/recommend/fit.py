"""``tunewise recommend fit``: interactions + item texts -> a recommend run.

Reads and checks the data (``data.py``), splits it by time per user with cold-start items
(``split.py``), writes the (history, next liked item) pairs and the catalog to a staging folder
beside the run, and trains the ``recommend`` task through the one runner (``tunewise.train``):
the run directory is written and marked completed by the runner, never half. The staging
folder is removed afterwards; what later steps need is kept in the run (``split.json``,
``doctor.json``, ``model/recommend.json``).
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from pathlib import Path

from tunewise.apps.recommend.data import print_doctor, read_data
from tunewise.apps.recommend.split import split
from tunewise.tasks.recommend.bundle import history_text, user_pieces

MAX_DEV = 300


def pairs(bundle: dict, recent: int, per_user: int, seed: int = 0) -> dict[str, list]:
    """Rows of the bi-encoder: per user, each of the latest ``per_user`` liked training items
    as the passage and the texts of the items liked before it as the query. The last one is
    the user's dev pair (checkpoint selection); the test pair is the first held-out item."""
    texts = bundle["items"]["texts"]
    out: dict[str, list] = {"train": [], "dev": [], "test": [], "train_users": []}
    for uid, rec in bundle["users"].items():
        pieces = user_pieces(bundle, rec)
        n = len(pieces)
        if n >= 2:
            out["dev"].append(
                {
                    "text": history_text(pieces[: n - 1], recent),
                    "passage": texts[rec["train"][n - 1]],
                    "user": uid,
                }
            )
        for j in range(max(1, n - 1 - per_user), n - 1):
            out["train"].append(
                {"text": history_text(pieces[:j], recent), "passage": texts[rec["train"][j]]}
            )
            out["train_users"].append([uid, rec["train"][j]])
        if rec["warm_test"] and n:
            out["test"].append(
                {"text": history_text(pieces, recent), "passage": texts[rec["warm_test"][0]]}
            )
    if len(out["dev"]) > MAX_DEV:
        out["dev"] = random.Random(seed).sample(out["dev"], MAX_DEV)
    out["dev_users"] = [r.pop("user") for r in out["dev"]]
    return out


def rerank_rows(
    bundle: dict, rows: dict, seed: int = 0, limit: int | None = None
) -> dict[str, list]:
    """The cross-encoder's rows: each (history, liked item) pair labelled ``liked`` and the
    same history with an item the user never liked in training (and not cold-start), drawn
    at random, labelled ``other``. Dev rows are split in two (its dev and test). ``limit``:
    at most that many training pairs, a seeded draw (a cross-encoder step reads history and
    item together: on a CPU it costs about what the bi-encoder's does, for half the pairs)."""
    from tunewise.tasks.recommend.rerank import LIKED

    rng = random.Random(seed)
    texts = bundle["items"]["texts"]
    cold = set(bundle.get("cold_items") or [])
    pool = [i for i in range(len(texts)) if i not in cold]
    out: dict[str, list] = {}
    train = list(zip(rows["train"], [u for u, _ in rows["train_users"]]))
    if limit is not None and limit < len(train):
        train = random.Random(seed).sample(train, limit)
    for name, kept in (("train", train), ("dev", list(zip(rows["dev"], rows["dev_users"])))):
        part = []
        for r, uid in kept:
            liked = set(bundle["users"][uid]["train"])
            free = [j for j in pool if j not in liked] or pool
            neg = rng.choice(free)
            part.append({"text": r["text"], "text_pair": r["passage"], "label": LIKED})
            part.append({"text": r["text"], "text_pair": texts[neg], "label": "other"})
        out[name] = part
    half = len(out["dev"]) // 4 * 2  # a pair's two rows stay together
    out["dev"], out["test"] = out["dev"][:half], out["dev"][half:]
    return out


def train_reranker(
    bundle, rows, stage: Path, model, epochs, max_length, overrides, echo, limit=None
) -> Path:
    """Fine-tune the cross-encoder through the one runner (a classification run on sequence
    pairs, in the staging folder); returns its model directory."""
    import tunewise

    data = rerank_rows(bundle, rows, limit=limit)
    echo(f"reranker: fine-tuning a cross-encoder on {len(data['train'])} (history, item) pairs")
    cfg = tunewise.build_config(
        {
            "model": {"name": model, "max_length": 2 * max_length},
            "data": {
                **{k: str(_jsonl(stage / f"rerank-{k}.jsonl", v)) for k, v in data.items()},
                "text_column": "text",
                "text_pair_column": "text_pair",
                "label_column": "label",
            },
            "task": {"type": "classification", "label_issues": False},
            "doctor": {"enabled": False},  # generated rows; the data was checked above
            "train": {"epochs": epochs},
            "out": str(stage / "reranker"),
        },
        # the recommend run's task.* overrides (rerank_top, hybrid_weight ...) are not its
        overrides=[o for o in overrides or [] if not o.startswith("task.")],
    )
    return tunewise.train(cfg, echo=lambda line: echo(f"  reranker: {line}")).path / "model"


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def fit(
    interactions: Path,
    items: Path,
    out: Path,
    *,
    user_column: str = "user_id",
    item_column: str = "item_id",
    time_column: str | None = "timestamp",
    rating_column: str | None = "rating",
    min_rating: float = 4.0,
    item_text: str = "{title}",
    title_column: str | None = None,
    review_column: str | None = None,
    holdout: int = 5,
    cold_share: float = 0.1,
    history_items: int = 5,
    pairs_per_user: int = 10,
    model: str = "minilm",
    epochs: float = 1.0,
    max_length: int = 128,
    rerank: bool = False,
    rerank_pairs: int | None = None,
    overrides: list[str] | None = None,
    overwrite: bool = False,
    echo=print,
):
    """Fit a recommend run at ``out``; returns the runner's RunResult."""
    import tunewise
    from tunewise.errors import UserError

    if pairs_per_user < 1:
        raise UserError(f"--pairs-per-user {pairs_per_user}: give 1 or more")
    if rerank_pairs is not None and rerank_pairs < 1:
        raise UserError(f"--rerank-pairs {rerank_pairs}: give 1 or more (or leave it out: all)")
    data = read_data(
        interactions,
        items,
        user_column=user_column,
        item_column=item_column,
        time_column=time_column,
        rating_column=rating_column,
        min_rating=min_rating,
        item_text=item_text,
        title_column=title_column,
        review_column=review_column,
        min_user_positives=holdout + 2,
    )
    echo(
        f"data: {len(data.item_ids)} items, {len(data.interactions)} interactions, "
        f"{len(data.positives)} liked ({data.settings['feedback']})"
    )
    echo("doctor:")
    print_doctor(data.doctor, echo)
    bundle = split(data, holdout=holdout, cold_share=cold_share)
    s = bundle["split"]
    echo(
        f"split: {s['users_evaluated_warm']} users evaluated on their last {holdout} liked "
        f"items; {s['cold_items']} cold-start items ({s['cold_test_positives']} liked "
        f"interactions) unseen in training"
    )
    rows = pairs(bundle, history_items, pairs_per_user)
    if not rows["train"]:
        raise UserError(f"{interactions}: no user has 3 liked training items: nothing to train")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.prep-", dir=out.parent))
    try:
        bundle["pairs"] = {"train": rows["train_users"]}
        corpus = [
            {"id": iid, "passage": text or f"item {iid}"}
            for iid, text in zip(bundle["items"]["ids"], bundle["items"]["texts"])
        ]
        bundle["items"]["texts"] = [r["passage"] for r in corpus]
        (stage / "bundle.json").write_text(json.dumps(bundle), "utf-8")
        reranker = (
            train_reranker(
                bundle, rows, stage, model, epochs, max_length, overrides, echo, rerank_pairs
            )
            if rerank
            else None
        )
        files = {k: str(_jsonl(stage / f"{k}.jsonl", rows[k])) for k in ("train", "dev", "test")}
        files["corpus"] = str(_jsonl(stage / "items.jsonl", corpus))
        options = {
            "bundle": str(stage / "bundle.json"),
            "history_items": history_items,
            "reranker": None if reranker is None else str(reranker),
        }
        cfg = tunewise.build_config(
            {
                "model": {"name": model, "max_length": max_length},
                "data": {**files, "text_column": "text", "text_pair_column": "passage"},
                "task": {"type": "recommend", "options": options},
                "train": {"epochs": epochs},
                "out": str(out),
            },
            overrides=overrides,
        )
        return tunewise.train(cfg, overwrite=overwrite, echo=echo)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
