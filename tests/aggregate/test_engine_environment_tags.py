"""The environment tags, the worked example of adding a breakdown: one catalogue entry
each (model/domains.py, model/ping.py) and the engine counts them, old days included.

A day sealed before the tags existed has no such columns in its files: its
installations count as (unknown), and the engine reads it beside newer days.
"""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
import pytest

from engine_helpers import usage, write_lake
from sempervirens.aggregate.engine import compute
from sempervirens.model.declarations import Declaration
from sempervirens.model.domains import BY_NAME
from sempervirens.model.statistics import Bounds

OLD, NEW = date(2026, 11, 30), date(2026, 12, 1)
TAG_COLUMNS = ("scheduler", "container", "notebook", "install_method", "ci_provider")
DECLARED = [("astro", *row) for row in Declaration(versions=("1.0",)).rows()]


def _pings():
    return [
        usage("astro", "old", OLD),  # sealed before the tags: its file lacks them
        usage("astro", "c1", NEW, scheduler="slurm", container="apptainer", notebook="none",
              install_method="conda", ci_provider="none"),
        usage("astro", "c2", NEW, scheduler="none", container="none", notebook="jupyter",
              install_method="pip-venv", ci_provider="github-actions"),
        # Values outside the domains, and in another case: (other); absent: (unknown).
        usage("astro", "c3", NEW, scheduler="torque", container="Docker", notebook=None,
              install_method="homebrew", ci_provider="other"),
        usage("astro", "c4", NEW),  # an older client: reports none of them
    ]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    source = write_lake(tmp_path_factory.mktemp("lake"), _pings())
    for path in source["pings"]:
        if f"day={OLD.isoformat()}" in path:
            table = pq.read_table(path)
            pq.write_table(table.drop_columns(list(TAG_COLUMNS)), path)
            assert not set(TAG_COLUMNS) & set(pq.read_schema(path).names)
    return source


def _breakdown(rows, start, name):
    return {k2: n for p, s, k1, k2, n in rows if (p, s, k1) == ("astro", start, name)}


def test_each_tag_is_a_breakdown_over_its_public_domain(source):
    days = compute(source, "day", [OLD, NEW], DECLARED, Bounds())["installs"]
    assert _breakdown(days, NEW, "scheduler") == {"slurm": 1, "none": 1, "(other)": 1,
                                                  "(unknown)": 1}
    assert _breakdown(days, NEW, "container") == {"apptainer": 1, "none": 1, "docker": 1,
                                                  "(unknown)": 1}
    assert _breakdown(days, NEW, "notebook") == {"none": 1, "jupyter": 1, "(unknown)": 2}
    assert _breakdown(days, NEW, "install") == {"conda": 1, "pip-venv": 1, "(other)": 1,
                                                "(unknown)": 1}
    # 'other' is a public value (CI, not a known service); not reported is (unknown).
    assert _breakdown(days, NEW, "ci_provider") == {"none": 1, "github-actions": 1, "other": 1,
                                                    "(unknown)": 1}
    for name in ("scheduler", "container", "notebook", "install", "ci_provider"):
        assert set(_breakdown(days, NEW, name)) <= set(BY_NAME[name].public_values)


def test_a_day_sealed_before_the_tags_counts_as_unknown_beside_newer_days(source):
    days = compute(source, "day", [OLD, NEW], DECLARED, Bounds())["installs"]
    for name in ("scheduler", "container", "notebook", "install", "ci_provider"):
        assert _breakdown(days, OLD, name) == {"(unknown)": 1}
    week = compute(source, "week", [OLD], DECLARED, Bounds())["installs"]
    assert sum(_breakdown(week, OLD, "scheduler").values()) == 5  # both days, one file each



def test_a_period_of_days_all_sealed_before_the_tags_is_computed(source):
    """A period whose every file predates the tags (the first release after an upgrade)."""
    only_old = {table: [p for p in paths if f"day={OLD.isoformat()}" in p]
                for table, paths in source.items()}
    days = compute(only_old, "day", [OLD], DECLARED, Bounds())["installs"]
    for name in ("scheduler", "container", "notebook", "install", "ci_provider"):
        assert _breakdown(days, OLD, name) == {"(unknown)": 1}
