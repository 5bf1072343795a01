"""Security headers on every answer of the server (pages, API, ingestion).

The CSP allows scripts, styles, images and fetches from this origin only: no
inline script or style, no CDN, no framing.  The charts are drawn by a vendored
library served from /static.
"""

from __future__ import annotations

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"interest-cohort=(), camera=(), microphone=(), geolocation=()"),
]


class Secured(tuple):
    """Response headers that end with HEADERS already (built once, for an answer sent by the
    thousand a second: ingestion's 202); SecurityHeaders sends them as they are."""

    def __new__(cls, headers):
        return super().__new__(cls, (*headers, *HEADERS))


class SecurityHeaders:
    """Pure ASGI middleware (no response buffering): adds HEADERS to every response."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start" and \
                    message.get("headers").__class__ is not Secured:
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in HEADERS if name not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)
