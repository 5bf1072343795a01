"""Forward-confirmed reverse DNS: IP address -> PTR hostname, or None.

Whoever holds an address block writes its PTR records, and can write any name there
(``x.mit.edu`` for an address that MIT never had).  So a PTR name is kept only when
its own A (IPv4) or AAAA (IPv6) records contain the address again; otherwise it is
discarded as spoofed.

DNS may be slow or down: each lookup and each batch has a time limit, lookups run
with bounded concurrency, and a batch never raises because of DNS.  A lookup that
fails or runs out of time (a timeout, SERVFAIL, a refused or unreachable server) gives
None too, but is not an answer: it is not cached, and a caller that passes a `failed`
set gets the address added to it, so that it can keep the address pending and try
again later.  Only NXDOMAIN or an empty answer is a definite "no PTR"; definite answers
(a confirmed name, no PTR, a spoofed PTR) are cached.

IP addresses and hostnames are personal data: they are logged at DEBUG only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import logging
from collections.abc import Iterable

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.resolver

from ..monitoring import DNS_FAILURES
from ._cache import MISSING, TTLCache
from ._domain import plain_hostname
from ._nameserver import Nameserver, parse_nameserver

log = logging.getLogger("sempervirens.enrich")

DEFAULT_TIMEOUT = 2.0  # seconds for one address: its PTR query and the forward queries
DEFAULT_BATCH_TIMEOUT = 30.0  # seconds for a whole batch, however many addresses
DEFAULT_CONCURRENCY = 32  # lookups in flight at once
MAX_PTR_NAMES = 4  # PTR names of one address that are forward-checked (rarely > 1)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# (nameserver, address) -> confirmed hostname or None.  In memory, per process.
_CACHE: TTLCache[tuple[str, str], str | None] = TTLCache(maxsize=65536, ttl=3600.0)


class _Failed(Exception):
    """A lookup that gave no definite answer (timeout, SERVFAIL, refused, ...)."""


_EXPECTED = (_Failed, asyncio.TimeoutError, OSError, dns.exception.DNSException)


async def resolve_many(
    ips: Iterable[str],
    *,
    nameserver: str | Nameserver | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    batch_timeout: float = DEFAULT_BATCH_TIMEOUT,
    concurrency: int = DEFAULT_CONCURRENCY,
    cache: TTLCache | None = _CACHE,
    failed: set[str] | None = None,
) -> dict[str, str | None]:
    """Map each address to its forward-confirmed PTR hostname, or None.

    `nameserver` is the `dns_server` setting (``HOST:PORT``, ``[IPv6]:PORT``); None
    uses the system resolver (/etc/resolv.conf).  A malformed `nameserver` raises
    ValueError; nothing that DNS does raises.  None means: no PTR record, a PTR name
    that does not resolve back to the address, not an IP address, or no answer in
    time.  Keys are the strings given.  Pass ``cache=None`` to bypass the cache, and a
    set as `failed` to learn which addresses got no definite answer (retry those later).
    """
    failed = set() if failed is None else failed
    failed_before = len(failed)
    ips = list(dict.fromkeys(ips))  # unique, in order
    server = parse_nameserver(nameserver) if nameserver is not None else None
    server_key = str(server) if server else "system"
    results: dict[str, str | None] = {}
    todo: dict[str, IPAddress] = {}
    for text in ips:
        address = _parse_ip(text)
        if address is None:
            log.debug("reverse DNS: not an IP address: %r", text)
            results[text] = None
            continue
        hit = cache.get((server_key, str(address))) if cache is not None else MISSING
        if hit is MISSING:
            todo[text] = address
        else:
            results[text] = hit  # type: ignore[assignment]
    if not todo:
        return results
    try:
        resolver = _make_resolver(server, timeout)
    except dns.exception.DNSException as error:  # e.g. no /etc/resolv.conf
        log.warning("reverse DNS unavailable (%s): %d addresses left unknown",
                    type(error).__name__, len(todo))
        results.update(dict.fromkeys(todo))
        failed.update(todo)
        DNS_FAILURES.inc(len(failed) - failed_before)
        return results

    semaphore = asyncio.Semaphore(max(1, concurrency))

    async def one(address: IPAddress) -> str | None:
        async with semaphore:
            return await asyncio.wait_for(_lookup(resolver, address), timeout)

    tasks = {asyncio.ensure_future(one(address)): text for text, address in todo.items()}
    try:
        _, pending = await asyncio.wait(tasks, timeout=batch_timeout)
    finally:
        for task in tasks:
            task.cancel()  # no-op for finished ones; stops the rest, also if we are cancelled
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
        log.warning("reverse DNS: batch time limit (%.1f s) reached, %d of %d lookups left "
                    "unknown", batch_timeout, len(pending), len(tasks))
    errors = 0
    for task, text in tasks.items():
        if task in pending:
            results[text] = None
            failed.add(text)
            continue
        error = task.exception()
        if error is not None:
            errors += 1
            if not isinstance(error, _EXPECTED):  # a bug: say so, but not the address
                log.error("reverse DNS: unexpected %s (details at debug level)",
                          type(error).__name__)
            log.debug("reverse DNS failed for %s: %r", text, error)
            results[text] = None
            failed.add(text)
            continue
        results[text] = task.result()
        if cache is not None:
            cache.set((server_key, str(todo[text])), task.result())
        log.debug("reverse DNS: %s -> %s", text, task.result())
    if errors:
        log.info("reverse DNS: %d of %d lookups failed or timed out; reported as unknown",
                 errors, len(tasks))
    DNS_FAILURES.inc(len(failed) - failed_before)
    return {text: results[text] for text in ips}


def resolve_many_sync(ips: Iterable[str], **options) -> dict[str, str | None]:
    """resolve_many() for synchronous callers; safe to call from inside an event loop."""
    return run_sync(resolve_many, list(ips), **options)


def run_sync(function, *args, **kwargs):
    """Run a coroutine function to completion, in a helper thread if a loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(function(*args, **kwargs))
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sempervirens-dns") as pool:
        return pool.submit(lambda: asyncio.run(function(*args, **kwargs))).result()


def _parse_ip(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except (ValueError, AttributeError):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:192.0.2.1 is 192.0.2.1
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        return ipaddress.IPv6Address(str(address).partition("%")[0])
    return address


def _make_resolver(server: Nameserver | None, timeout: float) -> dns.asyncresolver.Resolver:
    if server is None:
        resolver = dns.asyncresolver.Resolver(configure=True)
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(server.address, server.port)]
    resolver.cache = None  # ours caches the confirmed result instead
    resolver.timeout = timeout
    resolver.lifetime = timeout
    resolver.use_search_by_default = False
    return resolver


async def _lookup(resolver: dns.asyncresolver.Resolver, address: IPAddress) -> str | None:
    """The confirmed PTR name of `address`, None for a definite no; _Failed otherwise."""
    try:
        answer = await resolver.resolve_address(str(address))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None
    except dns.exception.DNSException as error:
        raise _Failed(type(error).__name__) from error
    names = sorted({_hostname(rdata.target) for rdata in answer} - {None})[:MAX_PTR_NAMES]
    outcomes = await asyncio.gather(
        *(_confirms(resolver, name, address) for name in names), return_exceptions=True
    )
    for name, outcome in zip(names, outcomes):
        if outcome is True:
            return name
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise _Failed("forward lookup") from outcome
    if names:
        log.debug("reverse DNS: %s has PTR %s without matching forward records",
                  address, ", ".join(names))
    return None


async def _confirms(resolver: dns.asyncresolver.Resolver, name: str, address: IPAddress) -> bool:
    """Whether the A (IPv4) or AAAA (IPv6) records of `name` contain `address`."""
    rdtype = "A" if address.version == 4 else "AAAA"
    try:
        answer = await resolver.resolve(dns.name.from_text(name), rdtype)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return False
    except dns.exception.DNSException as error:
        raise _Failed(type(error).__name__) from error
    return any(ipaddress.ip_address(rdata.address) == address for rdata in answer)


def _hostname(target: dns.name.Name) -> str | None:
    """The PTR target as a plain hostname; None for any other name (escaped bytes, a
    label with a dot or a space in it): it names no host, so it is not checked at all."""
    return plain_hostname(target.to_text(omit_final_dot=True))
