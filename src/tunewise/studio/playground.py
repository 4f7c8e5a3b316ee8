"""The playground: a run's predictor answers typed text; an sft run streams its answer.

Predictors come from the public API (``tunewise.run.api.load``) and stay loaded (a few at a
time) so a second question is answered at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from tunewise.run.api import load
from tunewise.rundir import read_meta
from tunewise.tasks import get_task

KEEP = 4
"""Predictors kept loaded (least recently used goes first)."""


class Predictors:
    """A small cache of loaded predictors, one load per run at a time."""

    def __init__(self, keep: int = KEEP):
        self.keep = keep
        self._cache: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str | Path):
        key = str(Path(path).resolve())
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            predictor = load(key)
            self._cache[key] = predictor
            while len(self._cache) > self.keep:
                self._cache.popitem(last=False)
            return predictor


def generates(path: str | Path) -> bool:
    """Whether the run's task answers by generating text (chat, streamed)."""
    task = get_task(read_meta(Path(path) / "model").task)
    return bool(task.route is not None and task.route.generation)


def predict(predictors: Predictors, path: str | Path, text: str) -> dict:
    """The run's answer for one text: its predictor's own output (scores, entities with their
    offsets, a number), plus how to get the same from the CLI."""
    out = predictors.get(path).predict([text])[0]
    return {"result": out, "command": f"tunewise predict {path} --input FILE --output preds.jsonl"}


def stream_chat(
    predictors: Predictors, path: str | Path, messages: list[dict], max_new_tokens: int
):
    """Text chunks of an sft run's answer as its tokens are generated."""
    yield from predictors.get(path).stream(messages, max_new_tokens=max_new_tokens)
