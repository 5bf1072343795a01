"""Helpers of the admin tests: tokens made the way `sempervirens admin` makes them,
and rows in the private aggregates the way the aggregation writes them."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sempervirens.admin import audit, tokens
from sempervirens.aggregate import tables as aggregate_tables
from sempervirens.store import open_stores


def stores_of(server):
    """The stores a running (or stopped) test server uses."""
    return open_stores(server.data_dir, server.option("--database"), server.option("--private-database"))


def make_token(server, role: str, project: str | None = None, *, holder: str = "someone",
               expires_days: float | None = 30) -> str:
    stores = stores_of(server)
    try:
        with stores.private.begin() as connection:
            return tokens.create(connection, role, project=project, holder=holder,
                                 expires_days=expires_days)[1]
    finally:
        stores.dispose()


def seed_private_aggregates(server, project: str) -> None:
    """Two institutions and a summary for one month, as the aggregation leaves them."""
    stores = stores_of(server)
    month = date(2026, 11, 1)
    try:
        with stores.private.begin() as connection:
            connection.execute(aggregate_tables.private_institution_users.insert(), [
                dict(project=project, interval="month", period_start=month, institution="Stanford University",
                     kind="academic", users=12),
                dict(project=project, interval="month", period_start=month, institution="example-corp.com",
                     kind="other", users=7),
            ])
            connection.execute(aggregate_tables.private_origin_summary.insert().values(
                project=project, interval="month", period_start=month, users=25, academic=12, other=7,
                unknown=6, edu=12))
            connection.execute(aggregate_tables.anomalies.insert().values(
                project=project, day=month, ip_hash="ab" * 32, ip="198.51.100.200", clients=150_000,
                pings=150_000, detected_at=datetime.now(timezone.utc)))
    finally:
        stores.dispose()


def bearer(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


def audit_rows(server) -> list[dict]:
    """The audit log of the server's private store, newest first."""
    stores = stores_of(server)
    try:
        with stores.private.connect() as connection:
            return audit.listing(connection, limit=1000)
    finally:
        stores.dispose()


SMALL_INSTITUTIONS = {"smith-consulting.com": 1, "four-people.example.com": 4, "Small College": 5}


def seed_small_institutions(server, project: str) -> None:
    """A week whose institutions have 1, 4 and 5 installations (the default threshold: 5)."""
    stores = stores_of(server)
    try:
        with stores.private.begin() as connection:
            connection.execute(aggregate_tables.private_institution_users.insert(), [
                dict(project=project, interval="week", period_start=date(2026, 11, 2),
                     institution=name, kind="academic" if "College" in name else "other",
                     users=users) for name, users in SMALL_INSTITUTIONS.items()])
    finally:
        stores.dispose()
