"""What enrichment says about one IP address."""

from __future__ import annotations

from dataclasses import dataclass

from ._classify import UNKNOWN, Kind, classify
from ._domain import plain_hostname, registered_domain


@dataclass(frozen=True)
class Origin:
    """Where an address is, as far as forward-confirmed reverse DNS can tell.

    Private data: it is derived from an IP address and belongs in the private store.
    """

    hostname: str | None  # forward-confirmed PTR name, lower case, no final dot, <= 253 chars
    domain: str | None  # its registered domain (Public Suffix List, ICANN section)
    institution: str | None  # a name for academic domains, else the registered domain
    kind: Kind  # "academic", "other" or "unknown"


UNKNOWN_ORIGIN = Origin(None, None, None, UNKNOWN)


def origin_of_hostname(hostname: str | None) -> Origin:
    """The Origin of an already confirmed hostname (None, or no plain hostname -> unknown)."""
    name = plain_hostname(hostname)
    domain = registered_domain(name)
    if domain is None:
        return Origin(name, None, None, UNKNOWN) if name else UNKNOWN_ORIGIN
    institution, kind = classify(domain)
    return Origin(name, domain, institution, kind)
