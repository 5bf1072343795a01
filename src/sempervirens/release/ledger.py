"""Reading the ledger of releases: what was released, in which version."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from .tables import public_releases, public_statistics, servable


def latest(connection, project: str, interval: str, start: date):
    """The ledger row of the latest version of a period, or None."""
    r = public_releases.c
    return connection.execute(
        select(public_releases).where(r.project == project, r.interval == interval,
                                      r.period_start == start)
        .order_by(r.version.desc()).limit(1)).mappings().first()


def released_days(connection, project: str, lo: date, hi: date) -> set[date]:
    r = public_releases.c
    return set(connection.execute(
        select(r.period_start).distinct().where(r.project == project, r.interval == "day",
                                                r.period_start >= lo, r.period_start < hi)
    ).scalars())


def days_without_dp(connection, project: str, lo: date, hi: date) -> set[date]:
    """The days in [lo, hi) whose latest release was made without differential privacy
    (no_dp): their counts are exact."""
    r = public_releases.c
    newest = (select(func.max(r.release_id)).where(
        r.project == project, r.interval == "day", r.period_start >= lo, r.period_start < hi)
        .group_by(r.period_start))
    return set(connection.execute(select(r.period_start).where(
        r.release_id.in_(newest), ~servable())).scalars())


def latest_day_rows(connection, project: str, statistic: str, lo: date, hi: date):
    """The rows of one statistic in the latest release of each day in [lo, hi)."""
    r, s = public_releases.c, public_statistics.c
    newest = (select(func.max(r.release_id)).where(
        r.project == project, r.interval == "day", r.period_start >= lo, r.period_start < hi)
        .group_by(r.period_start))
    return connection.execute(
        select(s.period_start, s.key1, s.key2, s.noisy, s.noise_sd)
        .where(s.release_id.in_(newest), s.statistic == statistic)).all()


def releases(connection, project: str | None = None):
    query = select(public_releases).order_by(public_releases.c.release_id)
    if project is not None:
        query = query.where(public_releases.c.project == project)
    return connection.execute(query).mappings().all()


def released_periods(engine, project: str, interval: str) -> set[date]:
    """The first days of the periods of `interval` released for a project."""
    r = public_releases.c
    with engine.connect() as connection:
        return set(connection.execute(select(r.period_start).distinct().where(
            r.project == project, r.interval == interval)).scalars())
