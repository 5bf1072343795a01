"""Suppression: no public cell describes fewer than k clients, and no difference of
published cells describes fewer than k either.

Two shapes of table, two rules (both SQL, both dialects):

- A *partition* (active installs by version, os, ...: every client counts in
  exactly one part, and the total is published too).  Parts under k are folded into
  one OTHER part.  If that OTHER part would itself be under k (one small part, say),
  the smallest part of at least k is folded in as well (secondary suppression), so
  OTHER reaches k.  When the total is under k nothing is published for the period.
  Hence the published parts always add up to the published total, and
  total minus published parts is 0: no suppressed count can be recomputed.
- *Overlapping* cells with no published total (labels of a labeled counter, crash
  types): cells under k are folded into OTHER, whose distinct-client count is taken
  over the union of the folded cells; OTHER is dropped when that is under k.
"""

from __future__ import annotations

from .tables import OTHER


def fold_partition(parts: str, keys: str, k_param: str = ":k") -> str:
    """SELECT keys, value, n over `parts` (a CTE or table with keys, value, n), folded.

    `keys` is the comma-separated list of the columns naming one partition
    (e.g. "project, period_start").
    """
    return f"""
        SELECT {keys}, CASE WHEN fold THEN '{OTHER}' ELSE value END AS value, sum(n) AS n
        FROM (
            SELECT {keys}, value, n, total,
                   n < {k_param}
                   OR (small > 0 AND small < {k_param} AND n >= {k_param} AND big_rank = 1) AS fold
            FROM (
                SELECT {keys}, value, n,
                       sum(n) OVER w AS total,
                       sum(CASE WHEN n < {k_param} THEN n ELSE 0 END) OVER w AS small,
                       row_number() OVER (PARTITION BY {keys}, n >= {k_param}
                                          ORDER BY n, value) AS big_rank
                FROM {parts}
                WINDOW w AS (PARTITION BY {keys})
            ) ranked
        ) marked
        WHERE total >= {k_param}
        GROUP BY {keys}, CASE WHEN fold THEN '{OTHER}' ELSE value END
    """
