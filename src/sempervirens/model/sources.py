"""Where pings come from, as counted when one source could act as many.

A source is an IPv4 address, or an IPv6 /64: one host may use every address of its
/64 (SLAAC's temporary addresses change by the day; a subscriber's /64 is its own), so
counting IPv6 addresses one by one would let a single host pass for any number of
them.  Anomaly detection counts installations per source; the server caps each
source's connections.
"""

from __future__ import annotations

import ipaddress

IPV6_PREFIX = 64


def ipv6_network(address: str) -> str | None:
    """The /64 of an IPv6 address, as text ("2001:db8:1:2::/64"); None for IPv4, whose
    address is its own source."""
    if ":" not in address:
        return None
    return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))


def source(address: str) -> str:
    """The source of an address in canonical form: itself (IPv4) or its /64 (IPv6)."""
    return ipv6_network(address) or address
