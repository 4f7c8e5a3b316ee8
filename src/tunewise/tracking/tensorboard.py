"""TensorBoard: event files in ``RUN/tensorboard/`` (``tensorboard --logdir RUN/tensorboard``)."""

from __future__ import annotations

import json
from pathlib import Path

from tunewise.tracking import Tracker, numeric


class Backend(Tracker):
    def __init__(self, track, run_path: Path, config: dict):
        from torch.utils.tensorboard import SummaryWriter

        self.dir = run_path / "tensorboard"
        self.writer = SummaryWriter(log_dir=str(self.dir))
        self.last_step = 0

    def params(self, params: dict) -> None:
        # the config as text (TensorBoard's HParams plugin wants a metric set up front)
        self.writer.add_text("config", "```\n" + json.dumps(params, indent=1) + "\n```", 0)

    def step(self, rec: dict) -> None:
        self.last_step = max(self.last_step, int(rec.get("step", 0)))
        for tag, v in numeric(rec).items():
            self.writer.add_scalar(tag, v, int(rec.get("step", 0)))

    def final(self, metrics: dict, report: list[Path], model: Path | None) -> None:
        for k, v in metrics.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                self.writer.add_scalar(f"final/{k}", float(v), self.last_step)
        md = [p for p in report if p.suffix == ".md"]
        if md:
            self.writer.add_text("report", md[0].read_text(encoding="utf-8"), self.last_step)
        if model is not None:
            self.writer.add_text("model", str(model), self.last_step)
        self.writer.flush()

    def close(self, status: str) -> None:
        self.writer.add_text("status", status, self.last_step)
        self.writer.close()
