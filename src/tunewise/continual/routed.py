"""A lora-per-task run used as one model: ``tunewise.load``, ``predict`` and ``serve`` send each
input to the adapter of its task. The task is the router's pick (``RUN/continual/router.json``,
a classifier on the base model's embeddings) unless the caller names it; either way only that
task's labels compete, and every answer says which task answered and whether it was routed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tunewise.continual.lineage import ROUTER_FILE, continual_dir, stage_record
from tunewise.errors import UserError


def routed_loader(path, **kw):
    """``tunewise.run.api`` loader hook: a RoutedPredictor for a lora-per-task stage (its
    ``stage.json`` lists the experts and a router was saved), else None."""
    run = Path(path)  # a run directory (its model/ directory alone has no experts)
    rec = stage_record(run)
    if not rec or not rec.get("experts") or not (continual_dir(run) / ROUTER_FILE).is_file():
        return None
    return RoutedPredictor(run, rec, **kw)


class RoutedPredictor:
    """The predictor protocol (``tunewise.tasks.base.Predictor``) over one expert per task."""

    def __init__(self, run: Path, record: dict, task_name: str | None = None, **kw):
        from tunewise.continual.router import Router
        from tunewise.run.api import load

        self.router = Router.load(continual_dir(run) / ROUTER_FILE)
        self.tasks = [e["task"] for e in record["experts"]]
        labels_of = {e["task"]: e["labels"] for e in record["lineage"]}
        self.task_labels = [list(labels_of[t]) for t in self.tasks]
        cache: dict = {}
        self.experts = []
        for e in record["experts"]:
            if e["run"] not in cache:
                cache[e["run"]] = load(e["run"], _plain=True, **kw)
            self.experts.append(cache[e["run"]])
        own = self.experts[-1]  # this run's own model: its task, tokenizer and data settings
        self.task, self.run, self.model_dir = own.task, own.run, own.model_dir
        self.labels = sorted({label for ls in self.task_labels for label in ls})
        self.temperature = 1.0
        self.task_name = None
        self.given(task_name)

    def given(self, task_name: str | None) -> RoutedPredictor:
        """Answer every input with ``task_name``'s adapter (None: the router picks)."""
        if task_name is not None and task_name not in self.tasks:
            raise UserError(
                f"--for-task {task_name!r}: this run's tasks are {', '.join(self.tasks)}"
            )
        self.task_name = task_name
        return self

    def route(self, texts: list[str]) -> np.ndarray:
        if self.task_name is not None:
            return np.full(len(texts), self.tasks.index(self.task_name), dtype=np.int64)
        return self.router.route(list(texts))

    def _answer(self, examples: list) -> list[dict]:
        route = self.route([x.text for x in examples])
        out: list = [None] * len(examples)
        for k in sorted(set(route.tolist())):
            rows = [i for i, r in enumerate(route) if r == k]
            expert = self.experts[k]
            logits = expert.logits([examples[i] for i in rows])
            allowed = set(self.task_labels[k])
            mask = np.array([label not in allowed for label in expert.labels])
            logits[:, mask] = -np.inf  # only this task's labels compete
            for i, r in zip(rows, expert.decode(logits)):
                r["scores"] = {k2: v for k2, v in r["scores"].items() if k2 in allowed}
                out[i] = {**r, "task": self.tasks[k], "task_routed": self.task_name is None}
        return out

    # -- the predictor protocol ---------------------------------------------------------------
    def predict(self, texts, pairs=None) -> list[dict]:
        from tunewise.data import Example

        texts = [texts] if isinstance(texts, str) else list(texts)
        return self._answer(
            [Example(t, None, pairs[i] if pairs else None) for i, t in enumerate(texts)]
        )

    def logits(self, examples: list) -> np.ndarray:
        """Log-probabilities over ``self.labels``, each row from the adapter its route picks
        (its task's labels; -30 for every other label): what a scorer of logits reads."""
        got = self._answer(examples) if examples else []
        col = {label: j for j, label in enumerate(self.labels)}
        logp = np.full((len(examples), len(self.labels)), -30.0, dtype=np.float32)
        for i, r in enumerate(got):
            for label, p in r["scores"].items():
                logp[i, col[label]] = np.log(max(p, 1e-12))
        return logp

    def read_inputs(self, path: Path, require_label: bool = False) -> list:
        return self.experts[-1].read_inputs(path, require_label)

    def predict_rows(self, examples: list) -> list[dict]:
        return [
            {"text": e.text, **r}
            for e, r in zip(examples, self._answer(examples) if examples else [])
        ]

    def predict_batch(self, items: list) -> list:
        from tunewise.data import Example

        return self._answer([Example(t, None, p) for t, p in items]) if items else []

    def evaluate_file(self, path: Path) -> dict:
        """The standard classification metrics (with intervals) over the file, every row
        answered by the adapter its route picks; plus the share of rows sent to each task."""
        from tunewise.data import check_labels
        from tunewise.evaluation.honest import add_intervals

        exs = self.read_inputs(path, require_label=True)
        check_labels(exs, self.labels, path)
        got = self._answer(exs)
        logp = self.logits(exs)
        task = type(self.task)(self.labels)
        y = task.encode_labels(exs)
        metrics = task.metrics(logp, y, 0.5)
        add_intervals(metrics, task, y, logp, 0.5)
        metrics["routed_to"] = {
            t: float(np.mean([r["task"] == t for r in got])) for t in self.tasks
        }
        return {"test": metrics}
