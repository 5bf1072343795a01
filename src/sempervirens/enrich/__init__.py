"""Enrichment of the private store: IP address -> hostname -> institution.

Forward-confirmed reverse DNS gives a hostname, the Public Suffix List (ICANN
section) its registered domain, and academic lists plus our curated list of research
institutions its institution and kind.  Everything here is private data: it is
derived from IP addresses and never logged above DEBUG.  See docs/enrichment.md.
"""

from ._cache import TTLCache
from ._classify import ACADEMIC, OTHER, UNKNOWN, Kind, classify, research_labs
from ._domain import registered_domain
from ._enrich import enrich, enrich_async
from ._nameserver import Nameserver, parse_nameserver
from ._origin import Origin, origin_of_hostname
from ._rdns import (
    DEFAULT_BATCH_TIMEOUT,
    DEFAULT_CONCURRENCY,
    DEFAULT_TIMEOUT,
    resolve_many,
    resolve_many_sync,
)

__all__ = [
    "ACADEMIC",
    "DEFAULT_BATCH_TIMEOUT",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_TIMEOUT",
    "OTHER",
    "UNKNOWN",
    "Kind",
    "Nameserver",
    "Origin",
    "TTLCache",
    "classify",
    "enrich",
    "enrich_async",
    "origin_of_hostname",
    "parse_nameserver",
    "registered_domain",
    "research_labs",
    "resolve_many",
    "resolve_many_sync",
]
