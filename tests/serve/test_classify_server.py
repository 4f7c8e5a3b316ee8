"""/v1/classify and the server's plumbing, against a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import make_rows
from tests.serve.conftest import running
from tunewise.cli.main import main
from tunewise.serve import ServeSettings, create_app, load_served


@pytest.fixture(scope="module")
def served(tiny_run):
    return load_served(str(tiny_run))


@pytest.fixture(scope="module")
def server(served):
    app = create_app([served], ServeSettings(max_wait_ms=20, max_texts=50, max_chars=200))
    with running(app) as (client, _):
        yield client


def test_classify_equals_tunewise_predict(server, tiny_run, tmp_path):
    rows = make_rows(30, 99)
    texts = [r["text"] for r in rows] + ["", "GOOD!!", "é ü 中文"]
    inp = tmp_path / "in.txt"
    inp.write_text("\n".join(texts) + "\n")
    out = tmp_path / "preds.jsonl"
    main(["predict", str(tiny_run), "--input", str(inp), "--output", str(out)])
    expected = [json.loads(line) for line in out.read_text().splitlines()]
    kept = [e["text"] for e in expected]  # predict skips blank lines
    status, _, body = server.post("/v1/classify", {"texts": kept})
    assert status == 200, body
    assert body["model"] == "run"
    assert [{"text": t, **r} for t, r in zip(kept, body["results"])] == expected


def test_top_k_and_pairs(server, served):
    status, _, body = server.post("/v1/classify", {"texts": ["good fun film"], "top_k": 2})
    assert status == 200
    r = body["results"][0]
    assert [x["label"] for x in r["top_k"]][0] == r["label"]
    assert sorted(x["score"] for x in r["top_k"]) == sorted(r["scores"].values())
    status, _, body = server.post(
        "/v1/classify", {"texts": ["good film", "bad"], "text_pairs": ["the cast", "plot"]}
    )
    assert status == 200
    assert body["results"] == served.model.predict(["good film", "bad"], ["the cast", "plot"])


def test_dozens_of_concurrent_clients_answered_correctly_in_batches(server, served):
    texts = [r["text"] for r in make_rows(64, 5)]
    expected = served.model.predict(texts)

    def ask(i):
        chunk = texts[i : i + 1 + i % 3]
        return i, server.post("/v1/classify", {"texts": chunk})

    with ThreadPoolExecutor(48) as pool:
        answers = list(pool.map(ask, range(len(texts))))
    for i, (status, _, body) in answers:
        assert status == 200, body
        assert body["results"] == expected[i : i + 1 + i % 3]
    _, _, metrics = server.get("/metrics")
    lines = metrics.decode().splitlines()
    count = next(x for x in lines if x.startswith('tunewise_batch_size_count{model="run"}'))
    total = next(x for x in lines if x.startswith('tunewise_batch_size_sum{model="run"}'))
    batches, items = float(count.split()[-1]), float(total.split()[-1])
    assert items / batches > 1.5, f"requests were not merged: {items} texts in {batches} batches"


BAD = [
    (b'{"texts": 5', 400, "not valid JSON"),
    (b"", 422, "body"),
    (b'{"texts": ["ok", 5]}', 422, "texts[1]"),
    (b'{"texts": "one string"}', 422, "texts"),
    (b'{"texts": []}', 422, "at least 1"),
    (b'{"texts": ["a"], "top_k": 0}', 422, "top_k"),
    (b'{"texts": ["a"], "colour": 1}', 422, "colour"),
    (b'{"texts": ["a"], "text_pairs": ["x", "y"]}', 422, "2 pairs for 1 texts"),
    (b'["a", "b"]', 422, "body"),
    (b'{"texts": ["caf\xe9"]}', 400, "UTF-8"),
    (b'{"texts": ["a"], "model": "nope"}', 404, "nope"),
    (json.dumps({"texts": ["a"] * 51}).encode(), 413, "limit is 50"),
    (json.dumps({"texts": ["ok", "x" * 201]}).encode(), 413, "texts[1]: 201 characters"),
]


@pytest.mark.parametrize("body,status,says", BAD)
def test_bad_input_is_4xx_with_json_error_and_server_keeps_serving(server, body, status, says):
    got, _, err = server.post("/v1/classify", body, headers={"Content-Type": "application/json"})
    assert got == status, err
    assert err["error"]["code"] == status and says in err["error"]["message"]
    assert server.get("/healthz")[0] == 200
    assert server.post("/v1/classify", {"texts": ["good"]})[0] == 200


def test_body_limit_with_and_without_content_length(tiny_run, served):
    app = create_app([served], ServeSettings(max_body_bytes=100))
    with running(app) as (client, _):
        status, _, err = client.post("/v1/classify", {"texts": ["x" * 200]})
        assert status == 413 and "limit is 100 bytes" in err["error"]["message"]
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=30)
        chunks = iter([b'{"texts": ["', b"y" * 150, b'"]}'])
        conn.request("POST", "/v1/classify", body=chunks, encode_chunked=True)
        r = conn.getresponse()
        assert r.status == 413 and b"limit is 100 bytes" in r.read()
        conn.close()
        assert client.post("/v1/classify", {"texts": ["good"]})[0] == 200


def test_form_content_type_is_read_as_json(server):
    # `curl -d '{...}'` sends application/x-www-form-urlencoded
    status, _, body = server.post(
        "/v1/classify",
        b'{"texts": ["good film"]}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200 and body["results"][0]["label"] in ("pos", "neg")


def test_endpoints_models_health_ready_metrics_openapi(server):
    status, _, body = server.get("/v1/models")
    assert status == 200 and body["data"][0]["id"] == "run"
    assert body["data"][0]["kind"] == "classification" and body["data"][0]["labels"] == [
        "neg",
        "pos",
    ]
    assert server.get("/healthz") == (200, server.get("/healthz")[1], {"status": "ok"})
    assert server.get("/readyz")[2]["status"] == "ready"
    status, headers, text = server.get("/metrics")
    text = text.decode()
    assert status == 200 and headers["content-type"].startswith("text/plain")
    for name in ("requests_total", "request_seconds", "batch_size", "queue_depth", "errors_total"):
        assert f"# TYPE tunewise_{name} " in text
    assert 'tunewise_requests_total{endpoint="/v1/classify",status="200"}' in text
    status, _, spec = server.get("/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for p in ("/v1/classify", "/v1/entities", "/v1/generate", "/v1/chat/completions"):
        assert "post" in paths[p]
    for p in ("/v1/models", "/healthz", "/readyz", "/metrics"):
        assert "get" in paths[p]
    req = spec["components"]["schemas"]["ClassifyRequest"]
    assert req["required"] == ["texts"]
    assert req["properties"]["texts"]["items"]["type"] == "string"
    op = paths["/v1/classify"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ClassifyRequest"
    )
    assert {"200", "400", "413", "422", "503"} <= set(op["responses"])
    assert op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ErrorBody"
    )


def test_api_key(served):
    app = create_app([served], ServeSettings(api_key="s3cret"))
    with running(app) as (client, _):
        for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}):
            status, h, err = client.post("/v1/classify", {"texts": ["a"]}, headers=headers)
            assert status == 401 and h["www-authenticate"] == "Bearer"
            assert "API key" in err["error"]["message"]
        assert client.get("/v1/models", headers={"Authorization": ""})[0] == 401
        assert client.post("/v1/classify", {"texts": ["a"]})[0] == 200  # the client sends it
        assert client.get("/healthz", headers={"Authorization": ""})[0] == 200
        spec = client.get("/openapi.json")[2]
        assert "HTTPBearer" in spec["components"]["securitySchemes"]


class Slow:
    """The tiny classifier, made slow, to fill the queue and to hold requests in flight."""

    def __init__(self, served, seconds):
        self.served, self.seconds = served, seconds
        self.name, self.kind, self.backend, self.path = "slow", "classification", "torch", ""
        self.labels, self.generates = served.labels, False

    def run_batch(self, items):
        time.sleep(self.seconds)
        return self.served.run_batch(items)


def test_backpressure_full_queue_is_503_with_retry_after(served):
    app = create_app([Slow(served, 0.6)], ServeSettings(max_queue=2, max_texts=2, max_batch=2))
    with running(app) as (client, _):
        with ThreadPoolExecutor(8) as pool:
            first = pool.submit(client.post, "/v1/classify", {"texts": ["a", "b"]})
            time.sleep(0.2)  # the first is running; the next fills the queue; the rest bounce
            rest = [
                pool.submit(client.post, "/v1/classify", {"texts": ["c", "d"]}) for _ in range(5)
            ]
            answers = [first.result()] + [f.result() for f in rest]
        codes = [a[0] for a in answers]
        assert codes[0] == 200 and 503 in codes and set(codes) <= {200, 503}, codes
        refused = next(a for a in answers if a[0] == 503)
        assert refused[1]["retry-after"] == "1" and "busy" in refused[2]["error"]["message"]
        assert client.post("/v1/classify", {"texts": ["good"]})[0] == 200


def test_graceful_shutdown_finishes_requests_in_flight(served):
    app = create_app([Slow(served, 1.0)])
    with running(app) as (client, server):
        result = {}
        t = threading.Thread(
            target=lambda: result.update(r=client.post("/v1/classify", {"texts": ["good"]}))
        )
        t.start()
        time.sleep(0.3)
        server.should_exit = True  # what SIGTERM / Ctrl-C do
        t.join(10)
        assert result["r"][0] == 200 and result["r"][2]["results"][0]["label"] in ("pos", "neg")
        time.sleep(0.5)
        with pytest.raises(OSError):
            client.get("/healthz")
