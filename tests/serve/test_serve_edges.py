"""[harden] the server's edges: a bad text fails only its own request, docs and metrics closed
with a key, no absolute paths, bad ports refused."""

from __future__ import annotations

import asyncio
import concurrent.futures

import pytest

from tests.serve.conftest import Client, running
from tunewise.serve import create_app, load_served
from tunewise.serve.batcher import MicroBatcher
from tunewise.serve.settings import ServeSettings


@pytest.fixture(scope="module")
def served(tiny_run):
    return load_served(str(tiny_run))


def test_a_failing_request_in_a_batch_fails_alone():
    calls = []

    def fn(items):
        calls.append(list(items))
        if "bad" in items:
            raise ValueError("tokenizer broke")
        return [x.upper() for x in items]

    async def main():
        b = MicroBatcher(fn, max_batch=64, max_wait_ms=50, max_queue=100)
        b.start()
        outs = await asyncio.gather(
            *(b.submit([f"ok{i}"]) for i in range(5)), b.submit(["bad"]), return_exceptions=True
        )
        await b.stop()
        return outs

    outs = asyncio.run(main())
    assert outs[:5] == [[f"OK{i}"] for i in range(5)]
    assert isinstance(outs[5], ValueError)
    assert len(calls[0]) == 6  # they did share a batch, and were then rerun one by one


def test_lone_surrogate_is_a_422_and_concurrent_valid_requests_are_answered(served):
    app = create_app([served], ServeSettings(max_wait_ms=30))
    good = [{"texts": [f"a fine film number {i}"]} for i in range(30)]
    bad = b'{"texts": ["\\ud800 broken"]}'
    with running(app) as (client, _):
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            goods = [pool.submit(client.post, "/v1/classify", g) for g in good]
            bads = [pool.submit(client.post, "/v1/classify", bad) for _ in range(8)]
            got = [f.result() for f in goods]
            refused = [f.result() for f in bads]
    assert [s for s, _, _ in got] == [200] * 30
    for status, _, body in refused:
        assert status == 422
        assert body["error"]["fields"][0]["field"] == "texts[0]"
        assert "lone surrogate (U+D800" in body["error"]["message"]


def test_docs_openapi_metrics_closed_with_a_key_unless_opened(served):
    with running(create_app([served], ServeSettings(api_key="k"))) as (client, _):
        anon = Client(client.port)
        for path in ("/docs", "/openapi.json", "/metrics", "/redoc"):
            status, _, body = anon.get(path)
            assert status == 401 and body["error"]["type"] == "unauthorized", path
        assert client.get("/openapi.json")[0] == 200  # with the key
        assert anon.get("/healthz")[0] == 200
    settings = ServeSettings(api_key="k", open_docs=True)
    with running(create_app([served], settings)) as (client, _):
        assert Client(client.port).get("/openapi.json")[0] == 200


def test_models_list_has_no_absolute_paths(served, tiny_run):
    with running(create_app([served])) as (client, _):
        data = client.get("/v1/models")[2]["data"]
    assert data[0]["path"] == tiny_run.name
    assert str(tiny_run.parent) not in str(data)


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_bad_port_is_one_line(port, capsys, tmp_path):
    from tunewise.cli.main import main

    with pytest.raises(SystemExit) as e:
        main(["serve", str(tmp_path), "--port", port])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--port" in err[0] and "Traceback" not in err[0]
