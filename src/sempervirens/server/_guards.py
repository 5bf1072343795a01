"""Checks every request passes before any route sees it, and the last word on errors.

- A Cookie header must be ASCII (RFC 6265 cookie-octets): a non-ASCII session or
  sign-in cookie is a 400, not an exception deep in a comparison of digests.
- A url-encoded form's `csrf` field must be ASCII for the same reason (a form token
  is hexadecimal); the body is read once here, up to MAX_FORM_BYTES, and handed on.
- An exception no handler turned into a response becomes one 500 in the documented
  JSON shape, logged as one line with a request id, and is not raised further (so
  the ASGI server does not log the traceback at ERROR as well).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qs

MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 10  # as the private pages read their forms


def _error(status: int, code: str, message: str, field: str | None = None,
           headers: tuple = ()) -> tuple[dict, bytes]:
    error = {"status": status, "code": code, "message": message}
    if field is not None:
        error["field"] = field
    body = json.dumps({"error": error}).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                         (b"cache-control", b"no-store"), *headers]}
    return start, body


class RequestGuard:
    def __init__(self, app, on_unexpected: Callable[[dict, BaseException], str]) -> None:
        self.app = app
        self._on_unexpected = on_unexpected  # logs one line, returns the request id

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked_send(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            problem = None
            for name, value in scope["headers"]:
                if name == b"cookie" and not value.isascii():
                    problem = _error(400, "invalid_cookie", "cookies must be ASCII", "Cookie")
                    break
                if name == b"content-type" and value.split(b";")[0].strip().lower() == \
                        b"application/x-www-form-urlencoded" and scope["method"] == "POST":
                    receive, problem = await _checked_form(receive)
                    if problem:
                        break
            if problem is not None:
                await _answer(send, *problem)
                return
            await self.app(scope, receive, tracked_send)
        except Exception as error:  # noqa: BLE001 - the last word: one line, one 500
            request_id = self._on_unexpected(scope, error)
            if not started:
                await _answer(send, *_error(500, "internal_error", f"internal server error (request {request_id})",
                                            headers=((b"x-request-id", request_id.encode()),)))


async def _answer(send, start: dict, body: bytes) -> None:
    await send(start)
    await send({"type": "http.response.body", "body": body})


async def _checked_form(receive):
    """Read the form body (up to MAX_FORM_BYTES) and check its csrf field; replay it after."""
    messages, size = [], 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if size > MAX_FORM_BYTES or not message.get("more_body", False):
            break
    problem = None
    if size <= MAX_FORM_BYTES:
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        try:
            fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=MAX_FORM_FIELDS)
        except ValueError:  # more fields than any of our forms has
            problem = _error(400, "invalid_request", f"a form has at most {MAX_FORM_FIELDS} fields")
        else:
            if any(not value.isascii() for value in fields.get("csrf", ())):
                problem = _error(400, "invalid_field", "the form token must be ASCII", "csrf")

    async def replay():
        if messages:
            return messages.pop(0)
        return await receive()
    return replay, problem
