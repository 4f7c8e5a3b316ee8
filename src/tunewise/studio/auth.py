"""Who may use the studio: anyone on loopback by default; a token when bound elsewhere.

The token is accepted as ``Authorization: Bearer T``, as the ``studio_token`` cookie, or once
as ``?token=T`` in a page's address (which sets the cookie, so the browser keeps it).
"""

from __future__ import annotations

import hmac
import ipaddress

from starlette.responses import JSONResponse, RedirectResponse

from tunewise.errors import UserError

COOKIE = "studio_token"


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen beyond loopback without a token (anyone who reaches the port could
    start jobs and read data)."""
    if not is_loopback(host) and not token:
        raise UserError(
            f"--host {host}: the studio listens beyond this machine there; set a token "
            "(--token T or $TUNEWISE_STUDIO_TOKEN) so only people who have it get in"
        )


class TokenMiddleware:
    """Every request needs the token when one is set; /static is always open."""

    def __init__(self, app, token: str | None):
        self.app, self.token = app, token

    def _given(self, scope) -> tuple[str | None, bool]:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip(), False
        from urllib.parse import parse_qs

        q = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
        if q:
            return q[0], True
        for part in headers.get("cookie", "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == COOKIE:
                return v, False
        return None, False

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.token or scope["path"].startswith("/static/"):
            return await self.app(scope, receive, send)
        given, from_query = self._given(scope)
        if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            body = {
                "error": {
                    "code": 401,
                    "type": "unauthorized",
                    "message": "this studio needs its token: open it with ?token=T or send "
                    "Authorization: Bearer T",
                }
            }
            return await JSONResponse(body, status_code=401)(scope, receive, send)
        if from_query and scope["method"] == "GET":  # keep it in a cookie, drop it from the URL
            resp = RedirectResponse(scope["path"], status_code=303)
            resp.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
            return await resp(scope, receive, send)
        return await self.app(scope, receive, send)
