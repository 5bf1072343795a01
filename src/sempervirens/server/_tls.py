"""TLS served by `serve` itself, under the HTTP limits from the first byte.

Given an SSL context, uvicorn hands it to the event loop, which creates the HTTP
protocol's connection only once the TLS handshake is done, and waits 60 s for one:
a client that connected and sent nothing held a socket for a minute, outside every
limit (900 held against `max_connections` 100 and `header_timeout` 2 s).  Here
uvicorn is started without TLS and this protocol factory puts the TLS layer in front
of each connection: its handshake must end within `header_timeout`, and the
connection counts against `max_connections` and `max_connections_per_address` from
the moment it is accepted (one over a cap is closed at once: no TLS yet to answer
503 in).
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from asyncio.sslproto import SSLProtocol

from ._http import LimitedHttpToolsProtocol, limits


@functools.lru_cache(maxsize=1)
def _context() -> ssl.SSLContext:
    from .. import settings

    config = settings.resolve()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config["tls_cert"], config["tls_key"])
    return context


class LimitedTlsProtocol(SSLProtocol):
    """The TLS layer of one connection, its HTTP protocol (LimitedHttpToolsProtocol) inside."""

    def __init__(self, config, server_state, app_state, _loop=None) -> None:
        self._http = LimitedHttpToolsProtocol(config=config, server_state=server_state,
                                              app_state=app_state, _loop=_loop)
        super().__init__(_loop or asyncio.get_event_loop(), self._http, _context(), None,
                         server_side=True, ssl_handshake_timeout=limits()["header_timeout"])

    def connection_made(self, transport) -> None:
        peer = transport.get_extra_info("peername")
        if self._http.admit(peer[0] if isinstance(peer, tuple) else None, tls=self) is not None:
            transport.abort()
            return
        super().connection_made(transport)

    def connection_lost(self, exc) -> None:
        self._http.release()
        super().connection_lost(exc)
