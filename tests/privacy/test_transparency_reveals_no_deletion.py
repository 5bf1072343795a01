"""The public transparency summary reveals no deletion request.

Neighbouring worlds: identical but for one installation's `deletion-request` ping,
carried out by the real cycle; then a real server answers /api/v1/transparency and
/transparency.  A count of deletions (it was published per month, exactly) would tell
whether that one person asked to be forgotten: the two answers must be the same."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
from population import Ping, insert
from sqlalchemy import func, select
from worlds import PROJECT, declared

from _services.server import start_server
from sempervirens import settings as settings_module
from sempervirens.admin._secret import load_key
from sempervirens.admin.tables import tombstones
from sempervirens.cycle.run import run_cycle

TARGET = "0b9c7f0e-5b1a-4c47-9a55-6f1f2c3d4e5f"
DECL = '[metrics."c"]\nkind = "counter"\ndescription = "x"'


def world(root, target_forgets: bool) -> tuple[dict, int]:
    """The transparency answers of a world where the target did or did not ask, and
    its (private) number of tombstones."""
    data = root / "data"
    today = datetime.now(timezone.utc).date()
    first = today - timedelta(days=3)
    stores = declared(root, DECL, registered_on=first)
    pings = [Ping(PROJECT, f"00000000-0000-4000-8000-{c:012d}", first + timedelta(days=d))
             for d in range(3) for c in range(20)]
    pings.append(Ping(PROJECT, TARGET, first))
    if target_forgets:
        pings.append(Ping(PROJECT, TARGET, today, ping_type="deletion-request", metrics=None))
    insert(stores, pings)
    settings = settings_module.resolve(data_dir=str(data))
    load_key(settings, create=True)  # as `serve` does on first start
    run_cycle(stores, settings, enrich=False)
    with stores.private.connect() as connection:
        buried = connection.execute(select(func.count()).select_from(tombstones)).scalar_one()
    stores.dispose()
    server = start_server(data, env={"SEMPERVIRENS_AGGREGATE_INTERVAL_SECONDS": "0"})
    try:
        api = httpx.get(server.url + "/api/v1/transparency", timeout=10).json()
        page = httpx.get(server.url + "/transparency", timeout=10).text
        return {"api": api, "page": page}, buried
    finally:
        server.stop()


def test_one_deletion_request_changes_no_public_transparency_number(tmp_path):
    with_request, buried = world(tmp_path / "a", True)
    without, none = world(tmp_path / "b", False)
    assert (buried, none) == (1, 0)  # the request was carried out
    assert with_request == without
