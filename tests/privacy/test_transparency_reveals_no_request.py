"""The public transparency summary reveals no request of one person: neither that an
installation asked to be forgotten nor that someone asked for their data.

Neighbouring worlds: identical but for one installation's request, carried out for
real (a `deletion-request` ping by the cycle; an `admin export` of its data, the right
of access); then a real server answers /api/v1/transparency and /transparency.  A count
of deletions or of exports (each was published per month, exactly) would tell whether
that one person asked: the answers of the two worlds must be the same."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from population import Ping, insert
from sqlalchemy import func, select
from worlds import PROJECT, declared

from _services.server import start_server
from sempervirens import cli
from sempervirens import settings as settings_module
from sempervirens.admin._secret import load_key
from sempervirens.admin.tables import audit_log, tombstones
from sempervirens.cycle.run import run_cycle

TARGET = "0b9c7f0e-5b1a-4c47-9a55-6f1f2c3d4e5f"
DECL = '[metrics."c"]\nkind = "counter"\ndescription = "x"'


def world(root, request: str | None) -> tuple[dict, dict]:
    """The transparency answers of a world where the target made `request` ('deletion',
    'access') or none, and what it left in the private store (tombstones, audit rows)."""
    data = root / "data"
    today = datetime.now(timezone.utc).date()
    first = today - timedelta(days=3)
    stores = declared(root, DECL, registered_on=first)
    pings = [Ping(PROJECT, f"00000000-0000-4000-8000-{c:012d}", first + timedelta(days=d))
             for d in range(3) for c in range(20)]
    pings.append(Ping(PROJECT, TARGET, first))
    if request == "deletion":
        pings.append(Ping(PROJECT, TARGET, today, ping_type="deletion-request", metrics=None))
    insert(stores, pings)
    settings = settings_module.resolve(data_dir=str(data))
    load_key(settings, create=True)  # as `serve` does on first start
    run_cycle(stores, settings, enrich=False)
    if request == "access":
        with contextlib.redirect_stdout(io.StringIO()) as out:
            assert cli.main(["admin", "export", TARGET, "--data-dir", str(data)]) == 0
        assert json.loads(out.getvalue())["client_id"] == TARGET
    with stores.private.connect() as connection:
        left = {table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (tombstones, audit_log)}
    stores.dispose()
    server = start_server(data, env={"SEMPERVIRENS_AGGREGATE_INTERVAL_SECONDS": "0"})
    try:
        api = httpx.get(server.url + "/api/v1/transparency", timeout=10).json()
        page = httpx.get(server.url + "/transparency", timeout=10).text
        return {"api": api, "page": page}, left
    finally:
        server.stop()


@pytest.mark.parametrize("request_, carried_out", [
    ("deletion", {"tombstones": 1, "audit_log": 0}),
    ("access", {"tombstones": 0, "audit_log": 1}),  # audited, privately
])
def test_one_request_changes_no_public_transparency_number(tmp_path, request_, carried_out):
    with_request, left = world(tmp_path / "a", request_)
    without, nothing = world(tmp_path / "b", None)
    assert (left, nothing) == (carried_out, {"tombstones": 0, "audit_log": 0})
    assert with_request == without
