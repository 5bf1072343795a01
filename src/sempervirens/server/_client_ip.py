"""The address a request came from: the socket peer, or what trusted proxies say.

X-Forwarded-For is believed only when the peer is one of the configured proxies,
and then only up to the first hop that is not one: anyone can write that header.
"""

from __future__ import annotations

import functools
import ipaddress

# Only short X-Forwarded-For values are remembered: the cache is keyed on what
# clients send, so it must stay small in bytes, not just in entries (4096 entries
# of 1 MB headers would be 4 GB).
CACHED_HEADER_BYTES = 256


class ClientAddress:
    def __init__(self, trusted_proxies: tuple[str, ...] = ()) -> None:
        self._trusted = tuple(ipaddress.ip_network(p, strict=False) for p in trusted_proxies)
        # Parsing addresses is slow next to the rest of a request; a few peers
        # (proxies, busy NATs) send most pings.
        self._cached = functools.lru_cache(maxsize=4096)(self._resolve)

    def _is_trusted(self, address) -> bool:
        return any(address in network for network in self._trusted)

    def __call__(self, peer: str, forwarded_for: str | None) -> str:
        if forwarded_for is not None and len(forwarded_for) > CACHED_HEADER_BYTES:
            return self._resolve(peer, forwarded_for)
        return self._cached(peer, forwarded_for)

    def _resolve(self, peer: str, forwarded_for: str | None) -> str:
        try:
            hop = ipaddress.ip_address(peer)
        except ValueError:  # a unix socket or test transport: no address to keep
            return peer[:45]  # the access log's column
        if not self._trusted or not forwarded_for or not self._is_trusted(hop):
            return _text(hop)
        for part in reversed(forwarded_for.split(",")[-64:]):  # a longer chain: stop at 64 hops
            try:
                hop = ipaddress.ip_address(part.strip())
            except ValueError:
                break  # garbage in the chain: stop at the last hop we could verify
            if not self._is_trusted(hop):
                break
        return _text(hop)


def _text(address) -> str:
    # An IPv4 client reaching an IPv6 socket shows as ::ffff:a.b.c.d; keep a.b.c.d.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        # fe80::1%<zone>: the zone names an interface of the sender, of any length;
        # it is not part of the address (and would not fit the log's 45 characters).
        address = ipaddress.IPv6Address(str(address).partition("%")[0])
    return str(address)
