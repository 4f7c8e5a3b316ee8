"""Learning from few labels: K-shot draws, learning curves across methods, what to label next."""

from __future__ import annotations


def uses_fewshot(cfg) -> bool:
    """Whether a config is a few-shot run (``--shots``) or in-context learning (``--method
    icl``), which this package runs instead of the plain runner."""
    return cfg.fewshot.shots is not None or cfg.method.name == "icl"


def train_fewshot(cfg, *, overwrite: bool = False, echo=None):
    """Train ``cfg`` as its few-shot settings say: K-shot draws (any method), or in-context
    learning (zero-shot when no shots are given). Returns the RunResult of ``cfg.out``."""
    from tunewise.fewshot.draws import train_draws

    if cfg.method.name == "icl":
        from tunewise.fewshot.icl import run_icl

        if cfg.fewshot.shots is None:
            return run_icl(cfg, overwrite=overwrite, echo=echo)
        return train_draws(
            cfg, overwrite, echo, run_draw=lambda sub: run_icl(sub, echo=echo, demonstrations=True)
        )
    return train_draws(cfg, overwrite, echo)


def train(config=None, *, resume=None, overwrite: bool = False, echo=None, **kw):
    """``tunewise.train``: the runner, or the few-shot path when the config asks for it."""
    from tunewise.run.runner import _as_config
    from tunewise.run.runner import train as run_train

    if resume is None and config is not None:
        cfg = _as_config(config)
        if uses_fewshot(cfg):
            return train_fewshot(cfg, overwrite=overwrite, echo=echo)
        config = cfg
    return run_train(config, resume=resume, overwrite=overwrite, echo=echo, **kw)
