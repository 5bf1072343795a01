"""IP addresses -> Origin: reverse DNS, then registered domain, then classification."""

from __future__ import annotations

from collections.abc import Iterable

from ._cache import TTLCache
from ._nameserver import Nameserver
from ._origin import Origin, origin_of_hostname
from ._rdns import (
    _CACHE,
    DEFAULT_BATCH_TIMEOUT,
    DEFAULT_CONCURRENCY,
    DEFAULT_TIMEOUT,
    resolve_many,
    run_sync,
)


async def enrich_async(
    ips: Iterable[str],
    *,
    nameserver: str | Nameserver | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    batch_timeout: float = DEFAULT_BATCH_TIMEOUT,
    concurrency: int = DEFAULT_CONCURRENCY,
    cache: TTLCache | None = _CACHE,
    failed: set[str] | None = None,
) -> dict[str, Origin]:
    """The Origin of each address; see resolve_many() for the DNS options.

    Never raises because of DNS: what cannot be resolved in time is "unknown", and is
    added to `failed` when a set is given (a lookup to retry, not a final answer).
    """
    names = await resolve_many(ips, nameserver=nameserver, timeout=timeout,
                               batch_timeout=batch_timeout, concurrency=concurrency,
                               cache=cache, failed=failed)
    return {ip: origin_of_hostname(name) for ip, name in names.items()}


def enrich(ips: Iterable[str], *, nameserver: str | Nameserver | None = None,
           **options) -> dict[str, Origin]:
    """enrich_async() for synchronous callers (also from inside a running event loop).

    `nameserver` is the `dns_server` setting (None: the system resolver).
    """
    return run_sync(enrich_async, list(ips), nameserver=nameserver, **options)
