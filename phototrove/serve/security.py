"""Who may talk to the app, and what a page may do.

- Bound to a loopback address, anyone on this machine may use it (as with any local tool), but the
  Host header must name that address: a web page on some other site cannot reach the app through
  DNS rebinding.
- Bound to any other address, a token is required: printed at start, passed once as `?token=`, then
  kept in an HttpOnly, SameSite=Strict cookie.
- A request that changes anything (POST) must come from the app's own pages (Origin checked): no
  other site can make the browser export photos.
- Every answer carries a Content-Security-Policy allowing only the app's own script, styles and
  images, no framing, no referrer (a map link does not tell the map site which photo it was)."""
from __future__ import annotations

import hmac
import ipaddress
import secrets
from urllib.parse import urlencode

from starlette.datastructures import URL, QueryParams
from starlette.responses import PlainTextResponse, RedirectResponse

COOKIE = "trove_token"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
           "x-frame-options": "DENY", "cross-origin-opener-policy": "same-origin",
           "cross-origin-resource-policy": "same-origin"}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Guard:
    """ASGI middleware enforcing the rules above, and adding the headers to every answer."""

    def __init__(self, app, *, host: str, port: int, token: str | None):
        self.app, self.token = app, token
        names = {host, "localhost", "127.0.0.1", "[::1]"} if is_loopback(host) else {host}
        if not is_loopback(host) and host in ("0.0.0.0", "::"):
            names = None   # every interface: the token is the guard, any Host is allowed
        self.hosts = None if names is None else {f"{n}:{port}" for n in names} | (names if port == 80 else set())

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            return await self._secured(refusal)(scope, receive, send)
        if self.token and not self._has_cookie(headers):
            url, query = URL(scope=scope), QueryParams(scope.get("query_string", b"").decode("latin-1"))
            given = query.get("token")
            if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
                return await self._secured(PlainTextResponse(
                    "trove: this server needs its token: open the address it printed at start", 403))(scope, receive, send)
            rest = [(k, v) for k, v in query.multi_items() if k != "token"]
            answer = RedirectResponse(url.path + ("?" + urlencode(rest) if rest else ""), 303)
            answer.set_cookie(COOKIE, self.token, httponly=True, samesite="strict", path="/")
            return await self._secured(answer)(scope, receive, send)

        async def send_secured(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + [
                    (k.encode(), v.encode()) for k, v in HEADERS.items()]
            await send(message)

        return await self.app(scope, receive, send_secured)

    def _refusal(self, scope, headers: dict):
        if self.hosts is not None and headers.get("host") not in self.hosts:
            return PlainTextResponse("trove: unknown Host", 421)
        if scope["method"] not in ("GET", "HEAD"):
            origin = headers.get("origin")
            if origin is None or origin.split("://", 1)[-1] != headers.get("host"):
                return PlainTextResponse("trove: a change must come from trove's own page", 403)
        return None

    def _has_cookie(self, headers: dict) -> bool:
        from http.cookies import SimpleCookie

        jar = SimpleCookie()
        try:
            jar.load(headers.get("cookie", ""))
        except Exception:   # a malformed Cookie header is no cookie
            return False
        got = jar.get(COOKIE)
        return got is not None and hmac.compare_digest(got.value.encode(), self.token.encode())

    @staticmethod
    def _secured(response):
        for k, v in HEADERS.items():
            response.headers[k] = v
        return response
