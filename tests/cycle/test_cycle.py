"""The cycle end to end: `sempervirens aggregate` and `release` on a data directory, and
the cycle inside `serve`: closed days sealed and released once, never today."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from population import Ping, client, insert
from sqlalchemy import select

from _services.ports import free_port
from _services.server import start_server
from sempervirens import cli
from sempervirens.admin.projects import add
from sempervirens.model.declarations import parse
from sempervirens.release import public_releases, public_statistics
from sempervirens.store import open_stores

METRICS = '[metrics."core.fit"]\nkind = "counter"\ndescription = "Models fitted."\n'


def _declared_project(stores, days_ago: int) -> None:
    since = datetime.now(timezone.utc) - timedelta(days=days_ago)
    add(stores, "numpy", declaration=parse(METRICS), registered_at=since)


def _releases(stores) -> list[tuple[str, str]]:
    with stores.telemetry.connect() as connection:
        return sorted((r.interval, r.period_start.isoformat()) for r in connection.execute(
            select(public_releases.c.interval, public_releases.c.period_start)))


def test_aggregate_releases_each_closed_day_once(tmp_path, capsys):
    stores = open_stores(tmp_path / "data")
    today = datetime.now(timezone.utc).date()
    two_days_ago = today - timedelta(days=2)
    try:
        _declared_project(stores, days_ago=2)
        insert(stores, [Ping("numpy", client(), two_days_ago) for _ in range(11)]
               + [Ping("numpy", client(), today) for _ in range(5)]
               + [Ping("never-registered", client(), two_days_ago) for _ in range(30)])
        # Yesterday is sealable whatever the hour: without a grace period after midnight.
        args = ["aggregate", "--data-dir", str(tmp_path / "data"), "--seal-grace-hours", "0"]
        assert cli.main(args) == 0
        out = capsys.readouterr().out
        # two days: the one with pings, and yesterday, without (released all the same)
        assert out.startswith("sealed 2 days; released ")
        released = _releases(stores)
        assert ("day", two_days_ago.isoformat()) in released
        assert ("day", today.isoformat()) not in released  # today is not over
        with stores.telemetry.connect() as connection:
            projects = set(connection.execute(select(public_statistics.c.project)).scalars())
        assert projects == {"numpy"}  # nothing of a project nobody declared

        assert cli.main(args) == 0
        assert "sealed 0 days; released 0 periods" in capsys.readouterr().out
        assert _releases(stores) == released
    finally:
        stores.dispose()


def test_release_command_seals_and_releases(tmp_path, capsys):
    stores = open_stores(tmp_path / "data")
    try:
        _declared_project(stores, days_ago=3)
        insert(stores, [Ping("numpy", client(), datetime.now(timezone.utc).date()
                             - timedelta(days=2)) for _ in range(4)])
        assert cli.main(["release", "--data-dir", str(tmp_path / "data"),
                         "--seal-grace-hours", "0"]) == 0  # yesterday too, at any hour
        # the three days since the registration, with pings or not
        assert capsys.readouterr().out.startswith("sealed 3 days; released ")
        manifests = list((tmp_path / "data" / "releases" / "numpy").glob("day-*-v1/manifest.json"))
        assert manifests
    finally:
        stores.dispose()


@pytest.mark.slow
def test_serve_runs_the_cycle(tmp_path, dns_server):
    stores = open_stores(tmp_path / "data")
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
    try:
        _declared_project(stores, days_ago=2)
        insert(stores, [Ping("numpy", client(), yesterday, hour=0) for _ in range(3)])
    finally:
        stores.dispose()
    # No grace period: yesterday is closed as soon as the day is over.
    server = start_server(tmp_path / "data", env={
        "SEMPERVIRENS_AGGREGATE_INTERVAL_SECONDS": "1", "SEMPERVIRENS_DNS_SERVER": dns_server.nameserver,
        "SEMPERVIRENS_SEAL_GRACE_HOURS": "0", "SEMPERVIRENS_RELEASE_GRACE_HOURS": "0"})
    try:
        stores = open_stores(tmp_path / "data", migrate=False)
        try:
            deadline = time.monotonic() + 60
            # each day is released in its own transaction: wait for the last one
            while time.monotonic() < deadline and \
                    ("day", yesterday.isoformat()) not in _releases(stores):
                time.sleep(0.5)
            assert ("day", yesterday.isoformat()) in _releases(stores)
        finally:
            stores.dispose()
    finally:
        server.stop()


def test_a_failed_cycle_inside_serve_logs_the_reason_of_the_lake_or_the_engine(
        tmp_path, caplog, dns_server):
    """The cycle's log line gives the type of most errors (a store's may quote an address),
    but the lake's and the engine's reasons in full: they are about the job, never a ping."""
    from sempervirens import settings
    from sempervirens.cycle.background import PeriodicAggregation
    from sempervirens.store.lake import Lake

    data = tmp_path / "data"
    stores = open_stores(data)
    closed = free_port()  # no Spark master there

    def first_error(**values) -> str:
        resolved = settings.resolve(None, {"SEMPERVIRENS_DATA_DIR": str(data),
                                           "SEMPERVIRENS_DNS_SERVER": dns_server.nameserver})
        resolved.update(values, aggregate_interval_seconds=0.1)
        caplog.clear()
        with caplog.at_level("ERROR", logger="sempervirens.cycle"):
            cycle = PeriodicAggregation(stores, resolved).start()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not caplog.records:
                time.sleep(0.1)
            cycle.stop(timeout=30)
        (message, *_) = [r.getMessage() for r in caplog.records]
        assert "\n" not in message
        return message

    try:
        _declared_project(stores, days_ago=3)
        insert(stores, [Ping("numpy", client(), datetime.now(timezone.utc).date()
                             - timedelta(days=2)) for _ in range(4)])
        assert first_error(engine="spark", spark_master=f"spark://127.0.0.1:{closed}") == (
            f"aggregation cycle failed: spark: cannot reach the master at 127.0.0.1:{closed}: "
            f"Connection refused")
        lake = Lake(data / "lake")
        # the cycle sealed the days since the registration before it failed
        two_days_ago = datetime.now(timezone.utc).date() - timedelta(days=2)
        day = lake.manifest()["days"][two_days_ago.isoformat()]
        damaged = lake.path(next(f["path"] for f in day["files"] if f["table"] == "pings"))
        with open(damaged, "wb") as handle:
            handle.write(b"not parquet")
        message = first_error()
        assert message.startswith("aggregation cycle failed: ") and "the manifest says" in message
        assert "sempervirens lake verify" in message
    finally:
        stores.dispose()


@pytest.mark.parametrize("command", ["aggregate", "release"])
def test_a_lake_to_repair_stops_the_cycle_commands_in_one_line(tmp_path, capsys, command):
    data = tmp_path / "data"
    assert cli.main(["init", "--data-dir", str(data)]) == 0
    (data / "lake" / "manifest.json").unlink()  # lost, while the lake holds a day's file
    (data / "lake" / "pings" / "day=2026-01-01").mkdir(parents=True)
    (data / "lake" / "pings" / "day=2026-01-01" / "part-0.parquet").write_bytes(b"PAR1")
    capsys.readouterr()
    assert cli.main([command, "--data-dir", str(data)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"sempervirens {command}: ") and "manifest.json is missing" in err
    assert "failed (" not in err and "Traceback" not in err
