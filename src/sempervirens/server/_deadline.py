"""A deadline for every page and API read: 503 with Retry-After instead of a hang.

The stores' engines bound a slow statement themselves (statement_timeout, SQLite's
interrupt; store/_engines.py), but a store that does not answer at all (a frozen
PostgreSQL) holds the thread that waits on it until it answers again.  So a GET that
has not started its answer within `store_timeout` seconds is answered 503
`store_unavailable` here; the request carries on in the background, and whatever
it sends later is dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging

from ..monitoring import STORE_ERRORS, RateLimitedLog

RETRY_AFTER = 30
# /healthz probes each store with a deadline of its own and says why in its answer;
# /metrics reads no store.
OWN_DEADLINES = frozenset({"/healthz", "/metrics"})

log = logging.getLogger("sempervirens.server")
_limited = RateLimitedLog(log)


class ReadDeadline:
    def __init__(self, app, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or \
                scope["path"] in OWN_DEADLINES:
            await self.app(scope, receive, send)
            return
        started = False
        abandoned = False

        async def guarded_send(message) -> None:
            nonlocal started
            if abandoned:
                return  # answered 503 already
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        # A task of its own: a thread blocked on a frozen store cannot be cancelled,
        # and waiting for it is what this deadline is there to avoid.
        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        done, _ = await asyncio.wait({task}, timeout=self.seconds)
        if done:
            task.result()  # its exception, if any, goes to the handlers outside
            return
        if started:  # the answer is on its way: let it finish
            await task
            return
        abandoned = True
        task.add_done_callback(_forget)
        STORE_ERRORS.labels("timeout").inc()
        _limited.log(logging.WARNING, "read deadline",
                     "503 store_unavailable: a page or API read got no answer within %g s", self.seconds)
        body = json.dumps({"error": {"status": 503, "code": "store_unavailable",
                                     "message": f"the store did not answer within {self.seconds:g} s; "
                                                "retry later"}}).encode()
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(RETRY_AFTER).encode()), (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})


def _forget(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("an abandoned read failed afterwards: %s", type(task.exception()).__name__)
