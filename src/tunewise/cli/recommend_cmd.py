"""`tunewise recommend fit|eval|predict`: text-based recommendation (``apps/recommend``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option
app = typer.Typer(
    no_args_is_help=True,
    help="Text-based recommendation: a two-tower model over item texts, honest baselines.",
)


@app.command("fit")
def fit(
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="Dotted overrides, e.g. train.threads=1", show_default=False),
    ] = None,
    interactions: Annotated[
        Path | None, Opt(help="Interactions file (user, item, time ...)")
    ] = None,
    items: Annotated[Path | None, Opt(help="Items file (item id and text columns)")] = None,
    out: Annotated[Path | None, Opt(help="Run directory to write")] = None,
    user_column: Annotated[str, Opt(help="Column with the user id")] = "user_id",
    item_column: Annotated[str, Opt(help="Column with the item id (both files)")] = "item_id",
    time_column: Annotated[str, Opt(help="Column with the time ('' for file order)")] = "timestamp",
    rating_column: Annotated[
        str, Opt(help="Explicit ratings (absent from the file: implicit events)")
    ] = "rating",
    min_rating: Annotated[float, Opt(help="Ratings at or above this are liked")] = 4.0,
    item_text: Annotated[
        str, Opt(help="Item text template over item columns, e.g. '{title}. {genres}'")
    ] = "{title}",
    title_column: Annotated[str | None, Opt(help="Column with the item title [title]")] = None,
    review_column: Annotated[
        str | None, Opt(help="Interactions column with the user's review text")
    ] = None,
    holdout: Annotated[int, Opt(help="Last liked items per user held out (by time)")] = 5,
    cold_share: Annotated[
        float, Opt(help="Share of the items, the latest to appear, held out cold (0: none)")
    ] = 0.1,
    history_items: Annotated[int, Opt(help="Latest liked items in the user tower")] = 5,
    pairs_per_user: Annotated[int, Opt(help="Training pairs per user (latest)")] = 10,
    model: Annotated[str, Opt(help="Packaged name, local dir or hub id")] = "minilm",
    epochs: Annotated[float, Opt(help="Training epochs")] = 1.0,
    max_length: Annotated[int, Opt(help="Longest user/item text in tokens")] = 128,
    rerank: Annotated[bool, Opt(help="Fine-tune a cross-encoder reranker too")] = False,
    rerank_pairs: Annotated[
        int | None, Opt(help="Training pairs of the reranker, a seeded draw [all]")
    ] = None,
    overwrite: Annotated[bool, Opt(help="Replace an existing run at --out")] = False,
) -> None:
    """Read and check the data, split it by time (and cold-start items), train and evaluate."""
    from tunewise.apps.recommend import fit as run_fit
    from tunewise.errors import UserError

    if interactions is None or items is None or out is None:
        raise UserError("recommend fit needs --interactions FILE --items FILE --out DIR")
    run_fit(
        interactions,
        items,
        out,
        user_column=user_column,
        item_column=item_column,
        time_column=time_column or None,
        rating_column=rating_column or None,
        min_rating=min_rating,
        item_text=item_text,
        title_column=title_column,
        review_column=review_column,
        holdout=holdout,
        cold_share=cold_share,
        history_items=history_items,
        pairs_per_user=pairs_per_user,
        model=model,
        epochs=epochs,
        max_length=max_length,
        rerank=rerank,
        rerank_pairs=rerank_pairs,
        overrides=overrides,
        overwrite=overwrite,
        echo=print,
    )
    print(f"run: {out}  (next: tunewise recommend eval {out})")


@app.command("eval")
def evaluate(run: Annotated[Path, typer.Argument(help="A recommend run directory")]) -> None:
    """Every system on warm and cold-start items, same users, with intervals."""
    from rich.console import Console

    from tunewise.apps.recommend import evaluation

    evaluation(run, Console(width=140))


@app.command("predict")
def predict(
    run: Annotated[Path, typer.Argument(help="A recommend run directory")],
    user: Annotated[str | None, Opt(help="A user id of the run's data")] = None,
    history: Annotated[
        list[str] | None, Opt(help="A new user's liked item text (repeat the option)")
    ] = None,
    k: Annotated[int, Opt(help="How many items")] = 10,
) -> None:
    """The top-k items, one per line, each with the history item it is closest to."""
    from tunewise.apps.recommend import recommend
    from tunewise.apps.recommend.use import format_item

    for n, item in enumerate(recommend(run, user=user, history=history, k=k), 1):
        print(format_item(n, item))
