"""`--engine ray`: Ray Data actors give the local engine's answers (backfill and predict)."""

from __future__ import annotations

import json

import pytest

from tests.monitor.conftest import stream, write_stream
from tunewise.apps.monitor.items import Columns
from tunewise.apps.monitor.pipeline import Monitor
from tunewise.apps.monitor.scoring import Scorer
from tunewise.apps.monitor.service import prescore_ray
from tunewise.apps.monitor.sources import read_file
from tunewise.apps.monitor.store import Store

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    from tunewise.run.engine_ray import init_ray

    init_ray(num_cpus=2)
    yield
    ray.shutdown()


def test_backfill_and_predict_with_ray_match_the_local_engine(
    local_ray, tiny_run, tmp_path, capsys
):
    path = write_stream(tmp_path / "s.jsonl", stream(days=2, per_day=10, burst=None))
    cols = Columns("text", "time", "id", "ticker", require_time=True)
    out = {}
    for engine in ("local", "ray"):
        scorer = Scorer(tiny_run, batch_size=16)
        mon = Monitor(Store(str(tmp_path / f"{engine}.db")), scorer, 86400, cols=cols)
        events = read_file(path)
        if engine == "ray":
            events = prescore_ray(mon, events)
            assert len(scorer.cache) == 60  # every text answered by the actors
            scorer.predictor = None  # the loop must not need the local predictor
        for ev in events:
            mon.add(ev, "s", None)
        mon.finish()
        out[engine] = mon.store.all("SELECT item_id, label, p_neg FROM scores ORDER BY item_id")
    assert len(out["ray"]) == 60
    for a, b in zip(out["local"], out["ray"]):
        assert a[0] == b[0] and a[1] == b[1] and abs(a[2] - b[2]) < 1e-5

    from tunewise.cli.main import main

    rows = tmp_path / "in.jsonl"
    rows.write_text(
        "".join(json.dumps({"text": t}) + "\n" for t in ["good fun", "awful dull"] * 20)
    )
    for engine in ("local", "ray"):
        main(
            [
                "predict",
                str(tiny_run),
                "-i",
                str(rows),
                "-o",
                str(tmp_path / f"{engine}.jsonl"),
                "--engine",
                engine,
            ]
        )
    local = (tmp_path / "local.jsonl").read_text().splitlines()
    remote = (tmp_path / "ray.jsonl").read_text().splitlines()
    assert len(local) == len(remote) == 40
    for a, b in zip(map(json.loads, local), map(json.loads, remote)):
        assert a["text"] == b["text"] and a["label"] == b["label"]
