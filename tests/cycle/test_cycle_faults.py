"""The cycle after a fault: a quiet day, a dataset write that failed after its release's
commit, a resend: real SQLite stores and lake."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from population import Ping, client, insert
from sqlalchemy import func, select, update

from sempervirens import settings as settings_module
from sempervirens.admin._secret import load_key
from sempervirens.admin.projects import add
from sempervirens.cycle.run import run_cycle
from sempervirens.model.declarations import parse
from sempervirens.release import public_releases
from sempervirens.store import open_stores
from sempervirens.store.lake import LakeError
from sempervirens.store.schema import access_log, pings

METRICS = '[metrics."core.fit"]\nkind = "counter"\ndescription = "Models fitted."\n'
MONDAY = date(2025, 3, 3)


def _at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=timezone.utc)


@pytest.fixture
def stores_and_settings(tmp_path):
    stores = open_stores(tmp_path / "data")
    values = settings_module.resolve(None, {"SEMPERVIRENS_DATA_DIR": str(tmp_path / "data")},
                                     no_dp=True, anomaly_min_clients=20)
    add(stores, "numpy", declaration=parse(METRICS), registered_at=_at(MONDAY, 0))
    yield stores, values
    stores.dispose()


def _cycles(stores, values, first: datetime, hours: int) -> None:
    for h in range(hours):
        run_cycle(stores, values, now=first + timedelta(hours=h), enrich=False, purge=False)


def _released(stores, interval: str) -> set[date]:
    with stores.telemetry.connect() as connection:
        return set(connection.execute(select(public_releases.c.period_start).where(
            public_releases.c.interval == interval)).scalars())


def test_a_day_without_pings_does_not_hold_back_its_week_and_month(stores_and_settings):
    stores, values = stores_and_settings
    quiet = MONDAY + timedelta(days=2)
    insert(stores, [Ping("numpy", client(), MONDAY + timedelta(days=i))
                    for i in range(7) if MONDAY + timedelta(days=i) != quiet])
    _cycles(stores, values, _at(MONDAY + timedelta(days=7), 3), hours=2)
    assert quiet in _released(stores, "day")
    assert MONDAY in _released(stores, "week")


def test_datasets_of_a_release_whose_files_failed_are_written_by_the_next_cycle(
        stores_and_settings):
    stores, values = stores_and_settings
    add(stores, "scipy", declaration=parse(METRICS), registered_at=_at(MONDAY, 0))
    insert(stores, [Ping(p, client(), MONDAY) for p in ("numpy", "scipy") for _ in range(3)])
    releases = Path(values["releases_dir"])
    releases.parent.mkdir(parents=True, exist_ok=True)
    releases.write_text("")  # a file where the directory should be: every write fails
    with pytest.raises(OSError):
        run_cycle(stores, values, now=_at(MONDAY + timedelta(days=1), 3), enrich=False,
                  purge=False)
    assert _released(stores, "day") == {MONDAY}  # committed before the files failed
    releases.unlink()
    run_cycle(stores, values, now=_at(MONDAY + timedelta(days=1), 4), enrich=False, purge=False)
    for project in ("numpy", "scipy"):
        assert (releases / project / f"day-{MONDAY}-v1" / "manifest.json").exists()


def test_a_resent_ping_left_out_of_its_day_is_pruned_with_it(stores_and_settings):
    stores, values = stores_and_settings
    document, installation = str(uuid.uuid4()), client()
    insert(stores, [Ping("numpy", installation, MONDAY, document_id=document)])
    run_cycle(stores, values, now=_at(MONDAY + timedelta(days=4), 3), enrich=False, purge=False)
    again = MONDAY + timedelta(days=5)
    insert(stores, [Ping("numpy", installation, again, document_id=document)])
    with stores.telemetry.begin() as connection:
        connection.execute(update(pings).where(pings.c.day == again).values(
            period_start=_at(MONDAY, 0), period_end=_at(MONDAY, 13)))
    run_cycle(stores, values, now=_at(again + timedelta(days=4), 3), enrich=False, purge=False)
    with stores.telemetry.connect() as connection:
        assert connection.execute(select(func.count()).select_from(pings)).scalar() == 0


@pytest.mark.parametrize("fault", ["releases directory", "damaged lake"])
def test_a_step_that_fails_every_cycle_holds_back_no_deletion_and_no_purge(
        stores_and_settings, fault):
    """A step failing again every cycle (a releases directory that cannot be written, a
    damaged lake; an engine that cannot run, a release refused alike) ended the cycle
    before the private aggregates, the deletion requests and the purge of expired
    addresses: a deleted client's rows and the log's addresses were kept for good."""
    stores, values = stores_and_settings
    load_key(values)  # the deployment's key, as serve makes it
    gone, kept = client(), client()
    expired = MONDAY - timedelta(days=values["retention_days"] + 5)
    insert(stores, [Ping("numpy", gone, MONDAY), Ping("numpy", kept, MONDAY),
                    Ping("numpy", kept, expired),
                    Ping("numpy", gone, MONDAY, ping_type="deletion-request", metrics=None)])
    if fault == "releases directory":
        releases = Path(values["releases_dir"])
        releases.parent.mkdir(parents=True, exist_ok=True)
        releases.write_text("")  # a file where the directory should be: every release fails
    else:  # sealing, and the deletion's lake step, fail
        lake = Path(values["lake"])
        lake.mkdir(parents=True)
        (lake / "manifest.json").write_text("{")
    with pytest.raises((OSError, LakeError)):
        run_cycle(stores, values, now=_at(MONDAY + timedelta(days=1), 3), enrich=False)
    with stores.telemetry.connect() as connection:
        assert connection.execute(select(func.count()).select_from(pings).where(
            pings.c.client_id == gone, pings.c.ping_type != "deletion-request")).scalar() == 0
    with stores.private.connect() as connection:
        logged = connection.execute(select(access_log.c.client_id, access_log.c.received_at)).all()
    assert {c for c, _ in logged} == {kept}
    assert min(at.date() for _, at in logged) == MONDAY  # the expired address is gone


def test_a_deleted_clients_ping_committed_after_its_deletion_never_reaches_the_lake(
        stores_and_settings):
    """A ping accepted just before the servers read a new tombstone is committed by its
    writer within twice store_timeout, which can be after the deletion's pause and rows:
    it stayed in the hot store, and the next seal put it in the lake, the UUID with it."""
    from sempervirens.admin.deletion import delete_clients
    from sempervirens.store.lake import Lake

    stores, values = stores_and_settings
    key = load_key(values)
    gone, kept = client(), client()
    insert(stores, [Ping("numpy", gone, MONDAY), Ping("numpy", kept, MONDAY)])
    delete_clients(stores, key, [gone], lake=values["lake"], settle=0)
    insert(stores, [Ping("numpy", gone, MONDAY, hour=23)])  # the slow writer's commit
    run_cycle(stores, values, now=_at(MONDAY + timedelta(days=1), 3), enrich=False)
    lake = Lake(values["lake"])
    assert lake.days() == [MONDAY]
    assert {c for path in lake.files("pings")
            for c in pq.read_table(path).column("client_id").to_pylist()} == {kept}
    with stores.telemetry.connect() as connection:
        assert connection.execute(select(func.count()).select_from(pings).where(
            pings.c.client_id == gone)).scalar() == 0
    with stores.private.connect() as connection:
        assert gone not in set(connection.execute(select(access_log.c.client_id)).scalars())

