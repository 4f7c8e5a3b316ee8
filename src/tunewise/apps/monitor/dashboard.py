"""`tunewise monitor serve`: the dashboard and the monitor's HTTP API, on one store.

Pages (offline: inline SVG and a few lines of JS, no CDN): ``/`` (every entity's latest
window, volume and negative share, recent alerts) and ``/entity/TICKER`` (shares over time
with Wilson bands, volume, alerts on the timeline, the items behind a point). JSON:
``/v1/alerts``, ``/v1/series``, ``/v1/items``, ``/v1/summary``, ``/v1/ingest`` (POST, needs
``--model``), ``/v1/events`` (server-sent events when the store changes), ``/healthz``.
The request guard, error shape and limits are ``tunewise.serve``'s.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

from fastapi import Request  # at module level: the annotations are strings

from tunewise.apps.monitor import pages
from tunewise.apps.monitor.aggregate import by_key, series, top_items
from tunewise.apps.monitor.items import Columns, Reject, parse_time, to_item
from tunewise.errors import UserError


def create_app(store, window_s: int, monitor=None, api_key: str | None = None, poll: float = 1.0):
    """The FastAPI app on ``store``; ``monitor`` (a ``Monitor``) scores ``/v1/ingest``."""
    from fastapi import Body, FastAPI
    from fastapi.responses import HTMLResponse, StreamingResponse

    from tunewise.serve.http import ApiError, GuardMiddleware, install_error_handlers
    from tunewise.serve.metrics import ServerMetrics
    from tunewise.serve.settings import ServeSettings

    settings = ServeSettings(api_key=api_key)
    app = FastAPI(title="tunewise monitor", docs_url=None, redoc_url=None)
    install_error_handlers(app, settings)
    app.add_middleware(GuardMiddleware, settings=settings, metrics=ServerMetrics())
    lock = threading.Lock()

    def entity_rows():
        per = by_key(series(store, window_s, "entity"))
        alerts = store.alerts(limit=2000)
        out = []
        for ent, pts in sorted(per.items(), key=lambda kv: -sum(p["n"] for p in kv[1])):
            out.append(
                {
                    "entity": ent,
                    "points": pts,
                    "last": pts[-1],
                    "total": sum(p["n"] for p in pts),
                    "alerts": sum(a["entity"] == ent for a in alerts),
                }
            )
        return out

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "schema_version": store.version(), **store.counts()}

    @app.get("/", response_class=HTMLResponse)
    def overview():
        return pages.overview(
            entity_rows(),
            store.alerts(limit=20),
            series(store, window_s, "overall"),
            store.counts(),
            window_s,
            by_key(series(store, window_s, "sector")),
        )

    @app.get("/entity/{ticker}", response_class=HTMLResponse)
    def entity_page(ticker: str):
        t = ticker.upper()
        pts = series(store, window_s, "entity", t)
        if not pts:
            raise ApiError(404, f"no items about {t!r} in the store", "not_found")
        return pages.entity(t, pts, store.alerts(t), window_s)

    @app.get("/v1/alerts")
    def alerts(entity: str | None = None, limit: int = 500):
        if not 1 <= limit <= 5000:
            raise ApiError(422, f"limit {limit}: give 1..5000")
        return {"alerts": store.alerts(entity.upper() if entity else None, limit)}

    @app.get("/v1/series")
    def get_series(scope: str = "overall", key: str | None = None):
        if scope not in ("entity", "sector", "overall"):
            raise ApiError(422, f"scope {scope!r}: give entity, sector or overall")
        return {"window_s": window_s, "points": series(store, window_s, scope, key)}

    @app.get("/v1/summary")
    def summary():
        rows = entity_rows()
        return {
            "counts": store.counts(),
            "entities": [{k: r[k] for k in ("entity", "last", "total", "alerts")} for r in rows],
        }

    @app.get("/v1/items")
    def items(entity: str, start: str, polarity: str | None = None, limit: int = 20):
        lo = parse_time(start)
        if lo is None:
            raise ApiError(422, f"start {start!r} is not a date")
        if not 1 <= limit <= 500:
            raise ApiError(422, f"limit {limit}: give 1..500")
        return {"items": top_items(store, entity.upper(), lo, lo + window_s, polarity, limit)}

    @app.post("/v1/ingest")
    def ingest(body: dict | list = Body(...)):  # noqa: B008
        if monitor is None:
            raise ApiError(
                409,
                "this server scores nothing: start `tunewise monitor serve` with --model RUN "
                "to accept /v1/ingest",
                "no_model",
            )
        recs = body.get("items", [body]) if isinstance(body, dict) else body
        if not isinstance(recs, list) or not recs:
            raise ApiError(422, "send an item object, a list of them, or {'items': [...]}")
        if len(recs) > settings.max_texts:
            raise ApiError(422, f"{len(recs)} items in one request; at most {settings.max_texts}")
        rejected, accepted = [], 0
        with lock:
            for i, rec in enumerate(recs):
                got = to_item(rec, "http", f"request item {i}", Columns(entity="entities"))
                if isinstance(got, Reject):
                    rejected.append({"index": i, "reason": got.reason})
                    monitor._reject(got)
                    continue
                monitor.pending.append(got)
                accepted += 1
            before = monitor.stats.alerts
            monitor.flush()
            monitor.close_windows(now=int(time.time()) if monitor.live else None)
            new_alerts = monitor.stats.alerts - before
        status = 200 if accepted else 422
        payload = {"accepted": accepted, "rejected": rejected, "alerts": new_alerts}
        if status != 200:
            from tunewise.serve.http import error_response

            return error_response(422, "invalid_request", "no item accepted", rejected)
        return payload

    @app.get("/v1/events")
    async def events(request: Request):
        async def stream():
            last = None
            while not await request.is_disconnected():
                counts = await asyncio.to_thread(store.counts)
                if counts != last:
                    last = counts
                    yield f"event: update\ndata: {json.dumps(counts)}\n\n"
                else:
                    yield ": keep-alive\n\n"
                await asyncio.sleep(poll)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    return app


def serve_dashboard(db, host, port, window, model, entities, api_key, options=None) -> None:
    """Open the store and run the dashboard with uvicorn (a bad flag: one line, exit 2).

    Args:
        options: the ``MonitorOptions`` of ``monitor run --source http:PORT`` (its sinks and
            alert rule score and check what ``/v1/ingest`` takes).
    """
    import uvicorn

    from tunewise.apps.monitor.aggregate import parse_window
    from tunewise.apps.monitor.store import Store

    store = Store(str(db), create=model is not None)
    stored = store.get_meta("window_s")
    window_s = parse_window(window) if window else int(stored) if stored else 86400
    mon = None
    if model is not None:
        from tunewise.apps.monitor.service import MonitorOptions, build

        o = options or MonitorOptions(
            model=Path(model), source="http", db=str(db), entities=entities
        )
        o.window = f"{window_s // 60}m"
        mon = build(o, live=True, require_time=False)
    if not 0 < port < 65536:
        raise UserError(f"--port {port}: give 1..65535")
    app = create_app(store, window_s, mon, api_key)
    print(f"tunewise monitor: http://{host}:{port}/ (store {db})", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
