"""`tunewise assist serve`'s app over real HTTP: /v1/assist's answer, the model server's
limits, error shape and API key, the chat page and its assets, /handoffs, /metrics; and the
page driven in headless Chromium."""

from __future__ import annotations

import pytest

from tests.assist.conftest import FAQ_Q, IN_SCOPE, OUT_OF_SCOPE, make_assistant
from tests.serve.conftest import Client, running
from tunewise.apps.assist.server import create_assist_app
from tunewise.serve.settings import ServeSettings


@pytest.fixture
def served(store):
    with running(create_assist_app(make_assistant(store=store))) as (client, _):
        yield client


def test_assist_answers_and_keeps_the_session(served):
    s, _, r = served.post("/v1/assist", {"session_id": "t1", "message": IN_SCOPE})
    assert s == 200, r
    assert {"intent", "confidence", "faq", "reply", "handoff", "reason"} <= set(r)
    assert r["intent"] == "card_arrival" and r["handoff"] is False and r["turn"] == 1
    assert set(r["faq"]) >= {"id", "answer", "score"}
    s, _, r = served.post("/v1/assist", {"session_id": "t1", "message": OUT_OF_SCOPE})
    assert r["handoff"] is True and r["turn"] == 2
    s, _, r = served.post("/v1/assist", {"session_id": "t1", "message": FAQ_Q})
    assert r["handoff"] is True and "already handed off" in r["reason"]
    s, _, page = served.get("/handoffs")
    html = page.decode()
    assert s == 200 and "Handed-off conversations (1)" in html and "t1" in html
    assert "lasagna" in html and "intent abstained" in html  # the turns and the reason
    s, _, j = served.get("/v1/handoffs")
    assert [c["id"] for c in j["data"]] == ["t1"] and len(j["data"][0]["turns"]) == 3
    # an operator gives the session back: the assistant answers it again
    s, _, j = served.post("/v1/handoffs/t1/release")
    assert s == 200 and j == {"session_id": "t1", "handed_off": False}
    s, _, r = served.post("/v1/assist", {"session_id": "t1", "message": FAQ_Q})
    assert r["decision"] == "faq" and r["turn"] == 4 and not r["handoff"]
    assert served.post("/v1/handoffs/nobody/release")[0] == 404
    s, _, m = served.get("/metrics")
    text = m.decode()
    assert 'tunewise_assist_decisions_total{decision="handoff"} 2.0' in text
    assert 'tunewise_requests_total{endpoint="/v1/assist",status="200"} 4.0' in text


def test_page_health_and_assets_are_served_offline(served):
    s, _, page = served.get("/")
    html = page.decode()
    assert s == 200 and "<html" in html
    assert "http://" not in html and "https://" not in html  # nothing from a CDN
    for asset in ("/static/chat.js", "/static/chat.css"):
        assert served.get(asset)[0] == 200
    assert served.get("/healthz")[2] == {"status": "ok"}
    s, _, spec = served.get("/openapi.json")
    assert s == 200 and "/v1/assist" in spec["paths"]


def test_bad_requests_are_one_clear_4xx(store):
    app = create_assist_app(
        make_assistant(store=store), ServeSettings(max_chars=50, max_body_bytes=400)
    )
    with running(app) as (c, _):
        s, _, r = c.post("/v1/assist", {"message": "hi"})
        assert s == 422 and r["error"]["message"] == "session_id: Field required"
        s, _, r = c.post("/v1/assist", {"session_id": "a b", "message": "hi"})
        assert s == 422 and "session_id" in r["error"]["message"]
        s, _, r = c.post("/v1/assist", {"session_id": "a", "message": "x" * 60})
        assert s == 413 and "limit is 50" in r["error"]["message"]
        s, _, r = c.post("/v1/assist", {"session_id": "a", "message": "x" * 500})
        assert s == 413 and r["error"]["type"] == "body_too_large"
        s, _, r = c.post("/v1/assist", b"{not json")
        assert s == 400 and r["error"]["type"] == "invalid_json"
        s, _, r = c.post("/v1/assist", {"session_id": "jane@example.com", "message": "hi"})
        assert s == 422 and "looks like personal data" in r["error"]["message"]
        s, _, r = c.post("/v1/assist", {"session_id": "a", "message": "   "})
        assert s == 422 and "empty" in r["error"]["message"]


def test_api_key_guards_the_api_and_the_operators_page(store):
    app = create_assist_app(
        make_assistant(store=store), ServeSettings(api_key="k3y", open_docs=True)
    )
    with running(app) as (c, _):
        anon = Client(c.port)
        assert anon.post("/v1/assist", {"session_id": "a", "message": IN_SCOPE})[0] == 401
        assert anon.get("/handoffs")[0] == 401  # even with open docs: conversations are private
        assert anon.get("/")[0] == 200 and anon.get("/healthz")[0] == 200
        assert c.post("/v1/assist", {"session_id": "a", "message": IN_SCOPE})[0] == 200
        assert c.get("/handoffs")[0] == 200


@pytest.mark.browser
def test_chat_page_in_headless_chromium(store, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.browser import headless_chrome

    driver = headless_chrome(tmp_path / "profile")
    try:
        with running(create_assist_app(make_assistant(store=store))) as (c, _):
            driver.get(f"http://127.0.0.1:{c.port}/")
            bots = []
            for i, q in enumerate((IN_SCOPE, FAQ_Q, OUT_OF_SCOPE), 1):
                box = driver.find_element(By.ID, "message")
                box.send_keys(q)
                driver.find_element(By.ID, "send").click()
                WebDriverWait(driver, 20).until(
                    lambda d, n=i: len(d.find_elements(By.CSS_SELECTOR, ".msg.bot")) == n
                )
                bots = driver.find_elements(By.CSS_SELECTOR, ".msg.bot")
            texts = [b.find_element(By.CLASS_NAME, "text").text for b in bots]
            metas = [b.find_element(By.CLASS_NAME, "meta").text for b in bots]
            assert "card arrival" in texts[0] and "intent card_arrival (0.90)" in metas[0]
            assert texts[1] == "An IVR password is sent to the registered mobile number."
            assert "FAQ faq-ivr (1.00)" in metas[1]
            assert [b.get_attribute("data-handoff") for b in bots] == ["false", "false", "true"]
            shown = bots[2].find_element(By.CLASS_NAME, "handoff").text
            assert shown.startswith("Handed off to a person: intent abstained")
            assert not bots[0].find_elements(By.CLASS_NAME, "handoff")
            # the operators' page lists the conversation the page just handed off
            sid = driver.execute_script("return sessionStorage.getItem('assist-session')")
            driver.get(f"http://127.0.0.1:{c.port}/handoffs")
            section = driver.find_element(By.ID, f"c-{sid}")
            assert "lasagna" in section.text and len(section.find_elements(By.TAG_NAME, "tr")) == 4
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert not errors, errors
    finally:
        driver.quit()


def test_fuzzed_requests_never_5xx_and_errors_are_json(store):
    """schemathesis against the app's own schema (the model server's fuzz checks)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    from tests.serve.test_api_fuzz import _check, _operations

    app = create_assist_app(make_assistant(store=store), ServeSettings(max_chars=300))
    with running(app) as (client, _):
        base = f"http://127.0.0.1:{client.port}"
        ops = list(_operations(schemathesis.openapi.from_dict(app.openapi())))
        assert "/v1/assist" in {op.path for op in ops}
        seen: list[int] = []
        for op in ops:

            @settings(max_examples=25, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            @given(case=op.as_strategy())
            def fuzz(case):
                _check(case, base, seen)

            fuzz()
    # schema-valid messages and session ids of any characters are answered, never a 5xx
    assert len(seen) >= 25 and seen.count(200) >= 10
