"""The `dns_server` setting: which nameserver answers reverse-DNS lookups.

Accepted forms: ``HOST:PORT`` (IPv4), ``[IPv6]:PORT``, or a bare IPv4 or IPv6 address
(port 53).  HOST must be an IP address: naming the resolver by a hostname would need
DNS to find DNS.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple

DEFAULT_PORT = 53


class Nameserver(NamedTuple):
    address: str  # an IP address, normalized
    port: int = DEFAULT_PORT

    def __str__(self) -> str:
        if ":" in self.address:
            return f"[{self.address}]:{self.port}"
        return f"{self.address}:{self.port}"


def parse_nameserver(value: str | Nameserver) -> Nameserver:
    """Parse ``HOST:PORT``, ``[IPv6]:PORT`` or a bare address; ValueError if malformed."""
    if isinstance(value, Nameserver):
        return value
    text = value.strip()
    bracketed = text.startswith("[")
    if bracketed:
        host, closed, rest = text[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise ValueError(f"DNS server: expected [IPv6]:PORT, got {value!r}")
        port = _port(rest[1:], value) if rest else DEFAULT_PORT
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _port(port_text, value)
    else:  # a bare IPv4 address, or a bare IPv6 address (several colons)
        host, port = text, DEFAULT_PORT
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"DNS server: expected an IP address as HOST:PORT or [IPv6]:PORT, got {value!r}"
        ) from None
    if bracketed and address.version != 6:
        raise ValueError(f"DNS server: brackets are for IPv6 addresses, got {value!r}")
    return Nameserver(str(address), port)


def _port(text: str, value: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"DNS server: bad port in {value!r}")
    return int(text)
