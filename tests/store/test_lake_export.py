"""`sempervirens admin export` holds what the lake keeps about the client: after the hot
store's margin, its pings are only there (docs/privacy.md, "Access")."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from lake_helpers import DAY, IN_EVERY_TABLE, add_pings, new_id, ping_row
from sempervirens.cli import main
from sempervirens.store import open_stores
from sempervirens.store.lake import Lake, prune, seal

# 03:00 on the day after DAY: DAY is sealed.
NOW = datetime(DAY.year, DAY.month, DAY.day, 3, tzinfo=timezone.utc) + timedelta(days=1)


def test_an_export_holds_the_clients_rows_of_the_lake(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["init", "--data-dir", str(data)]) == 0
    victim, other = new_id(), new_id()
    stores = open_stores(data)
    try:
        mine = add_pings(stores.telemetry, [ping_row(DAY, client_id=victim, metrics=IN_EVERY_TABLE)])
        add_pings(stores.telemetry, [ping_row(DAY, client_id=other)])
        lake = Lake(data / "lake")
        seal(stores.telemetry, lake, now=NOW)
        prune(stores.telemetry, lake, now=NOW + timedelta(days=10), margin_days=2)
    finally:
        stores.dispose()
    path = tmp_path / "export.json"

    assert main(["admin", "export", victim, "--data-dir", str(data), "--output", str(path)]) == 0

    capsys.readouterr()
    exported = json.loads(path.read_text())
    assert exported["telemetry"]["pings"] == []  # pruned from the hot store: only in the lake
    lake_pings = exported["lake"]["pings"]
    assert [row["document_id"] for row in lake_pings] == [mine[0]["document_id"]]
    assert {row["client_id"] for table in exported["lake"].values() for row in table} == {victim}
    assert exported["lake"]["counters"] and exported["lake"]["timings"]
