"""`/v1/recommend` on a real uvicorn server: known users, new users' histories, and the same
hardening as every route (API key, limits, 4xx JSON errors)."""

from __future__ import annotations

import pytest

from tests.serve.conftest import running
from tunewise.serve import ServeSettings, create_app, load_served


@pytest.fixture(scope="module")
def client(rec_run):
    served = load_served(str(rec_run))
    assert served.kind == "recommend"
    app = create_app([served], ServeSettings(max_wait_ms=2, max_chars=200, api_key="k3y"))
    with running(app) as (c, _):
        yield c


def test_known_user_and_new_user(client):
    s, _, body = client.post("/v1/recommend", {"user_id": 3, "k": 10})
    assert s == 200 and len(body["items"]) == 10, body
    assert set(body["items"][0]) == {"item_id", "title", "text", "score", "because"}
    s, _, body = client.post("/v1/recommend", {"history": ["good fun 3. Comedy"], "k": 4})
    assert s == 200 and len(body["items"]) == 4
    assert body["items"][0]["because"] == "good fun 3. Comedy"


def test_texts_answer_one_result_per_new_user(client):
    s, _, body = client.post("/v1/recommend", {"texts": ["good fun 3", "bad dull 4"], "k": 3})
    assert s == 200 and [len(r["items"]) for r in body["results"]] == [3, 3]
    assert "items" not in body


@pytest.mark.parametrize(
    "req, status, text",
    [
        ({"k": 3}, 422, "exactly one of user_id"),
        ({"user_id": 3, "history": ["x"]}, 422, "exactly one of user_id"),
        ({"user_id": "nobody"}, 422, "not in this run"),
        ({"history": ["x" * 500]}, 413, "characters"),
        ({"user_id": 3, "k": 0}, 422, ""),
        ({"user_id": 3, "extra": 1}, 422, ""),
    ],
)
def test_bad_requests_are_4xx_json(client, req, status, text):
    s, headers, body = client.post("/v1/recommend", req)
    assert s == status and "json" in headers["content-type"], body
    assert text in str(body)


def test_the_api_key_is_required(client):
    s, _, _ = client.post(
        "/v1/recommend", {"user_id": 3}, headers={"Authorization": "Bearer wrong"}
    )
    assert s == 401
