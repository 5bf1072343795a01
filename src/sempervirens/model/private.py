"""The private aggregates: what the engine counts from the IP-free origins the private
store gives it (docs/aggregation.md), kept in the private store and shown to a
project's maintainer and to admins only.

Counts per project, interval, period and key: never an address, a hostname or an
installation id.  The private store's tables (aggregate/tables.py), the engine's
queries (aggregate/engine/_private_queries.py) and the private API's schema derive
from here.
"""

from __future__ import annotations

from dataclasses import dataclass

# What enrichment makes of an address (sempervirens.enrich): a university, school or
# research institution; anything else with a name; no name (no forward-confirmed DNS).
ORIGIN_KINDS = ("academic", "other", "unknown")


@dataclass(frozen=True)
class PrivateTable:
    name: str
    keys: tuple[tuple[str, int], ...]  # (column, most characters) after the period's
    counts: tuple[str, ...]  # distinct installations, each column a condition
    description: str


PRIVATE_TABLES: tuple[PrivateTable, ...] = (
    PrivateTable("private_institution_users", (("institution", 255), ("kind", 10)), ("users",),
                 "Installations per institution and kind; one seen at two counts at both."),
    PrivateTable("private_origin_summary", (), ("users", *ORIGIN_KINDS, "edu"),
                 "Installations in all, seen with each kind, and at a registered domain "
                 "under .edu; one seen with two kinds counts under both."),
)
BY_NAME = {t.name: t for t in PRIVATE_TABLES}
