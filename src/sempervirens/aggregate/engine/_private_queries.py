"""The private aggregates' queries: DuckDB SQL over `origins` joined to `periods`.

`origins` (project, day, client_id, kind, institution, edu) comes from the private
store (the lake has no address to derive it from).  Each query returns the columns
of the private store's table of the same name without `interval`; like `_queries`,
it keeps to the SQL DuckDB and Spark share, so the Spark runner transpiles it.
"""

from __future__ import annotations

_IN_PERIODS = "FROM origins AS o JOIN periods AS pr ON o.day = pr.day"


def _users(condition: str) -> str:
    return f"COUNT(DISTINCT CASE WHEN {condition} THEN o.client_id END)"


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
  {_users("o.kind = 'academic'")} AS academic, {_users("o.kind = 'other'")} AS other,
  {_users("o.kind = 'unknown'")} AS unknown, {_users("o.edu")} AS edu
{_IN_PERIODS}
GROUP BY o.project, pr.period_start
""",
}
