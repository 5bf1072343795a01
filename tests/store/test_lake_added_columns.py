"""A lake sealed before a ping field existed (its files lack the column) or while one
that has gone was still written (`excluded`, before telemetry revision 0011): the engine
reads it, and deleting a client from such a day still works, the rewritten file taking
today's schema."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq

from lake_helpers import DAY, add_pings, new_id, ping_row
from sempervirens.aggregate.engine import compute
from sempervirens.model.lake import LAKE_TABLES, PINGS
from sempervirens.store import open_stores
from sempervirens.store.lake import Lake, delete_clients, seal

NOW = datetime(DAY.year, DAY.month, DAY.day, 3, tzinfo=timezone.utc) + timedelta(days=1)
ADDED = ["scheduler", "container", "notebook", "install_method", "ci_provider"]


def _sealed_day(tmp_path) -> tuple[Lake, str, str]:
    """A lake holding DAY, sealed from two installations' pings: (lake, victim, other)."""
    stores = open_stores(tmp_path / "data")
    victim, other = new_id(), new_id()
    add_pings(stores.telemetry, [ping_row(DAY, client_id=victim), ping_row(DAY, client_id=other)])
    lake = Lake(tmp_path / "lake")
    seal(stores.telemetry, lake, now=NOW)
    stores.dispose()
    return lake, victim, other


def test_deleting_a_client_from_a_day_sealed_before_the_tags(tmp_path):
    lake, victim, other = _sealed_day(tmp_path)
    [path] = lake.files("pings", [DAY])
    old = pq.read_table(path).drop_columns(ADDED)  # as a lake sealed before revision 0010
    pq.write_table(old, path)

    report = delete_clients(lake, [victim])

    assert report.rows["pings"] == 1
    [path] = lake.files("pings", [DAY])
    kept = pq.read_table(path)
    assert kept.column_names == list(PINGS.column_names)  # today's schema
    assert kept["client_id"].to_pylist() == [other]
    assert kept["scheduler"].to_pylist() == [None]  # not known for that day


def test_a_day_sealed_with_the_removed_excluded_column(tmp_path):
    lake, victim, other = _sealed_day(tmp_path)
    source = {t.name: lake.files(t.name, [DAY]) for t in LAKE_TABLES}
    before = compute(source, "day", [DAY], [])
    for paths in source.values():
        for path in paths:  # as sealed before revision 0011: every table had the mark
            table = pq.read_table(path)
            pq.write_table(table.append_column("excluded", pa.array([True] * len(table))), path)

    assert compute(source, "day", [DAY], []) == before
    assert [r[-1] for r in before["installs"] if r[2] == ""] == [2]
    report = delete_clients(lake, [victim])
    assert report.rows["pings"] == 1
    [path] = lake.files("pings", [DAY])
    assert pq.read_table(path).column_names == list(PINGS.column_names)  # today's schema
