"""Strings shaped like identifiers of a person or a machine, which a ping must not carry.

Metric names, labels, project versions and dropped reasons end up as names and
labels in the store and, aggregated, on public pages.  A client that puts a user's
e-mail address, a host name, a path or a UUID there (by mistake or on purpose)
would turn a label into an identifier, so the validator refuses these shapes:

- a UUID in 8-4-4-4-12 form anywhere in the string (also in environment and library
  strings: no ping may carry another installation's client_id, see admin/deletion.py);
- an IPv4 address (four dotted numbers of 0..255) or an IPv6 address anywhere, but
  a version's release numbers (4.10.0.84 at the start of a project version);
- an e-mail address (``local@domain.tld``);
- a host name: a dotted run of DNS labels ending in com, org, net, edu, gov, mil,
  biz or a local-network name (local, lan, internal, localdomain, intranet,
  localhost), or a run of three or more labels ending in a country code or in a
  public suffix of two or more labels (ac.uk, co.jp) from the Public Suffix List.
  Two-part metric names whose last part is a newer generic TLD (``plot.show``,
  ``io.save``, ``core.app``, ``disk.io``) are not host names; names with an
  underscore in their last part (``io.read_csv``) never are;
- a file path: any ``/`` or ``\\``, a leading ``~``, or a drive letter (``C:``).

Standard library only at import: the Public Suffix List (`publicsuffixlist`, a
server dependency) is loaded on first use; without it two-letter labels count as
country codes.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

UUID_ANYWHERE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_IPV4 = re.compile(r"(?<![0-9]\.)(?<![0-9])([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})(?![0-9]|\.[0-9])")
# Runs of hex digits, colons and dots holding at least two colons: IPv6 candidates.
_IPV6 = re.compile(r"(?<![0-9A-Za-z_:.])(?=[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:)[0-9A-Fa-f:.]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# Dotted runs of DNS labels; an underscore ends a run (it is not valid in a host name).
_DOMAIN = re.compile(r"(?<![A-Za-z0-9\-])[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
_DRIVE = re.compile(r"(?:\A|[^A-Za-z0-9])[A-Za-z]:(?:\Z|[\\/])")

HOST_TLDS = frozenset((
    "com", "org", "net", "edu", "gov", "mil", "biz",
    "local", "lan", "internal", "localdomain", "intranet", "localhost",
))


@lru_cache(maxsize=1)
def public_suffix_list():
    """The list, loaded once (it takes a few hundred ms: the server loads it at start)."""
    try:
        from publicsuffixlist import PublicSuffixList
    except ImportError:  # the client alone: no list
        return None
    return PublicSuffixList(only_icann=False, accept_unknown=False)


def _is_country_code(label: str) -> bool:
    if len(label) != 2 or not label.isalpha():
        return False
    psl = public_suffix_list()
    return psl is None or psl.publicsuffix(label) == label


def _is_host_name(run: str) -> bool:
    labels = run.lower().split(".")
    tld = labels[-1]
    if tld in HOST_TLDS:
        return True
    if len(labels) < 3 or not tld.isalpha() or any(not label for label in labels):
        return False
    if _is_country_code(tld):
        return True
    psl = public_suffix_list()
    suffix = psl.publicsuffix(".".join(labels)) if psl is not None else None
    return bool(suffix) and "." in suffix


def uuid_in(value: str) -> bool:
    return "-" in value and UUID_ANYWHERE.search(value) is not None


# The same metric names, labels and versions arrive in most pings: remember the
# verdicts.  The validator checks lengths first (at most 128 characters), so the
# cache holds at most a few megabytes whatever clients send.
@lru_cache(maxsize=16384)
def identifier_in(value: str, version: bool = False) -> str | None:
    """What identifier `value` looks like or holds ("an e-mail address"), or None.

    version: `value` is a project's version, whose release numbers at its start may be
    four of 0..255 (opencv-python's 4.10.0.84) without being an IPv4 address: the whole
    project sends the same, and refusing it lost every ping of such a project."""
    if uuid_in(value):
        return "a UUID"
    if "/" in value or "\\" in value or value.startswith("~") or (":" in value and _DRIVE.search(value)):
        return "a file path"
    if "@" in value and _EMAIL.search(value):
        return "an e-mail address"
    if "." in value:
        release = -1  # where a version's release numbers start: not an address there
        if version:
            release = 1 if value[:1] in ("v", "V") else 0
        for match in _IPV4.finditer(value):
            if match.start() != release and all(int(part) <= 255 for part in match.groups()):
                return "an IPv4 address"
    if ":" in value:
        for match in _IPV6.finditer(value):
            try:
                ipaddress.IPv6Address(match.group().rstrip(".").split("%")[0])
            except ValueError:
                continue
            return "an IPv6 address"
    if "." in value:
        for match in _DOMAIN.finditer(value):
            if _is_host_name(match.group()):
                return "a host name"
    return None
