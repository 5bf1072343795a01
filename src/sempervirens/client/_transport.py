"""One HTTP(S) POST of one ping: gzip, certificate verification, bounded by a timeout.

HTTPS verifies the server's certificate against the system trust store, or the
CA bundle named by the project or SEMPERVIRENS_CA_BUNDLE.  Plain HTTP is used only
when the endpoint URL says `http://`.

A minimal HTTP/1.1 client over `socket` rather than `http.client`: http.client
pulls in the `email` package, whose import and tear-down cost a short-lived host
tens of milliseconds at exit, for one POST whose answer we read three things of.

Proxies are honoured as curl honours them: `https_proxy`/`HTTPS_PROXY` for
https:// endpoints (a CONNECT tunnel, TLS end to end with the server),
`http_proxy`/`HTTP_PROXY` for http:// ones (the upper-case form is ignored in a
CGI request, as urllib does against "httpoxy"), `all_proxy`/`ALL_PROXY` for
either, and `no_proxy`/`NO_PROXY` (host names and their subdomains, IP addresses,
CIDR ranges, `*`) to go direct.  The lower-case form wins over the upper-case.
Proxy credentials in the proxy URL are sent as Basic authentication.
"""

from __future__ import annotations

import socket
import zlib

from .. import __version__
from . import _config, _wire

USER_AGENT = f"sempervirens-python/{__version__}"
MAX_HEAD = 64 * 1024
# For `sempervirens simulate` only: headers added to every request (a simulated
# client's X-Forwarded-For, which a server believes only from a trusted proxy).
# The library never sets it; it is empty in real use.
SIMULATION_HEADERS: dict = {}


class Answer:
    __slots__ = ("error", "policy", "retry_after", "status")

    def __init__(
        self, status: int, retry_after: str | None, error: str | None, policy: tuple = ()
    ) -> None:
        self.status, self.retry_after, self.error = status, retry_after, error
        # (policy version, latest material version, latest security notice): the
        # policy headers of a 2xx, () without them; an unreadable value is None.
        self.policy = policy


def _policy_headers(headers: dict) -> tuple:
    version = headers.get(_wire.POLICY_VERSION.lower())
    if version is None:
        return ()
    values = (
        version,
        headers.get(_wire.POLICY_MATERIAL.lower()),
        headers.get(_wire.SECURITY_NOTICE.lower()),
    )
    return tuple(
        int(v) if v is not None and v.isascii() and v.isdigit() and len(v) < 10 else None
        for v in values
    )


class BadResponse(OSError):
    """The server's answer is not HTTP: treated like a network failure (retry later)."""


def split_endpoint(endpoint: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, base path) of an http:// or https:// URL."""
    problem = _config.endpoint_problem(endpoint)  # its message shows no credentials
    if problem:
        raise ValueError(problem)
    scheme, _, rest = endpoint.partition("://")
    scheme = scheme.lower()
    authority, slash, path = rest.partition("/")
    authority = authority.rpartition("@")[2]  # never send credentials in a URL
    port = 443 if scheme == "https" else 80
    if authority.startswith("["):  # [::1]:8443
        host, _, tail = authority[1:].partition("]")
        if tail.startswith(":"):
            port = int(tail[1:])
    elif ":" in authority:
        host, _, raw_port = authority.rpartition(":")
        port = int(raw_port)
    else:
        host = authority
    return scheme, host, port, ("/" + path if slash else "").rstrip("/")


_contexts: dict = {}


def _tls_context(ca_bundle: str | None):
    import ssl

    context = _contexts.get(ca_bundle)
    if context is None:
        context = ssl.create_default_context(cafile=ca_bundle)  # verifies, checks host names
        _contexts[ca_bundle] = context
    return context


def gzip_bytes(data: bytes) -> bytes:
    # The gzip format via zlib (wbits=31), without importing the `gzip` module.
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def post(
    endpoint: str,
    project: str,
    ping_type: str,
    document_id: str,
    body: bytes,
    timeout: float,
    ca_bundle: str | None = None,
) -> Answer:
    """POST one ping; returns the server's answer, raises OSError on network failure."""
    scheme, host, port, base = split_endpoint(endpoint)
    path = base + _wire.submit_path(project, ping_type, document_id)
    payload = gzip_bytes(body)
    host_header = f"[{host}]" if ":" in host else host
    if port != (443 if scheme == "https" else 80):
        host_header += f":{port}"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {USER_AGENT}\r\n"
        f"Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in SIMULATION_HEADERS.items())
        + f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    )
    proxy = proxy_for(scheme, host)
    if proxy is None:
        sock = socket.create_connection((host, port), timeout=timeout)
    else:
        proxy_host, proxy_port, authorization = proxy
        sock = socket.create_connection((proxy_host, proxy_port), timeout=timeout)
        if scheme == "https":
            authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            _connect_tunnel(sock, authority, authorization)
        else:
            # Absolute form: the proxy forwards it to the server.
            head = head.replace(f"POST {path} ", f"POST http://{host_header}{path} ", 1)
            if authorization:
                head = head.replace("\r\n", f"\r\nProxy-Authorization: {authorization}", 1)
    try:
        if scheme == "https":
            sock = _tls_context(ca_bundle).wrap_socket(sock, server_hostname=host)
        sock.sendall(head.encode("ascii") + payload)
        return _read_answer(sock)
    finally:
        sock.close()


def _connect_tunnel(sock, authority: str, authorization: str | None) -> None:
    request = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
    if authorization:
        request += f"Proxy-Authorization: {authorization}\r\n"
    sock.sendall((request + "\r\n").encode("ascii"))
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1)  # byte by byte: what follows the head belongs to TLS
        if not chunk:
            raise BadResponse("the proxy closed the connection during CONNECT")
        data += chunk
        if len(data) > MAX_HEAD:
            raise BadResponse("proxy response head too long")
    status_line = data.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or parts[1] != "200":
        raise BadResponse(f"the proxy refused the tunnel: {status_line[:80]!r}")


def _environ_value(names: tuple, environ) -> str | None:
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return value
    return None


def proxy_for(scheme: str, host: str, environ=None):
    """(proxy host, proxy port, Proxy-Authorization or None) for `host`, or None: direct."""
    import os

    environ = os.environ if environ is None else environ
    if scheme == "https":
        names: tuple = ("https_proxy", "HTTPS_PROXY")
    elif environ.get("REQUEST_METHOD"):
        names = ("http_proxy",)  # a CGI request: HTTP_PROXY may come from a client header
    else:
        names = ("http_proxy", "HTTP_PROXY")
    url = _environ_value(names, environ) or _environ_value(("all_proxy", "ALL_PROXY"), environ)
    if url is None or bypasses_proxy(host, _environ_value(("no_proxy", "NO_PROXY"), environ)):
        return None
    return parse_proxy(url)


def parse_proxy(url: str):
    """(host, port, Proxy-Authorization or None) of an http:// proxy URL (scheme optional)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "http", url
    if scheme.lower() != "http":
        raise ValueError(f"unsupported proxy scheme {scheme!r} (only http:// proxies)")
    authority = rest.partition("/")[0]
    credentials, at, hostport = authority.rpartition("@")
    authorization = None
    if at:
        import base64
        from urllib.parse import unquote

        user, _, password = credentials.partition(":")
        token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
        authorization = f"Basic {token}"
    port = 1080  # curl's default proxy port
    if hostport.startswith("["):
        host, _, tail = hostport[1:].partition("]")
        if tail.startswith(":"):
            port = int(tail[1:])
    elif ":" in hostport:
        host, _, raw = hostport.rpartition(":")
        port = int(raw)
    else:
        host = hostport
    if not host:
        raise ValueError(f"proxy URL without a host: {_config.without_credentials(url)!r}")
    return host, port, authorization


def bypasses_proxy(host: str, no_proxy: str | None) -> bool:
    """Whether NO_PROXY sends `host` direct, as curl reads it."""
    if not no_proxy:
        return False
    host = host.strip("[]").rstrip(".").lower()
    for entry in no_proxy.split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if entry.startswith("["):
            entry = entry[1:].partition("]")[0]
        elif entry.count(":") == 1:
            entry = entry.partition(":")[0]  # host:port: the port is not compared
        entry = entry.lstrip(".").rstrip(".")
        if "/" in entry:
            if _in_network(host, entry):
                return True
            continue
        if host == entry or host.endswith("." + entry):
            return True
    return False


def _in_network(host: str, cidr: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def _read_answer(sock) -> Answer:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(8192)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_HEAD:
            raise BadResponse("response head too long")
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise BadResponse(f"not an HTTP response: {lines[0][:80]!r}")
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    error = None
    if status >= 400:
        length = headers.get("content-length", "")
        wanted = min(int(length), MAX_HEAD) if length.isdigit() else MAX_HEAD
        while len(rest) < wanted:
            chunk = sock.recv(8192)
            if not chunk:
                break
            rest += chunk
        # Shown on the user's terminal (`sempervirens send`): printable ASCII only, as
        # every answer of ours is, so that no server can send the terminal an escape.
        said = rest[:500].decode("ascii", "replace")
        error = "".join(c if " " <= c <= "~" else "?" for c in said)
    policy = _policy_headers(headers) if 200 <= status < 300 else ()
    return Answer(status, headers.get("retry-after"), error, policy)
