"""`monitor serve`: the pages, the JSON API, /v1/ingest, SSE, and the page in Chromium."""

from __future__ import annotations

import http.client
import json
import threading
import time
from contextlib import contextmanager

import pytest

from tests.monitor.conftest import stream, write_stream
from tunewise.apps.monitor.dashboard import create_app
from tunewise.apps.monitor.items import Columns
from tunewise.apps.monitor.pipeline import Monitor
from tunewise.apps.monitor.sources import read_file
from tunewise.apps.monitor.store import Store


@contextmanager
def running(app):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        t.join(10)


def req(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    c.request(method, path, body=data, headers=headers or {})
    r = c.getresponse()
    raw = r.read()
    c.close()
    ctype = r.getheader("content-type", "")
    return r.status, json.loads(raw) if "json" in ctype else raw.decode()


@pytest.fixture
def filled(tmp_path, scorer):
    path = write_stream(tmp_path / "s.jsonl", stream(seed=11))
    store = Store(str(tmp_path / "m.db"))
    from tunewise.apps.monitor.entities import Entity, EntityTable

    table = EntityTable([Entity("AAPL", "Apple", "Tech"), Entity("XOM", "Exxon", "Energy")])
    cols = Columns("text", "time", "id", "ticker", True)
    mon = Monitor(store, scorer, 86400, entities=table, cols=cols)
    for ev in read_file(path):
        mon.add(ev, "s", None)
    mon.finish()
    mon.live = True
    return store, mon


def test_pages_and_api(filled):
    store, _ = filled
    with running(create_app(store, 86400, poll=0.05)) as port:
        st, health = req(port, "GET", "/healthz")
        assert st == 200 and health["status"] == "ok" and health["scored"] == 1800
        st, html = req(port, "GET", "/")
        assert st == 200 and all(t in html for t in ("AAPL", "MSFT", "XOM"))
        assert "id='sectors'" in html and "Energy" in html and "Tech" in html
        assert (
            "<script src" not in html
            and "http" not in html.split("<body>")[1].split("EventSource")[0]
        )
        st, html = req(port, "GET", "/entity/aapl")
        assert st == 200 and html.count("class='pt'") == 30 and "alert-mark" in html
        st, body = req(port, "GET", "/v1/alerts")
        assert st == 200 and body["alerts"] and body["alerts"][0]["entity"] == "AAPL"
        st, body = req(port, "GET", "/v1/series?scope=entity&key=MSFT")
        assert [p["n"] for p in body["points"]] == [20] * 30
        st, body = req(port, "GET", "/v1/items?entity=AAPL&start=2024-03-25")
        assert st == 200 and body["items"] and body["items"][0]["p_negative"] >= 0.5
        # mistakes: 4xx JSON, never a traceback
        st, body = req(port, "GET", "/entity/NOPE")
        assert st == 404 and "NOPE" in body["error"]["message"]
        st, body = req(port, "GET", "/v1/series?scope=planet")
        assert st == 422 and "scope" in body["error"]["message"]
        st, body = req(port, "POST", "/v1/ingest", {"text": "x"})
        assert st == 409 and "--model" in body["error"]["message"]


def test_ingest_scores_items_and_rejects_bad_ones_with_reasons(filled):
    store, mon = filled
    before = store.counts()["scored"]
    with running(create_app(store, 86400, mon, api_key="k")) as port:
        auth = {"Authorization": "Bearer k", "Content-Type": "application/json"}
        st, body = req(port, "POST", "/v1/ingest", {"text": "x"})
        assert st == 401
        items = [
            {"id": "n1", "text": "$AAPL looks awful today", "time": "2024-03-31T10:00:00Z"},
            {"id": "n2", "text": ""},
            {"text": "$XOM good quarter", "entities": ["XOM"]},
        ]
        st, body = req(port, "POST", "/v1/ingest", {"items": items}, auth)
        assert st == 200 and body["accepted"] == 2
        assert body["rejected"] == [{"index": 1, "reason": "field 'text' is empty"}]
        st, body = req(port, "POST", "/v1/ingest", b"{not json", auth)
        assert st == 400 and body["error"]["type"] == "invalid_json"
        st, body = req(port, "POST", "/v1/ingest", [{"time": "x"}], auth)
        assert st == 422
    assert store.counts()["scored"] == before + 2
    assert store.counts()["rejected"] == 2


def test_events_stream_sends_the_counts_when_the_store_changes(filled):
    store, mon = filled
    with running(create_app(store, 86400, mon, poll=0.05)) as port:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/v1/events")
        r = c.getresponse()
        assert r.getheader("content-type").startswith("text/event-stream")
        lines = []
        while len([ln for ln in lines if ln.startswith("data:")]) < 1:
            lines.append(r.fp.readline().decode())
        first = json.loads(lines[-1][5:])
        req(port, "POST", "/v1/ingest", {"text": "$MSFT dull day", "time": "2024-03-31T11:00:00Z"})
        while True:
            ln = r.fp.readline().decode()
            if ln.startswith("data:"):
                break
        c.close()
    assert json.loads(ln[5:])["items"] == first["items"] + 1


@pytest.mark.browser
def test_dashboard_in_headless_chromium_updates_live(filled, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.browser import headless_chrome

    store, mon = filled
    with running(create_app(store, 86400, mon, poll=0.1)) as port:
        driver = headless_chrome(tmp_path / "profile")
        try:
            driver.get(f"http://127.0.0.1:{port}/")
            assert "AAPL" in driver.find_element(By.ID, "entities").text
            n0 = int(driver.find_element(By.ID, "n-items").text)
            WebDriverWait(driver, 10).until(lambda d: "live" in d.find_element(By.ID, "live").text)
            req(
                port,
                "POST",
                "/v1/ingest",
                {"text": "$AAPL bad news", "time": "2024-03-31T12:00:00Z"},
            )
            WebDriverWait(driver, 10).until(
                lambda d: d.find_element(By.ID, "n-items").text == str(n0 + 1)
            )
            driver.get(f"http://127.0.0.1:{port}/entity/AAPL")
            marks = driver.find_elements(By.CSS_SELECTOR, "g.alert-mark")
            assert marks and marks[0].get_attribute("data-start").startswith("2024-03-25")
            point = driver.find_elements(By.CSS_SELECTOR, "circle.pt")[24]
            driver.execute_script(
                "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", point
            )
            WebDriverWait(driver, 10).until(
                lambda d: len(d.find_elements(By.CSS_SELECTOR, "#items li")) > 0
            )
            assert "p(neg)" in driver.find_element(By.ID, "items").text
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert not errors, errors
        finally:
            driver.quit()
