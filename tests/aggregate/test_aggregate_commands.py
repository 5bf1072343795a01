"""`sempervirens aggregate` on a data directory, and the cycle inside `serve`."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from aggregate_helpers import rows
from population import Ping, client, insert

from _services.server import start_server
from pings import post, usage
from sempervirens import cli
from sempervirens.aggregate import tables


def test_aggregate_command(sqlite_stores, tmp_path, capsys):
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
    insert(sqlite_stores, [Ping("numpy", client(), yesterday) for _ in range(11)])
    args = ["aggregate", "--data-dir", str(tmp_path / "data"), "--k-anonymity", "5"]
    assert cli.main(args) == 0
    assert "aggregated 1 public and 1 private days" in capsys.readouterr().out
    assert cli.main(args) == 0
    assert "aggregated 0 public and 0 private days" in capsys.readouterr().out
    (total,) = [r for r in rows(sqlite_stores, tables.public_active_installs, interval="day")
                if r.breakdown == ""]
    assert total.installs == 11


@pytest.mark.slow
def test_serve_aggregates_periodically(tmp_path, dns_server):
    from sempervirens.store import open_stores

    server = start_server(tmp_path / "data", env={
        "SEMPERVIRENS_AGGREGATE_INTERVAL_SECONDS": "1", "SEMPERVIRENS_K_ANONYMITY": "2",
        "SEMPERVIRENS_DNS_SERVER": dns_server.nameserver})
    try:
        with httpx.Client() as http:
            for _ in range(3):
                assert post(http, server.url, usage()).status_code == 202
        stores = open_stores(tmp_path / "data", migrate=False)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                found = [r for r in rows(stores, tables.public_active_installs) if r.breakdown == ""]
                if found:
                    break
                time.sleep(0.3)
            # Today counts in its day at once, in its week and month once it is over.
            assert {(r.interval, r.installs) for r in found} == {("day", 3)}
        finally:
            stores.dispose()
    finally:
        server.stop()
