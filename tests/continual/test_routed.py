"""A lora-per-task run used as one model: tunewise.load, predict and serve send each input to
its task's adapter (the router's pick, or the task the caller names)."""

from __future__ import annotations

import json

import pytest

import tunewise
from tests.conftest import make_rows
from tests.continual.conftest import make_b
from tunewise.cli.main import main


def _texts():
    a = make_rows(30, 101)  # task A: sentiment words
    b = make_b(30, 102)  # task B: "story" / "cast"
    return a, b


def test_load_routes_each_input_to_its_tasks_adapter(continued):
    pred = tunewise.load(continued["lora-per-task"])
    assert pred.tasks == ["a", "b"]
    a, b = _texts()
    got = pred.predict([r["text"] for r in a + b])
    routed = [r["task"] for r in got]
    # tasks A and B use disjoint words: the router sends nearly all to the right adapter
    assert sum(t == "a" for t in routed[:30]) >= 27 and sum(t == "b" for t in routed[30:]) >= 27
    for r in got:
        assert r["task_routed"] is True
        own = {"a": {"neg", "pos"}, "b": {"people", "plot"}}[r["task"]]
        assert r["label"] in own and set(r["scores"]) == own  # only its task's labels compete
    # each routed answer is the task's own expert's answer
    expert_a = tunewise.load(continued["lora-per-task"]).experts[0]
    plain = expert_a.predict([r["text"] for r in a])
    for p, r in zip(plain, got[:30]):
        if r["task"] == "a":
            assert p["label"] == r["label"]
    right = [r["label"] == x["label"] for r, x in zip(got, a + b)]
    assert sum(right) / len(right) > 0.8


def test_task_given_overrides_the_router(continued):
    pred = tunewise.load(continued["lora-per-task"]).given("b")
    got = pred.predict([r["text"] for r in make_rows(10, 103)])
    assert {r["task"] for r in got} == {"b"} and not any(r["task_routed"] for r in got)
    assert {r["label"] for r in got} <= {"people", "plot"}


def test_predict_cli_for_task_and_bad_task(continued, tmp_path, capsys, two_tasks):
    run = str(continued["lora-per-task"])
    out = tmp_path / "p.jsonl"
    main(["predict", run, "--input", str(two_tasks["a"]["test"]), "--output", str(out)])
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 60 and sum(r["task"] == "a" for r in rows) >= 54
    main(
        ["predict", run, "--input", str(two_tasks["a"]["test"]), "--for-task", "b", "-o", str(out)]
    )
    assert {json.loads(x)["task"] for x in out.read_text().splitlines()} == {"b"}
    with pytest.raises(SystemExit) as e:
        main(["predict", run, "--input", str(two_tasks["a"]["test"]), "--for-task", "zzz"])
    assert e.value.code == 2 and "--for-task 'zzz'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(
            [
                "predict",
                str(continued["naive"]),
                "--input",
                str(two_tasks["a"]["test"]),
                "--for-task",
                "a",
            ]
        )
    assert e.value.code == 2 and "not a lora-per-task run" in capsys.readouterr().err


def test_evaluate_cli_on_a_routed_run(continued, two_tasks, tmp_path):
    out = tmp_path / "e.json"
    main(
        [
            "evaluate",
            str(continued["lora-per-task"]),
            "--data",
            str(two_tasks["b"]["test"]),
            "--output",
            str(out),
        ]
    )
    m = json.loads(out.read_text())
    assert m["n"] == 60 and m["routed_to"]["b"] > 0.9 and m["accuracy"] > 0.8


def test_served_routed_run_answers_with_the_task(continued):
    import tunewise.continual  # noqa: F401  (registers the routed loader, as `tunewise serve` does)
    from tests.serve.conftest import running
    from tunewise.serve import ServeSettings, create_app, load_served

    served = load_served(str(continued["lora-per-task"]))
    assert served.kind == "classification"
    a, b = _texts()
    with running(create_app([served], ServeSettings(max_wait_ms=2))) as (client, _):
        status, _, body = client.post("/v1/classify", {"texts": [a[0]["text"], b[0]["text"]]})
    assert status == 200, body
    got = body["results"]
    assert [r["task"] for r in got] == ["a", "b"] and all(r["task_routed"] for r in got)
