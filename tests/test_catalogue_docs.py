"""The pages that name or count the catalogue's breakdowns in words follow it: adding a
breakdown (docs/aggregation.md, "Adding a breakdown") leaves none of them stale."""

from __future__ import annotations

import re
from pathlib import Path

from sempervirens.model.domains import BREAKDOWN_NAMES

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_release_guide_counts_the_breakdowns_and_their_sensitivity():
    text = " ".join((DOCS / "release.md").read_text().split())
    n = len(BREAKDOWN_NAMES)
    assert f"once in each of the {n} breakdowns of `model/domains.py` (sensitivity {n + 1} " \
           f"for active installations)" in text
    # the noise table's last row: the sensitivity of a day, and of a week or a month
    (day, week), = re.findall(r"\| \d+ \(and [^|]*\| (\d+) / (\d+) \|", text)
    assert (int(day), int(week)) == (n + 1, 2 * n)


def test_the_installs_row_names_every_breakdown():
    (row,) = [line for line in (DOCS / "aggregation.md").read_text().splitlines()
              if line.startswith("| `installs` |")]
    named = re.search(r"breakdown \(`''` total, (.*?): `model/domains.py`\)", row).group(1)
    assert re.findall(r"`([a-z_]+)`", named) == list(BREAKDOWN_NAMES)
