"""`tunewise assist serve`: the chat page at ``/``, ``POST /v1/assist``, the operators'
``/handoffs`` page, ``/healthz``, ``/readyz`` and ``/metrics``, with the model server's
request limits, API key and error shape (``tunewise.serve.http``)."""

from __future__ import annotations

import html
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from fastapi import Depends, FastAPI
from fastapi.security import HTTPBearer
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, HTMLResponse, Response

from tunewise.apps.assist.mask import mask
from tunewise.serve.http import ApiError, GuardMiddleware, install_error_handlers
from tunewise.serve.metrics import ServerMetrics
from tunewise.serve.settings import ServeSettings

HERE = Path(__file__).parent
ENDPOINTS = {"/", "/v1/assist", "/v1/handoffs", "/handoffs", "/healthz", "/readyz", "/metrics"}


class AssistRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:@-]+$")
    """The conversation this message belongs to (letters, digits, _ . : @ -)."""
    message: str = Field(min_length=1)
    """What the customer wrote."""


class FaqMatch(BaseModel):
    id: str
    answer: str
    score: float
    category: str | None = None


class AssistResponse(BaseModel):
    session_id: str
    turn: int
    intent: str | None
    confidence: float
    intent_abstained: bool
    oos_score: float | None = None
    faq: FaqMatch | None
    decision: str
    reply: str
    handoff: bool
    reason: str
    generated: bool
    overlap: float | None = None
    latency_ms: float


def create_assist_app(assistant, settings: ServeSettings | None = None) -> FastAPI:
    """The assistant's FastAPI app (``assistant``: an :class:`~.engine.Assistant`)."""
    settings = settings or ServeSettings()
    metrics = ServerMetrics()
    decisions = Counter(
        "tunewise_assist_decisions", "Messages by decision", ["decision"], registry=metrics.registry
    )
    lock = threading.Lock()  # one message at a time through the models; sessions stay ordered
    app = FastAPI(title="tunewise assistant", description="Customer-service assistant")
    app.state.tunewise = SimpleNamespace(assistant=assistant, settings=settings, metrics=metrics)
    app.add_middleware(
        GuardMiddleware,
        settings=settings,
        metrics=metrics,
        endpoints=ENDPOINTS,
        private={"/handoffs"},
    )
    install_error_handlers(app, settings)
    auth = [Depends(HTTPBearer(auto_error=False))] if settings.api_key else []
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="assist-static")

    def answer(sid: str, message: str) -> dict:
        with lock:
            return assistant.answer(sid, message)

    @app.get("/", include_in_schema=False)
    async def chat_page():
        return FileResponse(HERE / "static" / "chat.html", media_type="text/html")

    @app.post("/v1/assist", response_model=AssistResponse, dependencies=auth)
    async def assist(req: AssistRequest):
        """Answer one message of a session: intent, FAQ match, reply or handoff."""
        if len(req.message) > settings.max_chars:
            raise ApiError(
                413,
                f"message: {len(req.message)} characters; the limit is {settings.max_chars} "
                "(--max-chars)",
                "text_too_long",
            )
        if not req.message.strip():
            raise ApiError(422, "message: empty; write something to answer")
        if mask(req.session_id) != req.session_id:  # ids are stored as they are: never PII
            raise ApiError(
                422,
                "session_id: looks like personal data (a card, IBAN, e-mail or phone number); "
                "use an opaque id",
            )
        out = await run_in_threadpool(answer, req.session_id, req.message)
        decisions.labels(out["decision"]).inc()
        return out

    @app.get("/v1/handoffs", dependencies=auth)
    async def handoffs_json(limit: int = 100):
        """Handed-off conversations, latest first, with their (masked) turns."""
        return {"data": _handoffs(assistant, limit)}

    @app.post("/v1/handoffs/{session_id}/release", dependencies=auth)
    async def release(session_id: str):
        """Give a handed-off session back to the assistant (an operator has dealt with it)."""
        if assistant.store is None or not assistant.store.release(session_id):
            raise ApiError(404, f"no conversation {session_id!r}", "not_found")
        return {"session_id": session_id, "handed_off": False}

    @app.get("/handoffs", response_class=HTMLResponse, include_in_schema=False)
    async def handoffs_page(limit: int = 100):
        return HTMLResponse(_handoffs_html(_handoffs(assistant, limit)))

    @app.get("/healthz")
    async def healthz():
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz():
        """Readiness: models loaded."""
        return {"status": "ready"}

    @app.get("/metrics", response_class=Response)
    async def prometheus_metrics():
        """Prometheus metrics: requests, latency, errors, decisions."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _handoffs(assistant, limit: int) -> list[dict]:
    if assistant.store is None:
        return []
    return assistant.store.conversations(handed_off=True, limit=max(1, min(limit, 1000)))


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _handoffs_html(convs: list[dict]) -> str:
    e = html.escape
    parts = []
    for c in convs:
        rows = "".join(
            f"<tr><td>{t['turn']}</td><td>{e(_when(t['at']))}</td><td class='msg'>{e(t['message'])}</td>"
            f"<td>{e(t['intent'] or '')}{' (abstained)' if t['abstained'] else ''}<br>"
            f"<small>{(t['confidence'] or 0):.2f}</small></td>"
            f"<td>{e(t['faq_id'] or '')}<br><small>{(t['faq_score'] or 0):.3f}</small></td>"
            f"<td>{e(t['decision'])}</td><td class='reply'>{e(t['reply'] or '')}</td>"
            f"<td>{e(t['reason'] or '')}</td></tr>"
            for t in c["turns"]
        )
        parts.append(
            f"<section class='conversation' id='c-{e(c['id'])}'><h2>{e(c['id'])}</h2>"
            f"<p>{len(c['turns'])} turns, last {e(_when(c['updated']))}; handed off: "
            f"<span class='reason'>{e(c['handoff_reason'] or '')}</span></p>"
            "<table><tr><th>#</th><th>time</th><th>message</th><th>intent</th><th>FAQ</th>"
            f"<th>decision</th><th>reply</th><th>reason</th></tr>{rows}</table></section>"
        )
    body = "".join(parts) or "<p class='empty'>No handed-off conversations.</p>"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Handed-off conversations</title>"
        "<link rel='icon' href='data:,'><link rel='stylesheet' href='/static/chat.css'></head><body class='operators'>"
        f"<h1>Handed-off conversations ({len(convs)})</h1>{body}</body></html>"
    )
