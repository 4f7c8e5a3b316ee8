"""Alert sinks against local receivers: a webhook that fails before it answers, an SMTP
server (aiosmtpd); undelivered alerts go out at the next start."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.monitor.conftest import stream, write_stream
from tunewise.apps.monitor.items import Columns
from tunewise.apps.monitor.pipeline import Monitor
from tunewise.apps.monitor.sinks import SmtpSink, WebhookSink
from tunewise.apps.monitor.sources import read_file
from tunewise.apps.monitor.store import Store

ALERT = {
    "id": "AAPL:negative:2024-03-25T00:00:00Z:86400",
    "entity": "AAPL",
    "direction": "negative",
    "severity": "high",
    "p_value": 1e-8,
    "window": {"start": "2024-03-25T00:00:00Z", "end": "2024-03-26T00:00:00Z"},
    "evidence": {
        "count": 16,
        "n": 20,
        "share": 0.8,
        "baseline": {"count": 21, "n": 140, "windows": 7, "share": 0.15},
        "top_items": [{"text": "Apple slumps"}],
    },
}


@pytest.fixture
def receiver():
    """An HTTP receiver that answers 503 to the first ``fail`` POSTs, then 200."""
    state = {"fail": 2, "got": [], "statuses": []}

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            code = 503 if state["fail"] > 0 else 200
            state["fail"] -= 1
            state["statuses"].append(code)
            if code == 200:
                state["got"].append((json.loads(body), self.headers["Idempotency-Key"]))
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{srv.server_address[1]}/hook"
    yield state
    srv.shutdown()


def test_webhook_retries_with_backoff_until_the_receiver_takes_it(receiver):
    WebhookSink(receiver["url"], retries=3, backoff=0.01).send(ALERT)
    assert receiver["statuses"] == [503, 503, 200]
    assert receiver["got"] == [(ALERT, ALERT["id"])]


def test_webhook_gives_up_after_its_retries(receiver):
    receiver["fail"] = 10
    with pytest.raises(RuntimeError, match="503 after 3 tries"):
        WebhookSink(receiver["url"], retries=2, backoff=0.01).send(ALERT)


def test_an_alert_not_delivered_is_sent_at_the_next_start(tmp_path, scorer, receiver):
    receiver["fail"] = 100
    path = write_stream(tmp_path / "s.jsonl", stream(seed=11))
    db = str(tmp_path / "m.db")
    cols = Columns("text", "time", "id", "ticker", require_time=True)
    mon = Monitor(
        Store(db), scorer, 86400, cols=cols, sinks=[WebhookSink(receiver["url"], 1, 0.01)]
    )
    for ev in read_file(path):
        mon.add(ev, "s", None)
    mon.finish()
    pending = mon.store.undelivered()
    assert pending and receiver["got"] == []
    receiver["fail"] = 0
    Monitor(Store(db), scorer, 86400, cols=cols, sinks=[WebhookSink(receiver["url"], 1, 0.01)])
    assert [g[0]["id"] for g in receiver["got"]] == [a["id"] for a in pending]
    assert Store(db).undelivered() == []


def test_smtp_sends_one_mail_per_alert():
    pytest.importorskip("aiosmtpd")
    from aiosmtpd.controller import Controller

    got = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            got.append((envelope.mail_from, envelope.rcpt_tos, envelope.content.decode()))
            return "250 OK"

    from tests.pgserver import free_port as _free_port

    port = _free_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        SmtpSink(f"smtp://127.0.0.1:{port}", ["desk@example.com"], "mon@example.com").send(ALERT)
    finally:
        ctl.stop()
    assert len(got) == 1
    sender, rcpts, content = got[0]
    assert sender == "mon@example.com" and rcpts == ["desk@example.com"]
    assert "AAPL negative share 80%" in content and "Apple slumps" in content
