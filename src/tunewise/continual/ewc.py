"""Elastic weight consolidation (Kirkpatrick et al. 2017), online form (Schwarz et al. 2018):
the diagonal Fisher information of the earlier tasks anchors each weight to its value after
the earlier stage, ``lambda/2 * sum F (theta - theta*)^2``. The Fisher is the squared gradient
of the log-likelihood of the true label, over mini-batches of the earlier task's training
rows (an approximation of the per-example Fisher that costs one backward per batch), scaled
to mean 1 so that ``lambda`` means the same for every model size; it is added to the Fisher
the parent was held to and saved with the run."""

from __future__ import annotations

from pathlib import Path

import torch

DEFAULT_LAMBDA = 1.0
FISHER_ROWS = 256
"""Earlier training rows the Fisher is estimated on (seeded sample)."""


def fisher_diagonal(model, task, encoded, pad_id: int, batch_size: int = 16) -> dict:
    """The (unnormalised) diagonal Fisher of ``model``'s trainable weights on ``encoded`` rows."""
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    out = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params.items()}
    model.eval()  # no dropout: the Fisher of the model as it predicts
    n = len(encoded)
    batches = 0
    for start in range(0, n, batch_size):
        idx = list(range(start, min(start + batch_size, n)))
        batch = task.collate(encoded, idx, pad_id)
        labels = batch.pop("labels")
        model.zero_grad(set_to_none=True)
        logits = task.forward(model, batch).float()
        loss = torch.nn.functional.cross_entropy(logits, labels)
        loss.backward()
        for name, p in params.items():
            if p.grad is not None:
                out[name] += p.grad.detach().float() ** 2
        batches += 1
    model.zero_grad(set_to_none=True)
    return {k: v / max(batches, 1) for k, v in out.items()}


def normalise(fisher: dict) -> dict:
    total = sum(float(v.sum()) for v in fisher.values())
    count = sum(v.numel() for v in fisher.values())
    scale = count / total if total > 0 else 1.0
    return {k: v * scale for k, v in fisher.items()}


def combine(a: dict | None, b: dict) -> dict:
    """Online EWC: the Fisher of every earlier task, summed (shapes of ``b`` win; rows a head
    gained since ``a`` start at 0)."""
    if not a:
        return dict(b)
    out = {}
    for k, v in b.items():
        prev = a.get(k)
        if prev is not None and prev.shape == v.shape:
            out[k] = v + prev
        elif prev is not None and prev.dim() == v.dim() and prev.shape[1:] == v.shape[1:]:
            grown = v.clone()
            m = min(prev.shape[0], v.shape[0])
            grown[:m] += prev[:m]
            out[k] = grown
        else:
            out[k] = v
    return out


def save_fisher(path: Path, fisher: dict) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    # bf16, not fp16: the Fisher scaled to mean 1 has entries far above fp16's 65,504 (inf
    # there, and inf * 0 = nan in the next stage's penalty: every loss nan from step 1)
    save_file({k: v.contiguous().to(torch.bfloat16) for k, v in fisher.items()}, str(tmp))
    tmp.replace(path)


def load_fisher(path: Path) -> dict:
    from safetensors.torch import load_file

    # a Fisher saved in fp16 by an earlier version may hold inf: the largest finite value
    return {
        k: torch.nan_to_num(v.float(), nan=0.0, posinf=65504.0)
        for k, v in load_file(str(path)).items()
    }


def penalty(model, fisher: dict, anchor: dict, lam: float):
    """The EWC term as a function of no arguments (what the training loop calls): rows a head
    gained in this stage (beyond the anchor's) are free."""
    named = dict(model.named_parameters())
    pairs = []
    for k, f in fisher.items():
        p, a = named.get(k), anchor.get(k)
        if p is None or a is None or not p.requires_grad:
            continue
        m = min(a.shape[0], p.shape[0]) if a.dim() else None
        if a.dim() and a.shape[1:] != p.shape[1:]:
            continue
        pairs.append((p, f[:m].to(p.device), a[:m].to(p.device), m))

    def term():
        total = 0.0
        for p, f, a, m in pairs:
            total = total + (f * (p[:m].float() - a) ** 2).sum()
        return 0.5 * lam * total

    return term
