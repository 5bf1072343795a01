"""Hostname -> registered domain, with the Public Suffix List shipped in `publicsuffixlist`.

Only the ICANN section of the list is used: names under private suffixes that
companies run for their customers (``*.amazonaws.com``, ``*.github.io``) count as
belonging to the company, which is who operates the address.  The list is read from
the package; nothing is fetched at run time.  IP literals and names that are not
plain DNS hostnames give None.
"""

from __future__ import annotations

import functools
import ipaddress
import re

from publicsuffixlist import PublicSuffixList

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"  # letters, digits, inner hyphens
_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


@functools.lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    # accept_unknown=False: a name under a TLD that does not exist (.lan, .internal)
    # has no registered domain, instead of the PSL's default of guessing one.
    return PublicSuffixList(only_icann=True, accept_unknown=False)


def registered_domain(hostname: str | None) -> str | None:
    """The registrable domain of `hostname` (``cs.stanford.edu`` -> ``stanford.edu``).

    None for an IP literal, a malformed name, a name under an unknown TLD, or a name
    that is itself a public suffix.  IDNs are returned in their ASCII (xn--) form.
    """
    name = _normalize(hostname)
    if name is None:
        return None
    return _psl().privatesuffix(name)


def plain_hostname(hostname: str | None) -> str | None:
    """`hostname` lower case without its final dot if it is a plain DNS hostname (letters,
    digits, hyphens and underscores, at most 253 characters; IDNs in their xn-- form),
    else None.  A PTR name may hold any byte, which dnspython writes as a \\DDD escape:
    such a name is nobody's hostname, and its text is up to four times too long."""
    if not hostname or not isinstance(hostname, str):
        return None
    name = hostname.strip().rstrip(".").lower()
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if len(name) > 253 or not _NAME.fullmatch(name):
        return None
    return name


def _normalize(hostname: str | None) -> str | None:
    if not isinstance(hostname, str) or _is_ip_literal(hostname.strip().rstrip(".").lower()):
        return None
    name = plain_hostname(hostname)
    if name is None:
        return None
    tld = name.rpartition(".")[2]
    if tld.isdigit() or tld == "arpa":  # 192.0.2.1 written oddly, or a reverse-zone name
        return None
    return name


def _is_ip_literal(name: str) -> bool:
    candidate = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    try:
        ipaddress.ip_address(candidate.partition("%")[0])
    except ValueError:
        return ":" in candidate  # anything with a colon is no hostname
    return True
