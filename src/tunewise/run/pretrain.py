"""``tunewise pretrain``: continued pretraining (or pretraining from scratch) as a run of the
``pretrain`` task, through the one runner (run directory, checkpoints, resume, registry, report).

From scratch, a tokenizer and a randomly initialised encoder are built first (in the tunewise
cache, see :mod:`tunewise.tasks.pretrain.scratch`) and the run starts from them; once the run
completes, its model is listed by ``tunewise models`` under the run directory's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tunewise.errors import UserError

SCRATCH_LR = 5e-4
"""Peak learning rate from scratch (a random small encoder wants more than fine-tuning's)."""


@dataclass
class Scratch:
    """How to build the encoder a from-scratch run starts from."""

    size: str = "tiny"
    vocab_size: int = 8000
    tokenizer: str = "train"
    """train: a WordPiece tokenizer trained on the text; model: the --model's tokenizer."""


def scratch_model(cfg, scratch: Scratch, echo) -> str:
    """Build (or reuse) the from-scratch starting point of ``cfg``; returns its directory."""
    from tunewise.models.gguf_cache import cache_root
    from tunewise.models.registry import resolve_model
    from tunewise.tasks.pretrain.scratch import build_scratch
    from tunewise.tasks.pretrain.task import PretrainTask

    if scratch.tokenizer not in ("train", "model"):
        raise UserError(f"--tokenizer {scratch.tokenizer!r}: use train or model")
    if (cfg.task.options or {}).get("objective", "mlm") != "mlm":
        raise UserError("--from-scratch builds a BERT-style encoder: use --objective mlm")
    data = PretrainTask.read_data(cfg)  # the held-out share is in it too: a tokenizer is no leak
    tok_from = None if scratch.tokenizer == "train" else resolve_model(cfg.model.name).path
    path = build_scratch(
        [d.text for d in data.train],
        size=scratch.size,
        vocab_size=scratch.vocab_size,
        max_length=cfg.model.max_length,
        seed=cfg.train.seed,
        root=cache_root() / "scratch",
        tokenizer_from=tok_from,
        echo=echo,
    )
    return str(path)


def pretrain(cfg, *, scratch: Scratch | None = None, overwrite=False, resume=None, echo=None):
    """Run the pretrain task as ``cfg`` says (``cfg.task.type`` is set to pretrain).

    Returns:
        the :class:`tunewise.run.result.RunResult` of the run.
    """
    from tunewise.run.runner import train

    echo = echo or (lambda line: None)
    if resume is not None:
        return train(resume=resume, echo=echo)
    cfg.task.type = "pretrain"
    if scratch is not None:
        cfg.model.name = scratch_model(cfg, scratch, echo)
        if cfg.train.lr is None:
            cfg.train.lr = SCRATCH_LR
    result = train(cfg, overwrite=overwrite, echo=echo)
    if scratch is not None and result.main:
        from tunewise.models.built import register_built

        p = result.metrics.get("perplexity", {})
        register_built(
            Path(result.path).name,
            Path(result.path) / "model",
            f"BERT-style encoder from scratch, size {scratch.size}, built on {cfg.data.train} "
            f"(held-out perplexity {p.get('after', float('nan')):.1f})",
        )
    return result
