"""HTTP plumbing: one JSON error shape, body limits, UTF-8 and JSON checks, auth, metrics.

Every error is ``{"error": {"code", "type", "message", "fields"?}}`` with a 4xx/5xx status;
the message says what was wrong and what the limit is.
"""

from __future__ import annotations

import hmac
import time

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from tunewise.serve.batcher import QueueFull

ENDPOINTS = {
    "/v1/classify",
    "/v1/entities",
    "/v1/generate",
    "/v1/chat/completions",
    "/v1/models",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
}


CLOSED_WITH_KEY = {"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/metrics"}
"""Pages that need the API key when one is set (unless ``open_docs``): the schema and the
metrics tell a stranger what the server runs and how busy it is."""


class ApiError(Exception):
    """A request the server refuses, with its status and a message for the client."""

    def __init__(self, status: int, message: str, type: str = "invalid_request", fields=None):
        super().__init__(message)
        self.status, self.message, self.type, self.fields = status, message, type, fields


def error_response(status: int, type: str, message: str, fields=None, headers=None):
    body = {"code": status, "type": type, "message": message}
    if fields:
        body["fields"] = fields
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _field(loc) -> str:
    out = ""
    for part in loc:
        if part == "body" and not out:
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def install_error_handlers(app, settings) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        for e in errs:
            if e.get("type") == "json_invalid":
                at = e["loc"][1] if len(e.get("loc", ())) > 1 else "?"
                why = (e.get("ctx") or {}).get("error", "JSON decode error")
                return error_response(
                    400, "invalid_json", f"body is not valid JSON: {why} (at character {at})"
                )
        fields = [{"field": _field(e["loc"]), "problem": e["msg"]} for e in errs]
        msg = "; ".join(f"{f['field']}: {f['problem']}" for f in fields[:5])
        return error_response(422, "invalid_request", msg, fields)

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError):
        return error_response(exc.status, exc.type, exc.message, exc.fields)

    @app.exception_handler(QueueFull)
    async def _full(request: Request, exc: QueueFull):
        return error_response(
            503,
            "overloaded",
            f"server busy: {exc}; retry after {settings.retry_after_s} s",
            headers={"Retry-After": str(settings.retry_after_s)},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return error_response(exc.status_code, "http_error", str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        return error_response(500, "internal_error", f"internal error: {type(exc).__name__}")


class GuardMiddleware:
    """Runs before the app on every request: metrics, auth, body size, UTF-8, JSON type.

    The body of a POST is read here once (at most ``max_body_bytes``), checked, and handed on;
    its content type is taken as JSON whatever the client said (``curl -d`` sends form type).
    """

    def __init__(self, app, settings, metrics, endpoints=None, private=()):
        """
        Args:
            endpoints: paths counted under their own name in the metrics (default: the model
                server's); others count as ``other``.
            private: pages outside ``/v1/`` that always need the API key when one is set
                (``open_docs`` or not): an operator's pages.
        """
        self.app, self.settings, self.metrics = app, settings, metrics
        self.endpoints = ENDPOINTS if endpoints is None else endpoints
        self.private = frozenset(private)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        endpoint = path if path in self.endpoints else "other"
        status = {"code": 500}
        t0 = time.perf_counter()

        async def send_counted(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            refusal, receive = await self._check(scope, receive, path)
            if refusal is not None:
                await refusal(scope, receive, send_counted)
            else:
                await self.app(scope, receive, send_counted)
        finally:
            code = status["code"]
            self.metrics.requests.labels(endpoint, str(code)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - t0)
            if code >= 400:
                self.metrics.errors.labels(endpoint, str(code)).inc()

    async def _check(self, scope, receive, path):
        s = self.settings
        headers = {k.decode("latin-1").lower(): v for k, v in scope["headers"]}
        if not path.startswith("/v1/"):
            if s.api_key is not None and (
                path in self.private or (not s.open_docs and path in CLOSED_WITH_KEY)
            ):
                return self._auth(headers), receive
            return None, receive
        if s.api_key is not None:
            refusal = self._auth(headers)
            if refusal is not None:
                return refusal, receive
        if scope["method"] != "POST":
            return None, receive
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > s.max_body_bytes:
            return self._too_big(int(declared)), receive
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None, receive
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > s.max_body_bytes:
                return self._too_big(None), receive
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError as e:
            return error_response(
                400,
                "invalid_encoding",
                f"body is not valid UTF-8 (byte {e.start}: {bytes(body[e.start : e.start + 1])!r}); "
                "send JSON encoded as UTF-8",
            ), receive
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
        scope["headers"].append((b"content-type", b"application/json"))
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        return None, replay

    def _auth(self, headers):
        """None when the request carries the API key, else the 401 response."""
        auth = headers.get("authorization", b"").decode("latin-1")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.settings.api_key.encode()
        ):
            return None
        why = "missing" if not auth else "wrong"
        return error_response(
            401,
            "unauthorized",
            f"{why} API key: send the header 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )

    def _too_big(self, size):
        got = f"{size} bytes" if size is not None else "more"
        return error_response(
            413,
            "body_too_large",
            f"request body is {got}; the limit is {self.settings.max_body_bytes} bytes "
            "(--max-body-bytes); send fewer or shorter texts per request",
        )
