"""Optional differential privacy for the active-installation counts, with OpenDP.

Off by default; on when `dp_epsilon` is set.  What it guarantees, per project and
period, is in docs/privacy.md.  In short:

- Contribution capping: in a period each client counts once in the total and once
  in each breakdown (under a single value: see public.py), so one client changes
  each of the 6 released partitions by at most 1 (L1 sensitivity 1 each).
- Budget: epsilon and delta are split evenly over those 6 partitions (basic
  composition); each count gets discrete Laplace noise of scale 6/epsilon from
  OpenDP (`make_laplace` on integers), never hand-made noise.
- Which values appear is itself data-dependent, so a noisy count is published only
  above a threshold tau = 1 + scale * ln(1 / (2 * delta_part)) (Laplace partition
  selection), and never below k; smaller parts are folded into '(other)' as in
  suppress.py, on the noisy counts (post-processing costs no budget).
- Whole periods only, each released once: re-releasing a period with fresh noise
  would spend the budget again, so provisional (current) periods are not published.

The feature, timing, crash and opt-out tables stay k-anonymous without noise (their
`active` column is the noisy total).
"""

from __future__ import annotations

import math
from collections import defaultdict

from sqlalchemy import text

from .tables import BREAKDOWNS, OTHER

DEFAULT_DELTA = 1e-7
PARTITIONS = len(BREAKDOWNS)  # the total and five breakdowns


class DifferentialPrivacy:
    def __init__(self, epsilon: float, delta: float | None = None) -> None:
        if not epsilon > 0:
            raise ValueError("dp_epsilon must be positive")
        self.epsilon = float(epsilon)
        self.delta = float(DEFAULT_DELTA if delta is None else delta)
        if not 0 < self.delta < 1:
            raise ValueError("dp_delta must be between 0 and 1")
        self.scale = PARTITIONS / self.epsilon
        self.threshold = 1 + self.scale * math.log(1 / (2 * self.delta / PARTITIONS))
        self._measurement = None

    def parameters(self) -> dict[str, str]:
        return {
            "dp_epsilon": repr(self.epsilon),
            "dp_delta": repr(self.delta),
            "dp_mechanism": (f"OpenDP discrete Laplace, scale {self.scale:.6g} per count "
                             f"(epsilon/{PARTITIONS} per partition), threshold "
                             f"{self.threshold:.6g}"),
            "dp_scope": "public_active_installs (total and every breakdown); "
                        "public_opt_outs.active",
        }

    def noisy(self, count: int) -> int:
        if self._measurement is None:
            import opendp.prelude as opendp

            opendp.enable_features("contrib")
            self._measurement = opendp.m.make_laplace(
                opendp.atom_domain(T=int), opendp.absolute_distance(T=int), scale=self.scale)
        return int(self._measurement(int(count)))

    def fold(self, parts: dict[str, int], k: int) -> dict[str, int]:
        """Noisy parts of one partition -> published parts (suppress.py's rule, in Python)."""
        floor = max(k, self.threshold)
        small = {value: n for value, n in parts.items() if n < floor}
        big = sorted((n, value) for value, n in parts.items() if n >= floor)
        other = sum(max(n, 0) for n in small.values())
        if small and 0 < other < floor and big:
            other += big.pop(0)[0]
        published = {value: n for n, value in big}
        if other >= floor:
            published[OTHER] = published.get(OTHER, 0) + other
        return published

    def release_installs(self, connection, d, interval: str, k: int) -> None:
        """Noise the exact partitions in agg_parts and write public_active_installs."""
        partitions: dict[tuple, dict[str, int]] = defaultdict(dict)
        for project, start, breakdown, value, n in connection.execute(text(
                "SELECT project, period_start, breakdown, value, n FROM agg_parts")):
            partitions[project, start, breakdown][value] = self.noisy(n)
        rows = []
        for (project, start, breakdown), parts in partitions.items():
            if breakdown == "":
                n = parts[""]
                if n >= max(k, self.threshold):
                    rows.append((project, start, "", "", n))
                continue
            rows += [(project, start, breakdown, value, n)
                     for value, n in self.fold(parts, k).items()]
        if rows:
            connection.execute(text(
                'INSERT INTO public_active_installs (project, "interval", period_start, '
                "breakdown, value, installs) VALUES (:p, :i, :s, :b, :v, :n)"),
                [{"p": p, "i": interval, "s": s, "b": b, "v": v, "n": n}
                 for p, s, b, v, n in rows])
