"""The table behind `tunewise methods`: each method applied to one model, parameters counted."""

from __future__ import annotations

import copy


def method_table(model_name: str, num_labels: int = 2) -> list[tuple]:
    """Rows (name, trainable, percent, default lr, mergeable, options section, summary)."""
    from transformers import AutoModelForSequenceClassification

    from tunewise.methods.api import apply_method, default_lr, trainable_summary
    from tunewise.methods.base import all_methods
    from tunewise.models.loading import load_pretrained
    from tunewise.models.registry import recommended_lr
    from tunewise.tasks import ClassificationTask

    task = ClassificationTask([f"class{i}" for i in range(num_labels)])
    _, base = load_pretrained(
        model_name, AutoModelForSequenceClassification.from_pretrained, **task.model_kwargs()
    )
    model_lr = recommended_lr(model_name)
    rows = []
    for name, method in all_methods().items():
        has_options = bool(method.options.model_fields)
        if not method.trains_model:  # icl: scores with the pretrained model, trains nothing
            rows.append((name, "0", "0.000", "-", "no", f"method.{method.key}", method.summary))
            continue
        m = apply_method(copy.deepcopy(base), name, task, total_steps=1000)
        s = trainable_summary(m)
        rows.append(
            (
                name,
                f"{s['trainable']:,}",
                f"{s['percent']:.3f}",
                f"{default_lr(name, model_lr):g}",
                "yes" if method.mergeable else "no",
                f"method.{method.key}" if has_options else "-",
                method.summary,
            )
        )
    return rows
