"""Every read of the public site, API and datasets: the public_* tables and nothing else.

Only the table objects listed in `TABLES` are ever selected from (a test checks
that this module names no other table), so no page can reach a ping, a client
UUID or an address, even by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Engine, select

from ..aggregate.tables import (
    INTERVALS,
    OTHER,
    PUBLIC_TABLES,
    public_active_installs,
    public_crashes,
    public_feature_usage,
    public_opt_outs,
    public_parameters,
    public_timings,
)

TABLES = {t.name: t for t in PUBLIC_TABLES}
assert all(name.startswith("public_") for name in TABLES)

BREAKDOWNS = ("", "version", "os", "arch", "python", "ci")


@dataclass(frozen=True)
class Query:
    """A public query: which project, which periods."""
    project: str
    interval: str = "day"
    start: date | None = None  # first period_start included
    end: date | None = None  # last period_start included

    def where(self, table):
        clauses = [table.c.project == self.project, table.c.interval == self.interval]
        if self.start is not None:
            clauses.append(table.c.period_start >= self.start)
        if self.end is not None:
            clauses.append(table.c.period_start <= self.end)
        return clauses


def _rows(engine: Engine, statement) -> list[dict]:
    with engine.connect() as connection:
        # str(): column names may come back as str subclasses, which orjson refuses.
        return [{str(k): v for k, v in row._mapping.items()} for row in connection.execute(statement)]


def _iso(rows: list[dict]) -> list[dict]:
    for row in rows:
        for key, value in row.items():
            if isinstance(value, date):
                row[key] = value.isoformat()
    return rows


def projects(engine: Engine) -> list[str]:
    t = public_active_installs
    return [r["project"] for r in _rows(engine, select(t.c.project).distinct().order_by(t.c.project))]


def active_installs(engine: Engine, query: Query, breakdown: str = "") -> list[dict]:
    t = public_active_installs
    statement = (select(t.c.period_start, t.c.value, t.c.installs)
                 .where(*query.where(t), t.c.breakdown == breakdown)
                 .order_by(t.c.period_start, t.c.value))
    return _iso(_rows(engine, statement))


def features(engine: Engine, query: Query, metric: str | None = None) -> list[dict]:
    t = public_feature_usage
    clauses = query.where(t) + ([t.c.metric == metric] if metric else [])
    statement = (select(t.c.period_start, t.c.metric, t.c.label, t.c.events, t.c.users)
                 .where(*clauses).order_by(t.c.period_start, t.c.metric, t.c.label))
    return _iso(_rows(engine, statement))


def timings(engine: Engine, query: Query, metric: str | None = None) -> list[dict]:
    t = public_timings
    clauses = query.where(t) + ([t.c.metric == metric] if metric else [])
    statement = (select(t.c.period_start, t.c.metric, t.c.p50_us, t.c.p90_us, t.c.p99_us,
                        t.c.samples, t.c.users)
                 .where(*clauses).order_by(t.c.period_start, t.c.metric))
    return _iso(_rows(engine, statement))


def crashes(engine: Engine, query: Query) -> list[dict]:
    t = public_crashes
    statement = (select(t.c.period_start, t.c.exception_type, t.c.version, t.c.crashes, t.c.users)
                 .where(*query.where(t))
                 .order_by(t.c.period_start, t.c.exception_type, t.c.version))
    return _iso(_rows(engine, statement))


def opt_outs(engine: Engine, query: Query) -> list[dict]:
    t = public_opt_outs
    statement = (select(t.c.period_start, t.c.opt_outs, t.c.active, t.c.ratio)
                 .where(*query.where(t)).order_by(t.c.period_start))
    return _iso(_rows(engine, statement))


def parameters(engine: Engine) -> dict[str, dict]:
    t = public_parameters
    return {r["name"]: {"value": r["value"], "description": r["description"]}
            for r in _rows(engine, select(t.c.name, t.c.value, t.c.description).order_by(t.c.name))}


def metric_names(engine: Engine, project: str) -> dict[str, list[str]]:
    """The feature and timing names a project has published (for the query form)."""
    names = {}
    for key, table in (("features", public_feature_usage), ("timings", public_timings)):
        statement = (select(table.c.metric).distinct()
                     .where(table.c.project == project).order_by(table.c.metric))
        names[key] = [r["metric"] for r in _rows(engine, statement)]
    return names


def aggregated_through(engine: Engine) -> date | None:
    value = parameters(engine).get("aggregated_through", {}).get("value")
    return date.fromisoformat(value) if value else None


def headline(engine: Engine, project: str) -> dict:
    """A project's numbers for the front page, from the 30-day, weekly and daily rows.

    Active installations in the last 30 complete days and the change against the
    30 days before; the weekly total of the last complete ISO week, the week before
    for its trend; and the daily totals of the last 30 days for a sparkline.
    """
    t = public_active_installs
    through = aggregated_through(engine)
    weeks = _rows(engine, select(t.c.period_start, t.c.installs)
                  .where(t.c.project == project, t.c.interval == "week", t.c.breakdown == "")
                  .order_by(t.c.period_start.desc()).limit(3))
    complete = [w for w in weeks if through is None or w["period_start"] + timedelta(days=6) <= through]
    latest = complete[0] if complete else (weeks[0] if weeks else None)
    previous = complete[1] if len(complete) > 1 else None
    trend = None
    if latest and previous and previous["installs"]:
        trend = round(100 * (latest["installs"] - previous["installs"]) / previous["installs"], 1)
    month = _rows(engine, select(t.c.period_start, t.c.installs)
                  .where(t.c.project == project, t.c.interval == "month", t.c.breakdown == "")
                  .order_by(t.c.period_start.desc()).limit(1))
    since = (through or date.today()) - timedelta(days=29)
    days = _iso(_rows(engine, select(t.c.period_start, t.c.installs)
                      .where(t.c.project == project, t.c.interval == "day", t.c.breakdown == "",
                             t.c.period_start >= since)
                      .order_by(t.c.period_start)))
    recent = _rows(engine, select(t.c.period_start, t.c.installs)
                   .where(t.c.project == project, t.c.interval == "30d", t.c.breakdown == "")
                   .order_by(t.c.period_start.desc()).limit(2))
    recent_trend = None
    if len(recent) == 2 and recent[1]["installs"]:
        recent_trend = round(100 * (recent[0]["installs"] - recent[1]["installs"]) / recent[1]["installs"], 1)
    return {
        "project": project,
        "last_30_days_from": recent[0]["period_start"].isoformat() if recent else None,
        "last_30_days_installs": recent[0]["installs"] if recent else None,
        "last_30_days_trend_percent": recent_trend,
        "week": latest["period_start"].isoformat() if latest else None,
        "weekly_installs": latest["installs"] if latest else None,
        "previous_week_installs": previous["installs"] if previous else None,
        "trend_percent": trend,
        "month": month[0]["period_start"].isoformat() if month else None,
        "monthly_installs": month[0]["installs"] if month else None,
        "daily": days,
    }


def period_tables() -> dict:
    """The public tables that have periods, by name (for dataset releases)."""
    return {name: t for name, t in TABLES.items() if "interval" in t.c}


def release_rows(engine: Engine, table, interval: str, period_start: date) -> list[dict]:
    """One table's rows of one period, every column, in a stable order."""
    statement = (select(table).where(table.c.interval == interval,
                                     table.c.period_start == period_start)
                 .order_by(*table.primary_key.columns))
    return _iso(_rows(engine, statement))


def periods(engine: Engine, interval: str) -> list[date]:
    t = public_active_installs
    statement = (select(t.c.period_start).distinct().where(t.c.interval == interval)
                 .order_by(t.c.period_start))
    return [r["period_start"] for r in _rows(engine, statement)]


__all__ = ["BREAKDOWNS", "INTERVALS", "OTHER", "Query", "TABLES"]
