"""POST /submit/{project}/{ping_type}/{version}/{document_id}: the ingestion endpoint."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from starlette.requests import ClientDisconnect, Request

from ..admin.tombstones import forgotten, forgotten_now
from ..public import Secured
from ..protocol import SCHEMA_VERSION, ProtocolError, normalize_project, parse_document_id
from ..protocol.fast import decode_ping
from ..store import Accepted, Overloaded, WriteFailed
from ..store.writer import Rejected
from ..monitoring import PINGS
from ..protocol.errors import BadRequest, NotFound, ServerError, ServiceUnavailable
from ._body import ping_headers, read_body
from ._errors import client_went_away, server_error

# How long an overloaded server asks clients to wait, in seconds.
RETRY_AFTER_OVERLOADED = 5
RETRY_AFTER_STORE_DOWN = 30
_ACCEPTED = b'{"status":"accepted"}'
_ACCEPTED_HEADERS = ((b"content-length", str(len(_ACCEPTED)).encode()), (b"content-type", b"application/json"))
_COUNTED_ACCEPTED = PINGS.labels("202", "accepted")


class Ingest:
    """The ingestion endpoint as a plain ASGI application: it answers 202, or the error of
    docs/protocol.md through the server's own handlers (server/_errors.py), and counts each
    answer by status and code.  server/app.py calls it directly for every POST to its path."""

    def __init__(self) -> None:
        self._head: tuple = ((), ())  # (the policy headers, the 202's headers with them)

    async def __call__(self, scope, receive, send) -> None:
        try:
            policy = await _accept(scope["app"], scope, receive)
        except ServerError as error:
            PINGS.labels(str(error.status), error.code).inc()
            response = await server_error(Request(scope, receive), error)
        except ClientDisconnect as error:  # nobody is left to read an answer: not counted
            response = await client_went_away(Request(scope, receive), error)
        except Exception:
            PINGS.labels("500", "internal_error").inc()
            raise  # answered by RequestGuard, the last word on errors
        else:
            _COUNTED_ACCEPTED.inc()
            # Fresh messages each time (middleware may replace their headers), shared headers.
            headers = self._headers(policy)
            await send({"type": "http.response.start", "status": 202, "headers": headers})
            await send({"type": "http.response.body", "body": _ACCEPTED})
            return
        await response(scope, receive, send)

    def _headers(self, policy: tuple) -> tuple:
        """The 202's headers, the security headers included, built once for each value of
        the policy headers (they rarely change); a tuple: whoever adds to it makes a new list."""
        known, headers = self._head
        if known is not policy or not headers:
            headers = Secured((*_ACCEPTED_HEADERS, *policy))
            self._head = (policy, headers)
        return headers


async def _accept(app, scope, receive) -> tuple:
    """Validate and store one ping; the policy headers to answer 202 with."""
    state = app.state
    params = scope["path_params"]
    try:
        project = normalize_project(params["project"])
        if params["version"] != str(SCHEMA_VERSION):
            raise ProtocolError("version", f"unsupported schema version; this server speaks {SCHEMA_VERSION}",
                                "unsupported_version")
        document_id = parse_document_id(params["document_id"])
        ping_type = params["ping_type"]
        if state.registered_only and not await _in_time(state, state.projects.is_registered(project)):
            raise NotFound(f"project {project!r} is not registered here", field="project",
                           code="unknown_project")
        headers = ping_headers(scope)
        ping = decode_ping(ping_type, await read_body(receive, headers))
    except ProtocolError as error:
        raise BadRequest(error.message, field=error.field or None, code=error.code) from None

    if ping.client_id:
        gone = forgotten_now(app, ping.client_id)  # mostly: no store read, no task
        if gone is None:
            gone = await _in_time(state, forgotten(app, ping.client_id))
        if gone:
            return state.policy_headers.current()  # a deleted client: dropped
    item = Accepted(document_id, project, ping, datetime.now(timezone.utc),
                    state.client_address.of(scope))
    try:
        await state.writer.submit(item)
    except Overloaded:
        raise ServiceUnavailable("too many pings waiting to be stored; retry later",
                                 retry_after=RETRY_AFTER_OVERLOADED, code="overloaded") from None
    except WriteFailed:
        raise ServiceUnavailable("the store did not commit this ping; retry later",
                                 retry_after=RETRY_AFTER_STORE_DOWN, code="store_unavailable") from None
    except Rejected as error:
        raise BadRequest(f"the store cannot hold this ping ({error}); do not resend it",
                         code="unstorable") from None
    return state.policy_headers.current()


async def _in_time(state, check):
    """A store read on the way in (tombstones, registered projects), with the store deadline.

    A store that is down or frozen answers 503 with Retry-After, never 500 or a hang.
    """
    try:
        return await asyncio.wait_for(check, state.settings["store_timeout"])
    except (Exception, SystemExit):  # noqa: BLE001 - any store error: the ping cannot be judged now
        state.log_store_error("a store read before storing a ping failed")
        raise ServiceUnavailable("the store cannot be read; retry later",
                                 retry_after=RETRY_AFTER_STORE_DOWN, code="store_unavailable") from None
