"""`admin delete` on PostgreSQL says, per store, the tables it VACUUMed: that store's own."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import insert

from lake_helpers import DAY, add_pings, new_id, ping_row
from sempervirens.admin.deletion import delete_clients
from sempervirens.store import open_stores
from sempervirens.store.schema import access_log


@pytest.mark.postgres
def test_each_store_names_only_its_own_vacuumed_tables(postgres, tmp_path):
    urls = postgres.create_database("telemetry"), postgres.create_database("private")
    stores = open_stores(tmp_path / "data", *urls)
    victim = new_id()
    try:
        add_pings(stores.telemetry, [ping_row(DAY, client_id=victim)])
        with stores.private.begin() as connection:
            connection.execute(insert(access_log), [dict(
                received_at=datetime.now(timezone.utc), ip="192.0.2.1", project="numpy",
                ping_type="usage", client_id=victim, document_id=new_id())])
        report = delete_clients(stores, b"k" * 32, [victim], settle=0)
    finally:
        stores.dispose()
    assert {t: n for t, n in report.rows.items() if n} == {"access_log": 1, "pings": 1}
    assert report.compaction == ["telemetry: VACUUM pings", "private: VACUUM access_log"]
