"""`tunewise methods`: every fine-tuning method, with what it trains on a given model."""

from __future__ import annotations

from typing import Annotated

import typer


def methods(
    model: Annotated[
        str, typer.Option(help="Model to count trainable parameters on (name, dir or hub id)")
    ] = "minilm",
    num_labels: Annotated[int, typer.Option(help="Classes of the classification head")] = 2,
) -> None:
    """List the fine-tuning methods: trainable parameters on MODEL, default learning rate,
    whether `export --merge` can fold them into plain weights, and their options section."""
    from tunewise.run.method_table import method_table

    rows = method_table(model, num_labels)
    head = ("method", "trainable", "%", "lr", "merge", "options", "what")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head) - 1)]
    for r in [head, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(r, widths)]
        print("  ".join([*cells, str(r[-1])]))
    print(
        f"\ntrainable parameters are counted on {model} with a {num_labels}-class head; lr is the "
        "default peak learning rate (train.lr overrides it).\nUse: tunewise train --method lora "
        "--lora.r 16 ...   (options: --<section>.<option> VALUE; defaults in README)"
    )
