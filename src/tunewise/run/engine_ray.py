"""Predictions with Ray Data (``--engine ray``): a local Ray instance (or the cluster in
``RAY_ADDRESS``), one predictor per actor, rows in order.

The predictor is the run's own (``tunewise.load``), so the answers are the ones the local
engine gives; Ray only spreads the batches over actors.
"""

from __future__ import annotations

import logging
import os

from tunewise.errors import UserError


def init_ray(num_cpus: int | None = None):
    """Start (or join) Ray quietly; a missing install is a user error naming the pin."""
    try:
        import ray
    except ImportError:
        raise UserError(
            "--engine ray needs Ray: pip install 'ray[data]==2.60.0' (or use --engine local)"
        ) from None
    if not ray.is_initialized():
        kw = {} if os.environ.get("RAY_ADDRESS") else {"num_cpus": num_cpus or os.cpu_count()}
        ray.init(
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=True,
            logging_level=logging.WARNING,
            **kw,
        )
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    return ray


class _Answer:
    """A Ray actor: one predictor, answering chunks of the shared example list."""

    def __init__(self, run: str, examples_ref, fn: str, batch_size: int):
        import ray

        from tunewise.run.api import load

        self.pred = load(run, batch_size=batch_size)
        self.examples = ray.get(examples_ref)
        self.fn = fn

    def __call__(self, batch):
        import json

        out = []
        for lo, hi in zip(batch["lo"], batch["hi"]):
            part = self.examples[int(lo) : int(hi)]
            got = getattr(self.pred, self.fn)(part)
            out.append(json.dumps(got, ensure_ascii=False))
        return {"lo": batch["lo"], "answers": out}


def predict_ray(
    run,
    examples: list,
    fn: str = "predict_rows",
    chunk: int = 256,
    actors: int | None = None,
    batch_size: int = 64,
) -> list:
    """``predictor.<fn>(examples)`` computed by Ray actors, in input order."""
    import json

    if not examples:
        return []
    ray = init_ray()  # imports ray.data too
    ref = ray.put(examples)
    spans = [{"lo": i, "hi": min(i + chunk, len(examples))} for i in range(0, len(examples), chunk)]
    n = actors or max(1, min(len(spans), int(ray.available_resources().get("CPU", 1))))
    ds = ray.data.from_items(spans).map_batches(
        _Answer,
        fn_constructor_args=(str(run), ref, fn, batch_size),
        batch_size=1,
        concurrency=n,
        num_cpus=1,
    )
    rows = sorted(ds.take_all(), key=lambda r: int(r["lo"]))
    out: list = []
    for r in rows:
        out += json.loads(r["answers"])
    if len(out) != len(examples):
        raise RuntimeError(f"ray returned {len(out)} answers for {len(examples)} rows")
    return out
