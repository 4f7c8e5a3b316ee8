"""Weights & Biases in offline mode: files in ``RUN/wandb/`` (``wandb sync RUN/wandb/offline-run-*``).

Offline always: nothing leaves the machine; syncing later is the user's choice.
"""

from __future__ import annotations

import os
from pathlib import Path

from tunewise.tracking import Tracker, numeric


class Backend(Tracker):
    def __init__(self, track, run_path: Path, config: dict):
        os.environ["WANDB_MODE"] = "offline"
        os.environ.setdefault("WANDB_SILENT", "true")
        import wandb

        self.wandb = wandb
        self.run = wandb.init(
            mode="offline",
            dir=str(run_path),
            project=track.experiment,
            name=run_path.name,
            config=config,
            settings=wandb.Settings(console="off", x_disable_stats=True, silent=True),
            reinit="create_new",
        )

    def step(self, rec: dict) -> None:
        self.run.log(numeric(rec), step=int(rec.get("step", 0)))

    def final(self, metrics: dict, report: list[Path], model: Path | None) -> None:
        self.run.summary.update(
            {
                f"final/{k}": v
                for k, v in metrics.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            }
        )
        if report:
            art = self.wandb.Artifact(f"report-{self.run.id}", type="report")
            for p in report:
                art.add_file(str(p), policy="immutable")
            self.run.log_artifact(art)
        if model is not None and model.is_dir():
            art = self.wandb.Artifact(f"model-{self.run.id}", type="model")
            art.add_dir(str(model), policy="immutable")
            self.run.log_artifact(art)

    def close(self, status: str) -> None:
        self.run.finish(exit_code=0 if status == "completed" else 1)
