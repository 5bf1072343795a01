"""The private aggregates' queries: DuckDB SQL over `origins` joined to `periods`.

`origins` (project, day, client_id, kind, institution, edu) comes from the private
store (the lake has no address to derive it from).  Each query returns the columns
of the private store's table of the same name without `interval`; like `_queries`,
it keeps to the SQL DuckDB and Spark share, so the Spark runner transpiles it.
"""

from __future__ import annotations

from ...model.private import ORIGIN_KINDS, PRIVATE_TABLES

_IN_PERIODS = "FROM origins AS o JOIN periods AS pr ON o.day = pr.day"


def _users(condition: str) -> str:
    return f"COUNT(DISTINCT CASE WHEN {condition} THEN o.client_id END)"


_BY_KIND = ", ".join(_users("o.kind = '%s'" % kind) + f" AS {kind}" for kind in ORIGIN_KINDS)

PRIVATE_QUERIES = {
    # Installations per institution and kind; an installation seen at two counts at both.
    "private_institution_users": f"""
SELECT o.project, pr.period_start, o.institution, o.kind, COUNT(DISTINCT o.client_id) AS users
{_IN_PERIODS}
WHERE o.institution IS NOT NULL
GROUP BY o.project, pr.period_start, o.institution, o.kind
""",
    # Installations in all, and seen with each kind (once per kind) or at a .edu domain.
    "private_origin_summary": f"""
SELECT o.project, pr.period_start, COUNT(DISTINCT o.client_id) AS users,
  {_BY_KIND}, {_users("o.edu")} AS edu
{_IN_PERIODS}
GROUP BY o.project, pr.period_start
""",
}
# One query per table of the catalogue; tests/aggregate/test_engine_private.py checks
# that each returns its table's columns, in their order.
assert list(PRIVATE_QUERIES) == [t.name for t in PRIVATE_TABLES]
