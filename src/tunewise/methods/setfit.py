"""SetFit (Tunstall et al. 2022): contrastive training of a sentence encoder on pairs made from
the few labeled examples, then a logistic-regression head on its sentence embeddings.

Why not the ``setfit`` library: it needs ``datasets`` (and pyarrow), which the project does not
pin. ``benchmarks/bench_fewshot.py`` runs the library itself (1.2.0 with datasets 5.2.0, in its
own venv from ``make bench-setfit``) on the same draws, side by side. What setfit does is
small: sentence pairs (same class: target 1, different class: target 0), sentence-transformers'
``CosineSimilarityLoss`` on the mean-pooled embeddings, then scikit-learn's ``LogisticRegression`` on the embeddings. This is
that, on the model the classification task loads, so the run directory, predictor, report,
serving and ONNX export are those of any classification run.

The embedding is the mean of the last hidden states over real tokens, L2-normalised (what
all-MiniLM-L6-v2's sentence-transformers pipeline computes). Every position counts: nothing
here may look at the first position only (the [CLS] shortcut other code uses for features).
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from tunewise.methods.base import Method, Options, register

WEIGHTS_FILE = "setfit.safetensors"
INFO_FILE = "setfit.json"


class SetFitOptions(Options):
    iterations: int = Field(20, ge=1)
    """Pairs per training example of each kind, same class and different class (setfit's
    num_iterations)."""
    pairs: int | None = Field(None, ge=2)
    """Total sentence pairs, half same class and half different; null = 2 x iterations x
    training examples."""
    body_epochs: int = Field(1, ge=1)
    """Passes over the pairs when training the encoder body."""
    body_lr: float = Field(2e-5, gt=0, lt=1)
    """Peak learning rate of the contrastive stage (linear warmup over 10%, then decay)."""
    body_batch_size: int = Field(16, ge=1)
    """Pairs per optimizer step in the contrastive stage."""
    loss: Literal["cosine", "mnrl"] = "cosine"
    """cosine: setfit's CosineSimilarityLoss on labeled pairs (same class 1, different 0);
    mnrl: in-batch negatives (sentence-transformers' MultipleNegativesSymmetricRankingLoss,
    the objective all-MiniLM-L6-v2 was trained with) on (anchor, same-class positive) pairs,
    each batch drawn from distinct classes so no in-batch negative shares the anchor's class
    (single-label only; ``pairs`` counts anchor-positive pairs)."""
    scale: float = Field(20.0, gt=0)
    """mnrl: scale of the cosine similarities (1 / temperature)."""
    head: Literal["logistic", "end_to_end"] = "logistic"
    """logistic: a logistic regression fitted on the embeddings (setfit's default; the loop
    does not run); end_to_end: that head, then body and head trained together by the one loop
    with the task's cross-entropy."""
    head_c: float = Field(1.0, gt=0)
    """Inverse regularisation strength of the logistic regression (scikit-learn's C)."""


def _torch():
    import torch

    return torch


@functools.cache
def _model_class():
    """The SetFitModel class, built on first use (importing this module must not import torch:
    ``tunewise methods`` and the config read the registry)."""
    torch = _torch()

    class SetFitModel(torch.nn.Module):
        """Encoder body + mean pooling + normalisation + a linear head; answers like a
        transformers classifier (``.logits``), so the task's collate, loss, predictor and export
        apply."""

        # mean pooling reads every position of the last layer: never the [CLS]-only shortcut
        reads_every_position = True
        # the pretrained part: ``body.*``; ``head.*`` is the task head (train.head_lr applies)
        base_model_prefix = "body"

        def __init__(self, classifier):
            super().__init__()
            self.body = classifier.base_model
            self.config = classifier.config
            self.head = torch.nn.Linear(self.config.hidden_size, self.config.num_labels)

        def embed(self, input_ids, attention_mask=None, token_type_ids=None):
            """Normalised mean of the last hidden states over real tokens, [batch, hidden]."""
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids)
            kw = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            out = self.body(input_ids=input_ids, attention_mask=attention_mask, **kw)
            h = out.last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

        def forward(
            self,
            input_ids,
            attention_mask=None,
            token_type_ids=None,
            output_hidden_states=False,
            **_,
        ):
            from transformers.modeling_outputs import SequenceClassifierOutput

            e = self.embed(input_ids, attention_mask, token_type_ids)
            # features asked of "the last layer's first position" are the sentence embedding
            # itself: mean pooling is never bypassed by a first-position shortcut
            hidden = (e.unsqueeze(1),) if output_hidden_states else None
            return SequenceClassifierOutput(logits=self.head(e), hidden_states=hidden)

    return SetFitModel


def setfit_model(classifier):
    """A SetFitModel over the body of ``classifier`` (a transformers ...ForSequenceClassification)."""
    return _model_class()(classifier)


def make_pairs(labels: np.ndarray, n_pairs: int, rng: np.random.Generator) -> list:
    """``(i, j, target)`` sentence pairs: half with target 1.0 (same class, or for multi-label
    the same label set), half with target 0.0 (no label in common), cycling over the examples
    in shuffled order as setfit's oversampling does. Examples without a partner of a kind are
    skipped for that kind."""
    n = len(labels)
    keys = [tuple(np.atleast_1d(y).tolist()) for y in labels]
    multi = labels.ndim == 2

    def disjoint(a, b):
        return not any(x and y for x, y in zip(a, b)) if multi else a != b

    pos = [[j for j in range(n) if j != i and keys[j] == keys[i]] for i in range(n)]
    neg = [[j for j in range(n) if disjoint(keys[i], keys[j])] for i in range(n)]
    if not any(pos) or not any(neg):
        from tunewise.errors import UserError

        raise UserError(
            "method setfit: pairs need two examples of one class and examples of two classes "
            f"({n} training rows)"
        )
    want = {1.0: n_pairs // 2, 0.0: n_pairs - n_pairs // 2}
    out: list = []
    for target, partners in ((1.0, pos), (0.0, neg)):
        made = 0
        while made < want[target]:
            for i in rng.permutation(n):
                if partners[i] and made < want[target]:
                    j = partners[i][int(rng.integers(len(partners[i])))]
                    out.append((int(i), int(j), target))
                    made += 1
    order = rng.permutation(len(out))
    return [out[k] for k in order]


def class_batches(labels: np.ndarray, n_pairs: int, width: int, rng) -> list:
    """Batches of ``(anchor, positive, 1.0)`` for in-batch-negative training: every batch has
    anchors of distinct classes (up to ``width`` of them), each anchor with another example of
    its class, so no other row of the batch is a false negative; each class's examples serve
    as anchors in turn (a fresh shuffle per round). ``n_pairs`` pairs in all."""
    from tunewise.errors import UserError

    if labels.ndim != 1:
        raise UserError("method setfit: loss=mnrl is for single-label data; use loss=cosine")
    by = {int(c): np.flatnonzero(labels == c) for c in np.unique(labels[labels >= 0])}
    by = {c: ix for c, ix in by.items() if len(ix) >= 2}
    if len(by) < 2:
        raise UserError(
            "method setfit: loss=mnrl needs two classes with at least two examples each "
            f"({len(by)} such classes)"
        )
    classes = np.array(sorted(by))
    width = min(width, len(classes))
    queues: dict[int, list] = {c: [] for c in by}
    out, made = [], 0
    while n_pairs - made >= 2:
        batch = []
        for c in rng.choice(classes, size=min(width, n_pairs - made), replace=False):
            c = int(c)
            if not queues[c]:
                queues[c] = list(rng.permutation(by[c]))
            i = int(queues[c].pop())
            others = by[c][by[c] != i]
            batch.append((i, int(others[int(rng.integers(len(others)))]), 1.0))
        out.append(batch)
        made += len(batch)
    return out


def contrastive_stage(model, opts: SetFitOptions, task, train, pad_id: int, train_cfg, echo):
    """Train ``model.body`` on pairs of ``train`` rows (``opts.loss``: CosineSimilarityLoss
    on labeled pairs, or in-batch negatives over distinct-class batches) (bf16
    autocast as ``train.bf16`` says: auto = where bf16 matmul is fast); returns a record
    (pairs, steps, seconds)."""
    import contextlib

    torch = _torch()
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

    from tunewise.training.loop import bf16_is_fast

    seed = train_cfg.seed
    device = next(model.parameters()).device
    # auto = bf16 only on a GPU with it: on CPU the contrastive steps measured slower in bf16
    # under load (2 shared cores: 9.6 s vs 2.1 s per 32 sentences), unlike the loop's probe
    bf16 = (
        device.type == "cuda" and bf16_is_fast(device)
        if train_cfg.bf16 == "auto"
        else bool(train_cfg.bf16)
    )
    autocast = (
        torch.autocast(device_type=device.type, dtype=torch.bfloat16)
        if bf16
        else contextlib.nullcontext()
    )

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    labels = np.asarray(train.labels)
    bs = opts.body_batch_size
    if opts.loss == "mnrl":
        from sentence_transformers.sentence_transformer.losses import (
            MultipleNegativesSymmetricRankingLoss,
        )

        n_pairs = opts.pairs or opts.iterations * len(train)
        batches = class_batches(labels, n_pairs, bs, rng)
        mnrl = MultipleNegativesSymmetricRankingLoss(None, scale=opts.scale)

        def loss_of(sides, chunk):
            return mnrl.compute_loss_from_embeddings(sides, None)

        def epoch_batches(epoch):  # a fresh draw of distinct-class batches each pass
            return batches if not epoch else class_batches(labels, n_pairs, bs, rng)
    else:
        pairs = make_pairs(labels, opts.pairs or 2 * opts.iterations * len(train), rng)
        cosine = CosineSimilarityLoss(model=None)

        def loss_of(sides, chunk):
            target = torch.tensor([c[2] for c in chunk], dtype=torch.float32, device=device)
            return cosine.compute_loss_from_embeddings(sides, target)

        def epoch_batches(epoch):
            order = rng.permutation(len(pairs)) if epoch else np.arange(len(pairs))
            return [[pairs[k] for k in order[b : b + bs]] for b in range(0, len(pairs), bs)]

        batches = epoch_batches(0)
    params = [p for p in model.body.parameters()]
    for p in params:
        p.requires_grad_(True)
    steps = opts.body_epochs * len(batches)
    opt = torch.optim.AdamW(params, lr=opts.body_lr, weight_decay=0.01)
    warm = max(1, int(0.1 * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (steps - s) / max(1, steps - warm))
    )
    n_all = sum(len(b) for b in batches)
    n_pos = sum(1 for b in batches for c in b if c[2] == 1.0)
    kind = (
        f"{n_all:,} (anchor, same-class positive) pairs, in-batch negatives of other classes"
        if opts.loss == "mnrl"
        else f"{n_all:,} sentence pairs ({n_pos:,} same class, {n_all - n_pos:,} different)"
    )
    echo(
        f"setfit: {kind} from {len(train)} examples; {steps} steps of up to {bs} pairs, "
        f"lr {opts.body_lr:g}"
    )
    model.train()
    t0, step, losses = time.perf_counter(), 0, []
    for epoch in range(opts.body_epochs):
        for chunk in batches if not epoch else epoch_batches(epoch):
            sides = []
            for side in (0, 1):
                batch = task.collate(train, [c[side] for c in chunk], pad_id)
                batch.pop("labels", None)
                with autocast:
                    sides.append(model.embed(**{k: v.to(device) for k, v in batch.items()}))
            loss = loss_of([e.float() for e in sides], chunk)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            losses.append(float(loss.detach()))
            if step % max(1, steps // 5) == 0 or step == steps:
                echo(f"setfit body step {step}/{steps}  loss {np.mean(losses[-20:]):.4f}")
    seconds = time.perf_counter() - t0
    return {
        "loss": opts.loss,
        "pairs": n_all,
        "positive_pairs": n_pos,
        "steps": step,
        "seconds": round(seconds, 2),
        "final_loss": round(float(np.mean(losses[-10:])), 5),
        "examples": 2 * n_all * opts.body_epochs,
        "bf16": bf16,
    }


def embeddings(model, task, data, pad_id: int, batch_size: int = 64) -> np.ndarray:
    """Sentence embeddings of every row of an encoded split, in row order."""
    torch = _torch()
    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.inference_mode():
        for b in range(0, len(data), batch_size):
            batch = task.collate(data, list(range(b, min(b + batch_size, len(data)))), pad_id)
            batch.pop("labels", None)
            batch = {k: v.to(device) for k, v in batch.items()}
            out.append(model.embed(**batch).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.config.hidden_size), np.float32)


def fit_head(model, x: np.ndarray, labels: np.ndarray, multi_label: bool, c: float) -> None:
    """Fit scikit-learn's LogisticRegression on ``x`` and copy it into ``model.head``: the
    head's softmax (sigmoid for multi-label) then gives the regression's probabilities."""
    torch = _torch()
    from sklearn.linear_model import LogisticRegression

    n_cls = model.head.out_features
    w = np.zeros((n_cls, x.shape[1]), np.float64)
    b = np.zeros(n_cls, np.float64)
    if multi_label:  # one-vs-rest, as setfit's multi_target_strategy="one-vs-rest"
        for k in range(n_cls):
            y = labels[:, k].astype(int)
            if y.min() == y.max():  # a label always or never present: a constant answer
                b[k] = 10.0 if y[0] else -10.0
                continue
            lr = LogisticRegression(C=c, max_iter=2000).fit(x, y)
            w[k], b[k] = lr.coef_[0], lr.intercept_[0]
    else:
        lr = LogisticRegression(C=c, max_iter=2000).fit(x, labels)
        cls = lr.classes_.astype(int)
        if len(cls) == 2:  # sigmoid(z) == softmax([0, z])
            w[cls[1]], b[cls[1]] = lr.coef_[0], lr.intercept_[0]
            b[[k for k in range(n_cls) if k not in cls]] = -1e4
        else:
            b[:] = -1e4  # a class absent from train is never predicted
            w[cls], b[cls] = lr.coef_, lr.intercept_
    with torch.no_grad():
        model.head.weight.copy_(torch.from_numpy(w).float())
        model.head.bias.copy_(torch.from_numpy(b).float())


@register
class SetFit(Method):
    name = "setfit"
    summary = (
        "few labels: contrastive training of the encoder on sentence pairs, then a "
        "logistic-regression head on its mean-pooled embeddings (SetFit)"
    )
    options = SetFitOptions
    lr_factor = 1.0
    text_classes_only = True
    needs_base = True  # the saved file holds body + head; the base gives the architecture

    def apply(self, model, opts, task, total_steps=None):
        if not getattr(task, "classifies_texts", False):
            from tunewise.errors import UserError

            raise UserError(f"method setfit: only for classification, not the {task.name} task")
        return setfit_model(model)

    def prefit(self, model, opts, task, train, pad_id: int, train_cfg, echo) -> dict:
        """The contrastive stage and the logistic head; then freeze everything unless the
        head is trained end to end by the loop. Returns what was done (metrics' method)."""
        info = contrastive_stage(model, opts, task, train, pad_id, train_cfg, echo)
        t0 = time.perf_counter()
        x = embeddings(model, task, train, pad_id)
        fit_head(model, x, np.asarray(train.labels), task.multi_label, opts.head_c)
        info["head_seconds"] = round(time.perf_counter() - t0, 2)
        for p in model.parameters():
            p.requires_grad_(opts.head == "end_to_end")
        echo(f"setfit head: logistic regression on {len(x)} embeddings ({info['head_seconds']} s)")
        return info

    def save(self, model, path: Path) -> None:
        from safetensors.torch import save_file

        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(state, str(path / WEIGHTS_FILE))
        (path / INFO_FILE).write_text(
            json.dumps({"pooling": "mean", "normalize": True, "head": "linear"}, indent=1)
        )

    def load(self, base, path, opts, task):
        from safetensors.torch import load_file

        model = setfit_model(base)
        model.load_state_dict(load_file(str(Path(path) / WEIGHTS_FILE)), strict=True)
        return model.eval()
