"""HTTP-level limits for the embedded uvicorn server (its httptools protocol, with limits).

uvicorn's httptools protocol reads request heads without bound and waits for slow
clients forever.  This subclass adds, per connection:

- a request line of at most MAX_REQUEST_LINE bytes (414), a head of at most
  MAX_HEAD_BYTES bytes in all and MAX_HEADERS header lines, none over
  MAX_HEADER_LINE bytes (431) -- counted as the bytes arrive, so a 1 MB header is
  refused after 64 KB, not buffered first;
- a deadline for the request line and headers (`header_timeout`, from the moment
  the connection opens or the previous response ends) and one for the body once
  the headers are in (`body_timeout`): 408, then the connection is closed;
- at most `max_connections` open connections per process: one more is answered 503
  with Retry-After at once and closed (graceful: the client is told to come back).

Idle keep-alive connections are closed after `keep_alive_timeout` (uvicorn's own
timer).  Every refusal has the JSON error body of docs/protocol.md.
"""

from __future__ import annotations

import functools
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .. import settings

MAX_REQUEST_LINE = 8 * 1024
MAX_HEAD_BYTES = 64 * 1024
MAX_HEADERS = 100
MAX_HEADER_LINE = 16 * 1024
RETRY_AFTER_BUSY = 5

_REASONS = {408: b"Request Timeout", 414: b"URI Too Long", 431: b"Request Header Fields Too Large",
            503: b"Service Unavailable"}
_CODES = {408: "request_timeout", 414: "request_line_too_long", 431: "headers_too_large", 503: "overloaded"}


@functools.lru_cache(maxsize=1)
def limits() -> dict:
    """This process's limits: `serve` exports every setting to the environment of its workers."""
    config = settings.resolve()
    return {name: config[name] for name in ("header_timeout", "body_timeout", "max_connections")}


def refusal(status: int, message: str) -> bytes:
    body = json.dumps({"error": {"status": status, "code": _CODES[status], "message": message}}).encode()
    head = [b"HTTP/1.1 %d %s" % (status, _REASONS[status]), b"content-type: application/json",
            b"content-length: %d" % len(body), b"connection: close"]
    if status == 503:
        head.append(b"retry-after: %d" % RETRY_AFTER_BUSY)
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits()
        self._refused = False
        self._in_head = True
        self._head_bytes = 0
        self._header_count = 0
        self._timer = None
        self._responding = False

    # -- the connection ---------------------------------------------------

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        if len(self.connections) > self._limits["max_connections"]:
            self._refuse(503, "too many open connections; retry later")
            return
        self._arm(self._limits["header_timeout"], "the request line and headers")

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            end = data.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else end
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(431, f"request line and headers are over {MAX_HEAD_BYTES} bytes")
                return
        super().data_received(data)

    # -- parser callbacks -------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._header_count = 0
        if self._timer is None:  # a keep-alive connection's next request
            self._arm(self._limits["header_timeout"], "the request line and headers")

    def on_url(self, url: bytes) -> None:
        if self._refused:
            return
        super().on_url(url)
        if len(self.url) > MAX_REQUEST_LINE:
            self._refuse(414, f"request target is over {MAX_REQUEST_LINE} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._refused:
            return
        self._header_count += 1
        if self._header_count > MAX_HEADERS:
            self._refuse(431, f"more than {MAX_HEADERS} header lines")
            return
        if len(name) + len(value) > MAX_HEADER_LINE:
            self._refuse(431, f"a header line is over {MAX_HEADER_LINE} bytes")
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._in_head = False
        self._head_bytes = 0
        self._disarm()
        self._arm(self._limits["body_timeout"], "the request body")
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._in_head = True
        super().on_response_complete()
        # The next request's head has header_timeout from now (the keep-alive
        # timer closes the connection sooner if nothing comes at all).
        self._arm(self._limits["header_timeout"], "the request line and headers")

    # -- refusing ---------------------------------------------------------

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._too_slow, what, seconds)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self, what: str, seconds: float) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete and self.cycle.response_started:
            self.transport.close()  # a response is under way: it cannot become a 408
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # the application sees the client go
            self.cycle.message_event.set()
        self._refuse(408, f"{what} did not arrive within {seconds:g} s")

    def _refuse(self, status: int, message: str) -> None:
        self._refused = True
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(refusal(status, message))
            self.transport.close()
