"""The address a request came from: the socket peer, or what trusted proxies say.

X-Forwarded-For is believed only when the peer is one of the configured proxies,
and then only up to the first hop that is not one: anyone can write that header.
Several X-Forwarded-For lines are one list, in their order (RFC 9110 5.3: a proxy
may add a line of its own rather than extend the last).  An entry may carry a port
(`192.0.2.1:4711`, `[2001:db8::1]:4711`, as some proxies write it) or brackets.

Every address, the peer's, each hop's and the trusted networks, is compared and
stored in one canonical form: an IPv4 address seen through an IPv6 socket
(`::ffff:192.0.2.1`) is the IPv4 address, an IPv6 zone (`%eth0`) is dropped, and
IPv6 is written compressed in lower case.  One installation behind one address has
one address in the private store, and a proxy is recognised however it is written.
"""

from __future__ import annotations

import functools
import ipaddress

from ..model.sources import source

# Only short X-Forwarded-For values are remembered: the cache is keyed on what
# clients send, so it must stay small in bytes, not just in entries (4096 entries
# of 1 MB headers would be 4 GB).
CACHED_HEADER_BYTES = 256
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


class ClientAddress:
    def __init__(self, trusted_proxies: tuple[str, ...] = ()) -> None:
        self._trusted = tuple(_canonical_network(ipaddress.ip_network(p, strict=False))
                              for p in trusted_proxies)
        # Parsing addresses is slow next to the rest of a request; a few peers
        # (proxies, busy NATs) send most pings.
        self._cached = functools.lru_cache(maxsize=4096)(self._resolve)

    def _is_trusted(self, address) -> bool:
        return any(address in network for network in self._trusted)

    def trusts(self, peer: str) -> bool:
        """Whether this socket peer is one of the trusted proxies."""
        try:
            return self._is_trusted(_canonical(ipaddress.ip_address(peer)))
        except ValueError:
            return False

    def group(self, peer: str) -> str | None:
        """What one client's connections count against: its source (model/sources.py:
        its IPv4 address, or its IPv6 /64, whose addresses it may rotate at will).  None
        for a trusted proxy (its connections carry many clients) or a peer with no address."""
        try:
            address = _canonical(ipaddress.ip_address(peer))
        except ValueError:
            return None
        if self._is_trusted(address):
            return None
        return source(str(address))

    def of(self, scope: dict) -> str:
        """The address of an ASGI request: its peer, and every X-Forwarded-For line in order."""
        lines = [value for name, value in scope["headers"] if name == b"x-forwarded-for"]
        client = scope.get("client")
        forwarded_for = b",".join(lines).decode("latin-1") if lines else None
        return self(client[0] if client else "", forwarded_for)

    def __call__(self, peer: str, forwarded_for: str | None) -> str:
        if forwarded_for is not None and len(forwarded_for) > CACHED_HEADER_BYTES:
            return self._resolve(peer, forwarded_for)
        return self._cached(peer, forwarded_for)

    def _resolve(self, peer: str, forwarded_for: str | None) -> str:
        try:
            hop = _canonical(ipaddress.ip_address(peer))
        except ValueError:  # a unix socket or test transport: no address to keep
            return peer[:45]  # the access log's column
        if not self._trusted or not forwarded_for or not self._is_trusted(hop):
            return str(hop)
        for part in reversed(forwarded_for.split(",")[-64:]):  # a longer chain: stop at 64 hops
            claimed = _entry(part)
            if claimed is None:
                break  # garbage in the chain: stop at the last hop we could verify
            hop = claimed
            if not self._is_trusted(hop):
                break
        return str(hop)


def _entry(text: str):
    """One X-Forwarded-For entry as a canonical address; None if it is not one."""
    text = text.strip()
    if text.startswith("["):  # [2001:db8::1] or [2001:db8::1]:4711
        text, bracket, port = text[1:].partition("]")
        if not bracket or not _is_port(port):
            return None
    elif text.count(":") == 1:  # 192.0.2.1:4711 (an IPv6 address has two colons or more)
        text, _, port = text.partition(":")
        if not _is_port(":" + port):
            return None
    try:
        return _canonical(ipaddress.ip_address(text))
    except ValueError:
        return None


def _is_port(text: str) -> bool:
    """'' or ':' and 1 to 5 ASCII digits."""
    return not text or (text[0] == ":" and 1 < len(text) <= 6 and text[1:].isascii()
                        and text[1:].isdigit())


def _canonical(address):
    # An IPv4 client reaching an IPv6 socket shows as ::ffff:a.b.c.d; keep a.b.c.d.
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return address.ipv4_mapped
        if address.scope_id:
            # fe80::1%<zone>: the zone names an interface of the sender, of any length;
            # it is not part of the address (and would not fit the log's 45 characters).
            return ipaddress.IPv6Address(str(address).partition("%")[0])
    return address


def _canonical_network(network):
    """A trusted network written as IPv4-mapped IPv6 (::ffff:10.0.0.0/104) is that IPv4 network."""
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
        return ipaddress.IPv4Network((network.network_address.ipv4_mapped, network.prefixlen - 96))
    return network
