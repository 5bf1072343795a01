"""One HTTP(S) POST of one ping: gzip, certificate verification, bounded by a timeout.

HTTPS verifies the server's certificate against the system trust store, or the
CA bundle named by the project or SEMPERVIRENS_CA_BUNDLE.  Plain HTTP is used only
when the endpoint URL says `http://`.
"""

from __future__ import annotations

import gzip
import http.client
import ssl
import urllib.parse

from .. import __version__
from . import _wire

USER_AGENT = f"sempervirens-python/{__version__}"

# For `sempervirens simulate` only: headers added to every request (a simulated
# client's X-Forwarded-For, which a server believes only from a trusted proxy).
# The library never sets it; it is empty in real use.
SIMULATION_HEADERS: dict = {}


class Answer:
    __slots__ = ("status", "retry_after", "error")

    def __init__(self, status: int, retry_after: str | None, error: str | None) -> None:
        self.status, self.retry_after, self.error = status, retry_after, error


_contexts: dict = {}


def _tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    context = _contexts.get(ca_bundle)
    if context is None:
        context = ssl.create_default_context(cafile=ca_bundle)  # verifies, checks host names
        _contexts[ca_bundle] = context
    return context


def post(endpoint: str, project: str, ping_type: str, document_id: str, body: bytes,
         timeout: float, ca_bundle: str | None = None) -> Answer:
    """POST one ping; returns the server's answer, raises OSError on network failure."""
    url = urllib.parse.urlsplit(endpoint)
    if url.scheme == "https":
        connection = http.client.HTTPSConnection(url.hostname, url.port, timeout=timeout,
                                                 context=_tls_context(ca_bundle))
    elif url.scheme == "http":
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    else:
        raise ValueError(f"endpoint must be an http:// or https:// URL, not {endpoint!r}")
    path = url.path.rstrip("/") + _wire.submit_path(project, ping_type, document_id)
    payload = gzip.compress(body, compresslevel=6, mtime=0)
    try:
        connection.request("POST", path, body=payload, headers={
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "User-Agent": USER_AGENT,
            **SIMULATION_HEADERS,
        })
        response = connection.getresponse()
        text = response.read(64 * 1024)
        error = None
        if response.status >= 400:
            error = text.decode("utf-8", "replace")[:500]
        return Answer(response.status, response.getheader("Retry-After"), error)
    finally:
        connection.close()
