"""MLflow: params, metrics per step, final metrics, report and model as artifacts.

The tracking URI is ``track.mlflow_uri``, else ``$MLFLOW_TRACKING_URI``, else a SQLite store
beside the run registry (``~/.tunewise/mlflow.db``, artifacts in ``~/.tunewise/mlflow-artifacts``):
``mlflow ui --backend-store-uri sqlite:///$HOME/.tunewise/mlflow.db`` shows every run.
"""

from __future__ import annotations

import os
from pathlib import Path

from tunewise.tracking import Tracker, numeric


def default_uri() -> tuple[str, Path]:
    """(tracking URI, artifact root) of the store beside the run registry."""
    from tunewise.registry import default_path

    reg = default_path() or Path.home() / ".tunewise" / "runs.db"
    return (
        f"sqlite:///{reg.parent.resolve() / 'mlflow.db'}",
        reg.parent.resolve() / "mlflow-artifacts",
    )


class Backend(Tracker):
    def __init__(self, track, run_path: Path, config: dict):
        from mlflow import MlflowClient

        uri = track.mlflow_uri or os.environ.get("MLFLOW_TRACKING_URI")
        artifacts = None
        if not uri:
            uri, artifacts = default_uri()
        elif uri.startswith("sqlite:///"):
            # MLflow's own default would be ./mlruns in whatever directory training started
            artifacts = Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlflow-artifacts"
        if artifacts is not None:
            artifacts.mkdir(parents=True, exist_ok=True)
        self.client = MlflowClient(tracking_uri=uri)
        self.uri = uri
        exp = self.client.get_experiment_by_name(track.experiment)
        if exp is None:
            location = (artifacts / track.experiment).as_uri() if artifacts else None
            try:
                exp_id = self.client.create_experiment(track.experiment, artifact_location=location)
            except Exception:  # created by a concurrent run meanwhile
                exp_id = self.client.get_experiment_by_name(track.experiment).experiment_id
        else:
            exp_id = exp.experiment_id
        self.run_id = self.client.create_run(
            exp_id, run_name=run_path.name, tags={"tunewise.run_dir": str(run_path.resolve())}
        ).info.run_id
        (run_path / "mlflow_run.txt").write_text(f"{uri}\n{self.run_id}\n")

    def params(self, params: dict) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[i : i + 100])

    def step(self, rec: dict) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        step = int(rec.get("step", 0))
        ms = [Metric(k.replace("/", "."), v, now, step) for k, v in numeric(rec).items()]
        if ms:
            self.client.log_batch(self.run_id, metrics=ms)

    def final(self, metrics: dict, report: list[Path], model: Path | None) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        ms = [
            Metric(f"final.{k}", float(v), now, 0)
            for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        if ms:
            self.client.log_batch(self.run_id, metrics=ms)
        for p in report:
            self.client.log_artifact(self.run_id, str(p), "report")
        if model is not None and model.is_dir():
            self.client.log_artifacts(self.run_id, str(model), "model")

    def close(self, status: str) -> None:
        self.client.set_terminated(
            self.run_id, {"completed": "FINISHED", "failed": "FAILED"}.get(status, "KILLED")
        )
