"""HTTP-level limits for the embedded uvicorn server (its httptools protocol, with limits).

uvicorn's httptools protocol reads request heads without bound and waits for slow
clients forever.  This subclass adds, per connection:

- a head of at most MAX_HEAD_BYTES bytes in all (431), counted as the bytes arrive,
  so a 1 MB header is refused after 64 KB, not buffered first; once the head is in,
  a request line of at most MAX_REQUEST_LINE bytes (414) and at most MAX_HEADERS
  header lines, none over MAX_HEADER_LINE bytes (431);
- a deadline for the request line and headers (`header_timeout`, from the moment
  the connection opens or the previous response ends) and one for the body once
  the headers are in (`body_timeout`): 408, then the connection is closed.  The
  deadlines are checked by one sweep of the process's connections every quarter of
  the shorter timeout (at most a second), not by a timer per request: a request
  then costs two clock reads instead of two timers set and cancelled;
- at most `max_connections` open connections per process: one more is answered 503
  with Retry-After at once and closed (graceful: the client is told to come back);
- at most `max_connections_per_address` of them from one client (an IPv4 address or
  an IPv6 /64, whose addresses one subscriber may rotate at will), so that one client
  cannot hold every connection and lock the others out; a trusted proxy's
  connections carry many clients and are not counted.

Idle keep-alive connections are closed after `keep_alive_timeout` (uvicorn's own
timer).  Every refusal has the JSON error body of docs/protocol.md, a request
httptools cannot parse included (400 `malformed_request`).

uvicorn's own lines about a request (a malformed one, an unsupported Upgrade) come
as fast as a client sends them: each kind is logged at most once per RATE_SECONDS,
with the count of those left out, so that nobody can flood the log.  The server
speaks no WebSocket (`serve` starts uvicorn with `ws="none"`): uvicorn's WebSocket
protocol logged the client's address and path at INFO for every handshake.
"""

from __future__ import annotations

import functools
import json
import logging
import weakref

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .. import settings
from ..monitoring import RateLimitedLog
from ._client_ip import ClientAddress

MAX_REQUEST_LINE = 8 * 1024
MAX_HEAD_BYTES = 64 * 1024
MAX_HEADERS = 100
MAX_HEADER_LINE = 16 * 1024
RETRY_AFTER_BUSY = 5
HEADERS = "the request line and headers"
BODY = "the request body"

_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 414: b"URI Too Long",
            431: b"Request Header Fields Too Large", 503: b"Service Unavailable"}
_CODES = {400: "malformed_request", 408: "request_timeout", 414: "request_line_too_long",
          431: "headers_too_large", 503: "overloaded"}


@functools.lru_cache(maxsize=1)
def limits() -> dict:
    """This process's limits: `serve` exports every setting to the environment of its workers."""
    config = settings.resolve()
    return {**{name: config[name] for name in ("header_timeout", "body_timeout", "max_connections",
                                               "max_connections_per_address")},
            "addresses": ClientAddress(config["trusted_proxies"])}


# Open connections per client (ClientAddress.group) in this process: at most
# max_connections entries, each removed with its last connection.
_HELD: dict[str, int] = {}
# Connections accepted whose TLS handshake is not done (server/_tls.py): they count
# against max_connections beside uvicorn's own (server_state.connections).
_HANDSHAKING: set = set()


def refusal(status: int, message: str) -> bytes:
    body = json.dumps({"error": {"status": status, "code": _CODES[status], "message": message}}).encode()
    head = [b"HTTP/1.1 %d %s" % (status, _REASONS[status]), b"content-type: application/json",
            b"content-length: %d" % len(body), b"connection: close"]
    if status == 503:
        head.append(b"retry-after: %d" % RETRY_AFTER_BUSY)
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class _PerRequestLog:
    """uvicorn's logger as its HTTP protocol uses it, each message rate-limited by its
    template (uvicorn's own constant text, never the client's)."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._limited = RateLimitedLog(logger)

    @property
    def level(self) -> int:
        return self._logger.level

    def log(self, level: int, message: str, *args, **kwargs) -> None:
        if self._logger.isEnabledFor(level):
            self._limited.log(level, f"{level} {message}"[:200], message, *args, **kwargs)

    def debug(self, message: str, *args, **kwargs) -> None:
        self.log(logging.DEBUG, message, *args, **kwargs)

    def info(self, message: str, *args, **kwargs) -> None:
        self.log(logging.INFO, message, *args, **kwargs)

    def warning(self, message: str, *args, **kwargs) -> None:
        self.log(logging.WARNING, message, *args, **kwargs)

    def error(self, message: str, *args, **kwargs) -> None:
        self.log(logging.ERROR, message, *args, **kwargs)


@functools.lru_cache(maxsize=1)
def _per_request_log() -> _PerRequestLog:
    return _PerRequestLog(logging.getLogger("uvicorn.error"))  # one per process: shared limits


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.logger = _per_request_log()
        self._limits = limits()
        self._refused = False
        self._in_head = True
        self._head_bytes = 0
        self._deadline: float | None = None  # loop time by which `_waiting_for` must be in
        self._waiting_for = HEADERS
        self._group: str | None = None  # the client counted in _HELD for this connection
        self._admitted = False
        self._tls = None  # the TLS layer in front, while its handshake is under way
        self._gathered: _Gathered | None = None  # what the responses write through

    # -- the connection ---------------------------------------------------

    def admit(self, address: str | None, tls=None) -> str | None:
        """Count this connection against the caps, or say which one it is over (then
        nothing is counted).  `tls`: the TLS layer admitting it before its handshake."""
        others = len(self.connections) + len(_HANDSHAKING) - (self in self.connections)
        if others >= self._limits["max_connections"]:
            return "too many open connections; retry later"
        group = self._limits["addresses"].group(address) if address else None
        if group is not None:
            held = _HELD.get(group, 0)
            if held >= self._limits["max_connections_per_address"]:
                return "too many open connections from this address; retry later"
            _HELD[group] = held + 1
            self._group = group
        self._admitted = True
        if tls is not None:
            self._tls = tls
            _HANDSHAKING.add(tls)
        return None

    def release(self) -> None:
        """Uncount this connection (once, however often it is called)."""
        _HANDSHAKING.discard(self._tls)
        self._tls = None
        group, self._group = self._group, None
        if group is not None:
            held = _HELD.pop(group) - 1
            if held:
                _HELD[group] = held

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._gathered = _Gathered(transport, self.loop)
        _HANDSHAKING.discard(self._tls)  # counted from now on with uvicorn's connections
        self._tls = None
        if not self._admitted:
            over = self.admit(self.client[0] if self.client else None)
            if over is not None:
                self._refuse(503, over)
                return
        self._expect(HEADERS)
        _Sweep.start(self.loop, self.connections, self._limits)

    def connection_lost(self, exc) -> None:
        self.release()
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

    def send_400_response(self, msg: str) -> None:
        # httptools could not parse the request: uvicorn answered in plain text.
        self._refuse(400, "not a valid HTTP/1.1 request")

    def _unsupported_upgrade_warning(self) -> None:
        # An Upgrade (WebSocket, h2c) is served as plain HTTP; uvicorn's two warnings
        # (the second advising to install a WebSocket library) are not the operator's to act on.
        self.logger.debug("an Upgrade request was served as plain HTTP")

    # -- parser callbacks -------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        if self._deadline is None:  # a keep-alive connection's next request
            self._expect(HEADERS)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        problem = self._head_problem()
        if problem is not None:
            self._refuse(*problem)
            return
        self._in_head = False
        self._head_bytes = 0
        self._expect(BODY)
        cycle = self.cycle
        super().on_headers_complete()
        if self.cycle is not cycle and self.cycle is not None:  # this request's
            self.cycle.transport = self._gathered

    def _head_problem(self) -> tuple[int, str] | None:
        """What is wrong with a complete head (at most MAX_HEAD_BYTES: checked as it came)."""
        if len(self.url) > MAX_REQUEST_LINE:
            return 414, f"request target is over {MAX_REQUEST_LINE} bytes"
        if len(self.headers) > MAX_HEADERS:
            return 431, f"more than {MAX_HEADERS} header lines"
        if self._head_bytes > MAX_HEADER_LINE and any(
                len(name) + len(value) > MAX_HEADER_LINE for name, value in self.headers):
            return 431, f"a header line is over {MAX_HEADER_LINE} bytes"
        return None

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._deadline = None
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._gathered.flush()  # a whole response: nothing of it waits for the turn's end
        self._in_head = True
        super().on_response_complete()
        # The next request's head has header_timeout from now (the keep-alive
        # timer closes the connection sooner if nothing comes at all).
        self._expect(HEADERS)

    # -- deadlines and refusals -------------------------------------------

    def _expect(self, what: str) -> None:
        seconds = self._limits["header_timeout" if what == HEADERS else "body_timeout"]
        self._deadline = self.loop.time() + seconds
        self._waiting_for = what

    def too_slow(self) -> None:
        """Called by the sweep once the deadline has passed."""
        self._deadline = None
        self._flush()
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete and self.cycle.response_started:
            self.transport.close()  # a response is under way: it cannot become a 408
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # the application sees the client go
            self.cycle.message_event.set()
        seconds = self._limits["header_timeout" if self._waiting_for == HEADERS else "body_timeout"]
        self._refuse(408, f"{self._waiting_for} did not arrive within {seconds:g} s")

    def _flush(self) -> None:
        if self._gathered is not None:
            self._gathered.flush()

    def _refuse(self, status: int, message: str) -> None:
        self._refused = True
        self._deadline = None
        self._flush()  # what a response wrote goes first
        if not self.transport.is_closing():
            self.transport.write(refusal(status, message))
            self.transport.close()


class _Gathered:
    """The transport as a connection's responses see it: what they write goes out as one
    write when the response is complete (or at the end of the event loop's turn, for one
    that streams).  uvicorn writes a response's head and its body apart: a 202 and its 21
    bytes were two system calls and two TCP segments, the second ~7% of the server's CPU
    per ping.  The connection's own writes (refusals) flush it first, to keep the order."""

    __slots__ = ("_transport", "_loop", "_held")

    def __init__(self, transport, loop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self._held is None:
            self._held = [data]
            self._loop.call_soon(self.flush)  # whatever else this turn writes goes with it
        else:
            self._held.append(data)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held and not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()


class _Sweep:
    """One timer per event loop that closes the connections past their deadline."""

    _running: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> True

    @classmethod
    def start(cls, loop, connections: set, limits: dict) -> None:
        if loop not in cls._running:
            cls._running[loop] = True
            interval = min(limits["header_timeout"], limits["body_timeout"], 4.0) / 4
            loop.call_later(interval, cls._run, loop, connections, interval)

    @classmethod
    def _run(cls, loop, connections: set, interval: float) -> None:
        now = loop.time()
        for protocol in list(connections):
            deadline = getattr(protocol, "_deadline", None)
            if deadline is not None and now >= deadline:
                protocol.too_slow()
        if connections:
            loop.call_later(interval, cls._run, loop, connections, interval)
        else:  # no connection left: the next one starts the sweep again
            del cls._running[loop]
