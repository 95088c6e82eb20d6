"""Security headers on every response: a Content-Security-Policy without inline script, no framing, HSTS over https."""
from __future__ import annotations

#: Pages: scripts and styles from this site only; inline styles stay allowed for the server-drawn SVG charts.
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
          "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
          "frame-ancestors 'none'")
#: The interactive API docs run the vendored Swagger UI / ReDoc (api/static/vendor): nothing from elsewhere,
#: no inline script; their own inline styles and ReDoc's blob workers stay allowed.
DOCS_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "font-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
               "frame-ancestors 'none'")
DOCS = ("/docs", "/redoc", "/docs/oauth2-redirect")
HSTS = b"max-age=31536000; includeSubDomains"


class SecurityHeaders:
    """ASGI middleware: adds the headers to every HTTP response, errors and refusals included."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        policy = DOCS_POLICY if scope["path"] in DOCS else POLICY
        extra = [(b"content-security-policy", policy.encode()), (b"x-content-type-options", b"nosniff"),
                 (b"x-frame-options", b"DENY"), (b"referrer-policy", b"same-origin"),
                 (b"cross-origin-opener-policy", b"same-origin")]
        if scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", HSTS))

        async def with_headers(message):
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in extra if h[0] not in names]
            await send(message)

        await self.app(scope, receive, with_headers)
