"""Extending a classifier head to a larger label map: the old rows are kept, each new row
starts from the mean of the old rows (so a new class starts as an average of what the model
knows, not at random), and the model's config names every label."""

from __future__ import annotations

import torch


def head_linear(model, n_labels: int) -> tuple[torch.nn.Module, str, torch.nn.Linear]:
    """(parent module, attribute, the output Linear) of a ...ForSequenceClassification head:
    ``classifier`` (BERT), ``classifier.out_proj`` (RoBERTa) or ``score`` (decoders)."""
    for name in ("classifier", "score"):
        mod = getattr(model, name, None)
        if isinstance(mod, torch.nn.Linear) and mod.out_features == n_labels:
            return model, name, mod
        if mod is not None:
            for attr in ("out_proj", "dense_out", "output"):
                sub = getattr(mod, attr, None)
                if isinstance(sub, torch.nn.Linear) and sub.out_features == n_labels:
                    return mod, attr, sub
    raise RuntimeError(f"no classification head with {n_labels} outputs on {type(model).__name__}")


def extend_head(model, old_labels: list[str], new_labels: list[str]) -> list[int]:
    """Grow the head of ``model`` (trained on ``old_labels``) to ``new_labels``, which start
    with ``old_labels`` in their order. Returns the ids of the rows that were added."""
    if list(new_labels[: len(old_labels)]) != list(old_labels):
        raise ValueError("the new label map must start with the old one, in its order")
    added = list(range(len(old_labels), len(new_labels)))
    parent, attr, old = head_linear(model, len(old_labels))
    if added:
        new = torch.nn.Linear(old.in_features, len(new_labels), bias=old.bias is not None)
        new = new.to(dtype=old.weight.dtype, device=old.weight.device)
        with torch.no_grad():
            new.weight[: len(old_labels)] = old.weight
            new.weight[len(old_labels) :] = old.weight.mean(dim=0, keepdim=True)
            if old.bias is not None:
                new.bias[: len(old_labels)] = old.bias
                new.bias[len(old_labels) :] = old.bias.mean()
        setattr(parent, attr, new)
    model.config.num_labels = len(new_labels)
    model.config.id2label = dict(enumerate(new_labels))
    model.config.label2id = {label: i for i, label in enumerate(new_labels)}
    if hasattr(model, "num_labels"):
        model.num_labels = len(new_labels)
    return added
