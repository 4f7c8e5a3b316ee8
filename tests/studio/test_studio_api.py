"""The studio's JSON API on a real server: runs, a run, its live curve, errors, the token."""

from __future__ import annotations

import json

import pytest

from tests.studio.conftest import form, registry_env, studio_server, train_tiny
from tunewise.cli.main import main
from tunewise.errors import UserError
from tunewise.studio.auth import check_bind


@pytest.fixture(scope="module")
def studio_runs(tiny_model_dir, tiny_files, tmp_path_factory):
    """A registry holding two finished tiny runs on the same test rows."""
    tmp = tmp_path_factory.mktemp("studio-api")
    with registry_env(tmp / "runs.db") as reg:
        a = train_tiny(tiny_model_dir, tiny_files, tmp / "run-a")
        b = train_tiny(tiny_model_dir, tiny_files, tmp / "run-b", seed=8, epochs=3)
    return reg, tmp / "work", a, b


def test_runs_run_and_curve(studio_runs):
    reg, work, a, b = studio_runs
    with studio_server(reg, work) as (client, _):
        status, _, body = client.get("/api/runs?sort=name&order=asc")
        assert status == 200
        names = [r["name"] for r in body["runs"]]
        assert names == ["run-a", "run-b"]
        head = body["runs"][0]["headline"]
        metrics = json.loads((a / "metrics.json").read_text())
        assert head["value"] == metrics["test"]["accuracy"]
        assert head["ci"] == metrics["test"]["ci"]["accuracy"]
        assert set(head["baselines"]) == set(metrics["baselines"])
        status, _, body = client.get("/api/runs?q=run-b")
        assert [r["name"] for r in body["runs"]] == ["run-b"]
        rid = next(r["id"] for r in client.get("/api/runs")[2]["runs"] if r["name"] == "run-a")

        status, _, run = client.get(f"/api/runs/{rid}")
        assert status == 200 and run["status"] == "completed"
        assert run["findings"] and "model:" in run["config"]
        assert run["report"] is True

        # the curve: every record of train_log.jsonl once, then the end event
        status, headers, data = client.get(f"/api/runs/{rid}/curve", raw=True)
        assert headers["content-type"].startswith("text/event-stream")
        sent = [json.loads(x[6:]) for x in data.decode().split("\n") if x.startswith("data: [")]
        records = [r for chunk in sent for r in chunk]
        log = [json.loads(x) for x in (a / "train_log.jsonl").read_text().splitlines()]
        assert records == log
        assert "event: end" in data.decode()
        # from an offset (a reconnecting EventSource sends Last-Event-ID): only what follows
        first = len((a / "train_log.jsonl").read_text().splitlines()[0]) + 1
        _, _, data = client.get(
            f"/api/runs/{rid}/curve", raw=True, headers={"Last-Event-ID": str(first)}
        )
        rest = [
            r
            for x in data.decode().split("\n")
            if x.startswith("data: [")
            for r in json.loads(x[6:])
        ]
        assert rest == log[1:]

        status, _, preds = client.get(f"/api/runs/{rid}/predictions?errors=false")
        assert status == 200 and preds["total"] == 60 and len(preds["rows"]) == 60
        assert sum(r["error"] for r in preds["rows"]) == preds["errors"]

        status, _, page = client.get(f"/runs/{rid}/report.html", raw=True)
        assert status == 200 and b"tunewise report" in page


def test_compare_and_predict(studio_runs):
    reg, work, a, b = studio_runs
    with studio_server(reg, work) as (client, _):
        ids = {r["name"]: r["id"] for r in client.get("/api/runs")[2]["runs"]}
        status, _, cmp = client.get(f"/api/compare?ids={ids['run-a']},{ids['run-b']}")
        assert status == 200
        test = cmp["tests"][0]
        assert test["available"] and test["n"] == 60 and test["verdict"]
        acc = next(m for m in cmp["metrics"] if m["metric"] == "accuracy")
        assert [c["ci"] is not None for c in acc["cells"]] == [True, True]
        assert len(cmp["curves"]) == 2 and all(c["loss"] for c in cmp["curves"])

        status, _, out = client.post("/api/predict", {"run": ids["run-a"], "text": "a good film"})
        assert status == 200 and out["generates"] is False
        assert set(out["result"]["scores"]) == {"neg", "pos"}
        assert abs(sum(out["result"]["scores"].values()) - 1) < 1e-3


def test_bad_input_is_4xx_json(studio_runs, tiny_model_dir, tiny_files):
    reg, work, a, _ = studio_runs
    with studio_server(reg, work) as (client, _):
        cases = [
            ("GET", "/api/runs?sort=bogus", None, 422),
            ("GET", "/api/runs/9999", None, 404),
            ("GET", "/api/runs/1/predictions?split=train", None, 422),
            ("GET", "/api/compare?ids=1", None, 422),
            ("GET", "/api/compare?ids=x,y", None, 422),
            ("POST", "/api/jobs", {**form(tiny_model_dir, tiny_files, "../evil")}, 422),
            ("POST", "/api/jobs", {**form(tiny_model_dir, tiny_files, "ok"), "epochs": -1}, 422),
            (
                "POST",
                "/api/jobs",
                {**form(tiny_model_dir, tiny_files, "ok"), "train": "/nope.csv"},
                400,
            ),
            (
                "POST",
                "/api/jobs",
                {**form(tiny_model_dir, tiny_files, "ok"), "extra": ["--rm"]},
                422,
            ),
            ("POST", "/api/predict", {"run": 9999, "text": "x"}, 404),
            ("POST", "/api/predict", {"run": 1, "text": ""}, 422),
            ("POST", "/api/upload?filename=evil.exe", b"x,y\n1,2\n", 400),
            ("POST", "/api/predict", b"{not json", 400),
            ("POST", "/api/jobs/9999/cancel", None, 404),
            ("POST", "/api/runs/1/resume", None, 409),
            ("GET", "/api/preview?path=/nope.csv", None, 400),
        ]
        for method, path, body, code in cases:
            raw = {"Content-Type": "application/json"} if isinstance(body, bytes) else None
            status, headers, out = client.request(method, path, body, headers=raw)
            assert status == code, (path, status, out)
            assert headers["content-type"].startswith("application/json"), path
            assert out["error"]["message"], path
        # an upload is previewed with its columns guessed for the mapping
        status, _, up = client.post(
            "/api/upload?filename=my%20data.csv", b"review,stars\nfine,5\nbad,1\n"
        )
        assert status == 200 and up["path"].endswith("my_data.csv")
        assert up["preview"]["columns"] == ["review", "stars"]
        assert up["preview"]["text_column"] == "review" and up["preview"]["total"] == 2


def test_token_required_beyond_loopback(studio_runs, capsys):
    reg, work, _, _ = studio_runs
    with pytest.raises(UserError, match="token"):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", "s3cret")
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    with pytest.raises(SystemExit) as e:
        main(["studio", "--host", "0.0.0.0", "--port", "7999", "--registry", str(reg)])
    assert e.value.code == 2
    assert "token" in capsys.readouterr().err

    with studio_server(reg, work, token="s3cret") as (client, _):
        assert client.get("/api/runs")[0] == 200  # the client sends the bearer token
        client.key = None
        status, headers, out = client.get("/api/runs")
        assert status == 401 and out["error"]["type"] == "unauthorized"
        assert client.get("/")[0] == 401
        assert client.get("/api/runs", headers={"Authorization": "Bearer wrong"})[0] == 401
        status, headers, _ = client.get("/?token=s3cret", raw=True)
        assert status == 303 and "studio_token=s3cret" in headers["set-cookie"]
        assert client.get("/", headers={"Cookie": "studio_token=s3cret"})[0] == 200
        assert client.get("/static/studio.css")[0] == 200  # assets carry no data


def test_export_button_runs_the_cli_and_shows_parity(studio_runs):
    from tests.studio.conftest import wait_for

    reg, work, a, _ = studio_runs
    with studio_server(reg, work) as (client, _):
        rid = next(r["id"] for r in client.get("/api/runs")[2]["runs"] if r["name"] == "run-a")
        status, _, out = client.post(f"/api/runs/{rid}/export", {"format": "hf"})
        assert status == 200
        assert out["command"] == f"tunewise export {a} --format hf --out {a}/exports/hf"
        job = out["job"]["id"]
        state = lambda: client.get("/api/jobs")[2]["jobs"][0]["state"]  # noqa: E731
        wait_for(lambda: state() not in ("queued", "running"), 180)
        assert client.get("/api/jobs")[2]["jobs"][0]["id"] == job and state() == "done"
        exports = client.get(f"/api/runs/{rid}")[2]["exports"]
        assert [e["name"] for e in exports] == ["hf"] and exports[0]["parity"]["ok"] is True
        assert client.post(f"/api/runs/{rid}/export", {"format": "pdf"})[0] == 422
