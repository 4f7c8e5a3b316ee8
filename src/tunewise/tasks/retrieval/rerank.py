"""A cross-encoder reranker fine-tuned by a retrieval run (``task.options.rerank=true``).

After the bi-encoder is trained and the corpus indexed, every training question is paired with
its own passage (target 1) and with ``rerank_negatives`` of the passages the fine-tuned
bi-encoder ranks highest that are not its own (target 0): the mistakes the reranker is there
to fix. A sequence-pair classifier with one logit starts from the run's pretrained model and is
trained with binary cross-entropy; it is saved as ``model/reranker/`` in the layout
sentence-transformers' ``CrossEncoder`` loads, and reranks the bi-encoder's top
``rerank_top`` passages in the evaluation (``reranked``, beside ``finetuned``) and in
``predict``/serving.

The loop is this module's own (AdamW, linear warmup and decay, batches sorted by length):
``CrossEncoder.fit`` in sentence-transformers 6.2 goes through its Trainer, which needs the
``datasets`` package, not in the project's pins.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

RERANKER_DIR = "reranker"
UNUSED_DIR = "reranker.unused"  # trained, but it ranked dev worse than the bi-encoder


def mine_pairs(
    order: np.ndarray,
    golds: list[set],
    negatives: int,
    hard: int | None = None,
    n_passages: int = 0,
    seed: int = 0,
) -> list[tuple[int, int, float]]:
    """``(query row, passage index, target)``: each query's own passages (1.0), then
    ``negatives`` wrong ones (0.0): its ``hard`` best-ranked other passages in ``order``
    (all ``negatives`` when None) and the rest drawn at random from ``n_passages`` (seeded)."""
    hard = negatives if hard is None else min(hard, negatives)
    rng = np.random.default_rng(seed)
    out = []
    for i, (row, own) in enumerate(zip(order, golds)):
        out.extend((i, int(g), 1.0) for g in sorted(own))
        wrong = [int(j) for j in row if j >= 0 and int(j) not in own][:hard]
        while len(wrong) < negatives and n_passages > len(own) + len(wrong):
            j = int(rng.integers(n_passages))
            if j not in own and j not in wrong:
                wrong.append(j)
        out.extend((i, j, 0.0) for j in wrong)
    return out


def question_batches(groups: list[list[int]], longest: list[int], per_batch: int, rng) -> list:
    """One epoch's batches of pair indices: ``per_batch`` questions' pairs each (a question's
    pairs never split), questions of similar longest pair together (less padding) within
    shuffled spans of 50 batches."""
    perm = rng.permutation(len(groups))
    span = per_batch * 50
    batches = []
    for i in range(0, len(perm), span):
        c = sorted(perm[i : i + span], key=lambda g: longest[g])
        batches += [
            [k for g in c[j : j + per_batch] for k in groups[g]]
            for j in range(0, len(c), per_batch)
        ]
    return batches


def _padded(rows: list, types: list, idx: list[int], pad: int):
    """(input_ids, token_type_ids, attention_mask) of rows ``idx``, padded to the longest."""
    width = max(len(rows[i]) for i in idx)
    ids = torch.full((len(idx), width), pad, dtype=torch.long)
    tt = torch.zeros((len(idx), width), dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    for k, i in enumerate(idx):
        n = len(rows[i])
        ids[k, :n], tt[k, :n], mask[k, :n] = torch.tensor(rows[i]), torch.tensor(types[i]), 1
    return ids, tt, mask


def train_reranker(
    base_model: str,
    queries: list[str],
    passages: list[str],
    pairs: list[tuple[int, int, float]],
    out: Path,
    *,
    epochs: float,
    lr: float,
    batch_size: int,
    max_length: int,
    seed: int,
    echo,
) -> dict:
    """Fine-tune a one-logit pair classifier from ``base_model`` on ``pairs``; save it to
    ``out``. Returns what was done (for metrics.json)."""
    import time

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from tunewise.models.quiet import quiet_transformers

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tok = AutoTokenizer.from_pretrained(base_model)
    with quiet_transformers():
        model = AutoModelForSequenceClassification.from_pretrained(base_model, num_labels=1)
    enc = tok(
        [queries[q] for q, _, _ in pairs],
        [passages[p] for _, p, _ in pairs],
        truncation=True,
        max_length=max_length,
    )
    rows = list(enc["input_ids"])
    types = list(enc.get("token_type_ids") or [[0] * len(r) for r in rows])
    y = np.asarray([t for _, _, t in pairs], dtype=np.float32)
    # a question's pairs (its passages and its wrong ones) share a batch: the loss then
    # compares passages for the same question. Batches of unrelated pairs mostly taught the
    # bias: on bank_faqs questions with random negatives, held-out AUROC 0.68 mixed, 0.955
    # grouped (150 steps, minilm; benchmarks/RESULTS.md)
    by_query: dict[int, list[int]] = {}
    for k, (q, _, _) in enumerate(pairs):
        by_query.setdefault(q, []).append(k)
    groups = list(by_query.values())
    per_batch = max(1, round(batch_size / (len(pairs) / len(groups))))
    per_epoch = -(-len(groups) // per_batch)
    steps = max(1, int(round(per_epoch * epochs)))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, foreach=True)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm)))
    )
    pad = tok.pad_token_id or 0
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    t0, done, total = time.time(), 0, 0.0
    echo(
        f"reranker: {len(pairs):,} (question, passage) pairs ({int(y.sum()):,} positive), "
        f"{steps} steps of {per_batch} questions' pairs, lr {lr:g}"
    )
    longest = [max(len(rows[k]) for k in g) for g in groups]
    while done < steps:
        batches = question_batches(groups, longest, per_batch, rng)
        for b in rng.permutation(len(batches)):
            if done >= steps:
                break
            idx = batches[b]
            ids, tt, mask = _padded(rows, types, idx, pad)
            logits = model(input_ids=ids, token_type_ids=tt, attention_mask=mask).logits[:, 0]
            loss = loss_fn(logits, torch.from_numpy(y[idx]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            total += float(loss.detach())
            done += 1
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    # CrossEncoder truncates pairs at the tokenizer's limit: the length it was trained at,
    # not the checkpoint's 512 (longer pairs cost more and were never seen in training)
    tok.model_max_length = max_length
    tok.save_pretrained(out)
    secs = time.time() - t0
    echo(f"reranker: trained in {secs:.0f} s (mean loss {total / steps:.3f}), saved to {out}")
    return {
        "pairs": len(pairs),
        "positives": int(y.sum()),
        "steps": steps,
        "seconds": round(secs, 1),
        "mean_loss": round(total / steps, 4),
        "base_model": str(base_model),
    }


def reranker_dir(model_dir: Path, opts) -> str | None:
    """The cross-encoder a run reranks with: the one it trained (``model/reranker/``) or the
    directory the user named (``rerank_model``); None when it does not rerank."""
    if opts.rerank_model:
        return opts.rerank_model
    p = Path(model_dir) / RERANKER_DIR
    return str(p) if opts.rerank and p.is_dir() else None


def fit_for_run(task, f, index) -> dict:
    """Train the run's reranker on its training questions (negatives from ``index``, the
    fine-tuned bi-encoder's); saved in the run's model directory. Returns its record."""
    from tunewise.data.examples import normalize_text
    from tunewise.models.registry import recommended_lr, resolve_model
    from tunewise.tasks.retrieval.encoder import embed_rows, search

    opts, train, exs = task.opts, f.enc["train"], f.data.train
    f.echo("reranker: mining wrong passages for the train questions with the fine-tuned model")
    q = embed_rows(f.model, train.input_ids, f.pad_id, f.eval_batch_size)
    _, order = search(index, q, opts.rerank_negatives + 10)
    golds: dict = {}
    for ex, g in zip(exs, train.labels):
        golds.setdefault(normalize_text(ex.text), set()).add(int(g))
    own = [golds[normalize_text(ex.text)] for ex in exs]
    # one row per distinct question: a question listed with two passages is one query
    first: dict = {}
    for i, ex in enumerate(exs):
        first.setdefault(normalize_text(ex.text), i)
    rows = sorted(first.values())
    pairs = mine_pairs(
        order[rows],
        [own[i] for i in rows],
        opts.rerank_negatives,
        hard=opts.rerank_hard_negatives,
        n_passages=len(task.corpus.texts),
        seed=int(f.cfg.train.seed),
    )
    out = Path(f.run.model) / RERANKER_DIR
    rec = train_reranker(
        resolve_model(f.cfg.model.name).path,
        [exs[i].text for i in rows],
        task.corpus.texts,
        pairs,
        out if f.main else Path(f.run.path) / ".reranker-unused",
        epochs=opts.rerank_epochs,
        lr=opts.rerank_lr or recommended_lr(f.cfg.model.name),
        batch_size=opts.rerank_batch_size,
        max_length=int(f.cfg.model.max_length),
        seed=int(f.cfg.train.seed),
        echo=f.echo,
    )
    return rec | {
        "dir": f"model/{RERANKER_DIR}",
        "queries": len(rows),
        "negatives": opts.rerank_negatives,
    }
