"""`--track tensorboard,mlflow,wandb`: what each tracker got, read back with its own reader."""

import json
from pathlib import Path

import pytest

import tunewise
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def tracked(tiny_model_dir, tmp_path_factory):
    from tests.conftest import make_rows, write_jsonl

    tmp = tmp_path_factory.mktemp("tracked")
    data = {
        s: write_jsonl(tmp / f"{s}.jsonl", make_rows(n, i))
        for i, (s, n) in enumerate((("train", 96), ("dev", 32), ("test", 32)))
    }
    cfg = tiny_config(tiny_model_dir, data, tmp / "run")
    cfg["train"].update(epochs=2, eval_every=3)
    cfg["track"] = {
        "backends": ["tensorboard", "mlflow", "wandb"],
        "mlflow_uri": f"sqlite:///{tmp / 'mlflow.db'}",
        "experiment": "tracking-test",
    }
    cfg["doctor"] = {"enabled": False}
    result = tunewise.train(cfg)
    return result


def test_tensorboard_events(tracked):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tracked.path / "tensorboard"))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    dev = acc.Scalars("dev/accuracy")
    # eval_every 3 over 12 steps: 4 evaluations, at steps 3, 6, 9, 12
    assert [e.step for e in dev] == [3, 6, 9, 12]
    log = [json.loads(x) for x in (tracked.path / "train_log.jsonl").read_text().splitlines()]
    dev_log = [r["accuracy"] for r in log if r["type"] == "eval" and r["split"] == "dev"]
    assert [e.value for e in dev] == pytest.approx(dev_log)
    assert "train/loss" in tags
    final = acc.Scalars("final/test.accuracy")[-1].value
    assert final == pytest.approx(tracked.metrics["test"]["accuracy"])
    assert "report" in acc.Tags()["tensors"] or "report/text_summary" in acc.Tags()["tensors"]


def test_mlflow_run(tracked):
    from mlflow import MlflowClient

    uri, run_id = (tracked.path / "mlflow_run.txt").read_text().split()
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["train.batch_size"] == "16"
    assert run.data.metrics["final.test.accuracy"] == pytest.approx(
        tracked.metrics["test"]["accuracy"]
    )
    hist = client.get_metric_history(run_id, "dev.accuracy")
    assert sorted(m.step for m in hist) == [3, 6, 9, 12]
    arts = {a.path for a in client.list_artifacts(run_id)}
    assert {"report", "model"} <= arts
    model_files = {a.path for a in client.list_artifacts(run_id, "model")}
    assert "model/model.safetensors" in model_files
    assert "report/report.html" in {a.path for a in client.list_artifacts(run_id, "report")}
    # artifacts beside the SQLite store, never in the working directory
    assert run.info.artifact_uri.startswith((tracked.path.parent / "mlflow-artifacts").as_uri())
    assert not Path("mlruns").exists()


def test_wandb_offline_log(tracked):
    from tests.tracking.wandb_log import records

    runs = list((tracked.path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    recs = list(records(next(runs[0].glob("run-*.wandb"))))
    config = next(r.run.config for r in recs if r.WhichOneof("record_type") == "run")
    cfg = {u.key: json.loads(u.value_json) for u in config.update}
    assert cfg["train"]["batch_size"] == 16
    history = [
        {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item}
        for r in recs
        if r.WhichOneof("record_type") == "history"
    ]
    assert [h["_step"] for h in history if "dev/accuracy" in h] == [3, 6, 9, 12]
    summary = {}
    for r in recs:
        if r.WhichOneof("record_type") == "summary":
            for u in r.summary.update:
                summary[u.key or "/".join(u.nested_key)] = json.loads(u.value_json)
    assert summary["final/test.accuracy"] == pytest.approx(tracked.metrics["test"]["accuracy"])
    arts = {r.artifact.type: r.artifact for r in recs if r.WhichOneof("record_type") == "artifact"}
    assert "model.safetensors" in {c.path for c in arts["model"].manifest.contents}
    assert "report.html" in {c.path for c in arts["report"].manifest.contents}
