"""The server's side of the metrics: /metrics behind a token (pings are counted by answer
in server/_ingest.py).

The metrics themselves are declared in sempervirens/monitoring; `metrics_port`
serves them on a port of their own (see _commands.py), `metrics_token` here, on the
server's own port, to a scraper that sends `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..monitoring import exposition
from ..protocol.errors import Unauthorized


def routes(token: str | None) -> list[Route]:
    """/metrics when a token is set; without one the route does not exist (404)."""
    if not token:
        return []

    async def metrics(request: Request) -> Response:
        offered = request.headers.get("authorization", "")
        expected = f"Bearer {token}"
        if not hmac.compare_digest(offered.encode("utf-8", "replace"), expected.encode()):
            raise Unauthorized("metrics need Authorization: Bearer <metrics_token>")
        body, content_type = exposition()
        return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})

    return [Route("/metrics", metrics, methods=["GET"])]
