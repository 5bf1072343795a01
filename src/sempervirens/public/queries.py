"""Every read of the public site, API and datasets: released statistics and nothing else.

The only tables read here are the releases' (`public_statistics`, `public_releases`,
release/tables.py): a test checks that this module names no other, so no page can
reach a ping, a client UUID or an address, even by mistake.  Every number comes with
its noise standard deviation and 95% interval; numbers derived from released ones
(sums, percentiles, ratios) are post-processing and cost no privacy budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, func, select

from ..model.domains import BREAKDOWN_NAMES
from ..model.periods import INTERVALS, period_end
from ..model.statistics import PERCENTILES
from ..release.tables import PERCENTILE_STATISTIC, public_releases, public_statistics, servable
from ..release.uncertainty import sum_halfwidth

TABLES = {t.name: t for t in (public_statistics, public_releases)}
BREAKDOWNS = ("", *BREAKDOWN_NAMES)


@dataclass(frozen=True)
class Query:
    """A public query: which project, which periods (by their first day, inclusive)."""
    project: str
    interval: str = "day"
    start: date | None = None
    end: date | None = None


def _rows(engine: Engine, statement) -> list[dict]:
    with engine.connect() as connection:
        # str(): column names may come back as str subclasses, which orjson refuses.
        return [{str(k): v for k, v in row._mapping.items()} for row in connection.execute(statement)]


def projects(engine: Engine) -> list[str]:
    t = public_releases
    return [r["project"] for r in _rows(engine, select(t.c.project).distinct()
                                        .where(servable()).order_by(t.c.project))]


def _current(interval: str | None = None, project: str | None = None):
    """The release id of each period's latest version, of the releases that may be served
    (release.tables.servable: never one made without differential privacy).  A correction
    (release/publish.py) is a new version of its period, and only the newest is read (both
    summed the period twice across projects, and answered two rows for each of its keys)."""
    r = public_releases.c
    clauses = [servable()] + ([r.interval == interval] if interval else []) \
        + ([r.project == project] if project else [])
    return (select(func.max(r.release_id)).where(*clauses)
            .group_by(r.project, r.interval, r.period_start))


def released(engine: Engine, query: Query, statistic: str, key1: str | None = None) -> list[dict]:
    """A statistic's rows in the latest release of each of the query's periods, oldest first."""
    t = public_statistics
    clauses = [t.c.project == query.project, t.c.interval == query.interval,
               t.c.statistic == statistic,
               t.c.release_id.in_(_current(query.interval, query.project))]
    if key1 is not None:
        clauses.append(t.c.key1 == key1)
    if query.start is not None:
        clauses.append(t.c.period_start >= query.start)
    if query.end is not None:
        clauses.append(t.c.period_start <= query.end)
    statement = (select(t.c.period_start, t.c.key1, t.c.key2, t.c.value, t.c.noise_sd,
                        t.c.low, t.c.high)
                 .where(*clauses).order_by(t.c.period_start, t.c.key1, t.c.key2))
    return _rows(engine, statement)


def _number(row: dict, name: str) -> dict:
    """A released value as `name`, with `name_sd`, `name_low`, `name_high`."""
    return {name: _plain(row["value"]), f"{name}_sd": row["noise_sd"],
            f"{name}_low": _plain(row["low"]), f"{name}_high": _plain(row["high"])}


def _plain(value):
    """Counts are whole numbers: shown as integers, not 12.0."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def active_installs(engine: Engine, query: Query, breakdown: str = "") -> list[dict]:
    return [{"period_start": r["period_start"].isoformat(), "value": r["key2"],
             **_number(r, "installs")}
            for r in released(engine, query, "installs", key1=breakdown)]


def _merge(engine: Engine, query: Query, names: dict[str, str], keys: tuple[str, str],
           key1: str | None = None) -> list[dict]:
    """Rows of several statistics with the same keys, side by side (absent: None)."""
    merged: dict[tuple, dict] = {}
    for statistic, column in names.items():
        for r in released(engine, query, statistic, key1):
            row = merged.setdefault((r["period_start"], r["key1"], r["key2"]), {
                "period_start": r["period_start"].isoformat(), keys[0]: r["key1"],
                keys[1]: r["key2"]})
            row.update(_number(r, column))
    blank = {f"{c}{s}": None for c in names.values() for s in ("", "_sd", "_low", "_high")}
    return [{**blank, **row} for _, row in sorted(merged.items(), key=lambda item: item[0])]


def features(engine: Engine, query: Query, metric: str | None = None) -> list[dict]:
    return _merge(engine, query, {"feature_users": "users", "feature_events": "events"},
                  ("metric", "label"), metric)


def crashes(engine: Engine, query: Query) -> list[dict]:
    return _merge(engine, query, {"crash_users": "users", "crash_events": "crashes"},
                  ("exception_type", "version"))


def opt_outs(engine: Engine, query: Query) -> list[dict]:
    """Opt-out events beside active installations, and their ratio (post-processing)."""
    totals = {r["period_start"]: r for r in active_installs(engine, query)
              if r["value"] == ""}
    rows = []
    for r in released(engine, query, "opt_outs"):
        row = {"period_start": r["period_start"].isoformat(), **_number(r, "opt_outs")}
        active = totals.get(row["period_start"])
        row["active"] = active["installs"] if active else None
        row["ratio"] = _ratio(row["opt_outs"], row["active"])
        row["ratio_low"] = _ratio(row["opt_outs_low"], active and active["installs_high"])
        row["ratio_high"] = _ratio(row["opt_outs_high"], active and active["installs_low"])
        rows.append(row)
    return rows


def _ratio(opt_outs, active) -> float | None:
    if opt_outs is None or active is None:
        return None
    opt_outs, active = max(opt_outs, 0), max(active, 0)
    return round(opt_outs / (opt_outs + active), 6) if opt_outs + active > 0 else None


def timings(engine: Engine, query: Query, metric: str | None = None) -> list[dict]:
    """Percentiles of each timing, over installations (each counts once, at its median),
    derived by the release from the timing's noisy histogram, with their 95% intervals.
    A public bucket spans one doubling, [2^i, 2^(i+1)) microseconds: a percentile is shown
    as the bucket's geometric middle, its interval from the lower bucket's start to the
    upper bucket's end."""
    rows: dict[tuple, dict] = {}
    for r in released(engine, query, PERCENTILE_STATISTIC, metric):
        row = rows.setdefault((r["period_start"], r["key1"]), {
            "period_start": r["period_start"].isoformat(), "metric": r["key1"],
            **{f"p{p}_us{s}": None for p in PERCENTILES for s in ("", "_low", "_high")}})
        name = f"{r['key2']}_us"
        if r["value"] is not None:
            row[name] = round(2 ** (r["value"] + 0.5), 1)
        if r["low"] is not None and r["high"] is not None:
            row[f"{name}_low"], row[f"{name}_high"] = 2 ** r["low"], 2 ** (r["high"] + 1)
    return [row for _, row in sorted(rows.items())]


def metric_names(engine: Engine, project: str) -> dict[str, list[str]]:
    """The feature and timing names a project has released (for the query form)."""
    t = public_statistics
    names = {}
    for key, statistic in (("features", "feature_users"), ("timings", "timing_users")):
        statement = (select(t.c.key1).distinct()
                     .where(t.c.project == project, t.c.statistic == statistic,
                            t.c.release_id.in_(_current(project=project))).order_by(t.c.key1))
        names[key] = [r["key1"] for r in _rows(engine, statement)]
    return names


def latest_periods(engine: Engine, project: str, interval: str, count: int = 2) -> list[date]:
    t = public_releases
    statement = (select(t.c.period_start).distinct()
                 .where(t.c.project == project, t.c.interval == interval, servable())
                 .order_by(t.c.period_start.desc()).limit(count))
    return [r["period_start"] for r in _rows(engine, statement)]


def headline(engine: Engine, project: str) -> dict:
    """A project's numbers for the front page: the last released week and month, each
    against the one just before (complete periods only: only they are released), and
    its last 30 released days."""
    out = {"project": project}
    for interval in ("week", "month"):
        starts = latest_periods(engine, project, interval)
        totals = {}
        if starts:
            query = Query(project, interval, starts[-1], starts[0])
            totals = {r["period_start"]: r for r in active_installs(engine, query) if r["value"] == ""}
        latest = totals.get(starts[0].isoformat()) if starts else None
        # Like with like: the period just before, or nothing (never one further back).
        adjacent = len(starts) > 1 and period_end(interval, starts[1]) == starts[0]
        previous = totals.get(starts[1].isoformat()) if adjacent else None
        trend = None
        if latest and previous and latest["installs"] is not None \
                and (previous["installs"] or 0) > 0:
            trend = round(100 * (latest["installs"] - previous["installs"]) / previous["installs"], 1)
        out[interval] = {"period_start": starts[0].isoformat() if starts else None,
                         "installs": latest, "previous": previous, "trend_percent": trend}
    days = latest_periods(engine, project, "day", 30)
    out["daily"] = [r for r in active_installs(engine, Query(project, "day", days[-1], days[0]))
                    if r["value"] == ""] if days else []
    return out


def ecosystem(engine: Engine, interval: str, breakdown: str, start: date | None = None,
              end: date | None = None) -> list[dict]:
    """Across every project, each period's installations by one breakdown's value, and
    each value's share, from the released numbers only (post-processing).

    A value is the sum of the projects' released values.  Their noises are independent,
    so its 95% interval is the sum +- the half-width of a sum of those noises
    (release/uncertainty.py); a project's value withheld below k adds nothing to the sum
    and its own interval [0, k - 1 + q] to the bounds.  A share's interval runs from the
    value's low against everything else's high to its high against everything else's
    low.  Each project counts its own installations: a machine that runs two of the
    projects counts twice."""
    t = public_statistics
    clauses = [t.c.interval == interval, t.c.statistic == "installs", t.c.key1 == breakdown,
               t.c.release_id.in_(_current(interval))]
    if start is not None:
        clauses.append(t.c.period_start >= start)
    if end is not None:
        clauses.append(t.c.period_start <= end)
    statement = (select(t.c.period_start, t.c.project, t.c.key2, t.c.value, t.c.noise_sd,
                        t.c.low, t.c.high).where(*clauses))
    cells: dict[date, dict[str, list[dict]]] = {}
    for r in _rows(engine, statement):
        cells.setdefault(r["period_start"], {}).setdefault(r["key2"], []).append(r)
    rows = []
    for period in sorted(cells):
        values = [_combined(period, value, found) for value, found in sorted(cells[period].items())]
        lows = sum(v["installs_low"] for v in values)
        highs = sum(v["installs_high"] for v in values)
        total = sum(v["installs"] for v in values)
        for v in values:
            rest_low, rest_high = lows - v["installs_low"], highs - v["installs_high"]
            v["share"] = _share(v["installs"], total)
            v["share_low"] = _share(v["installs_low"], v["installs_low"] + rest_high)
            v["share_high"] = _share(v["installs_high"], v["installs_high"] + rest_low)
            rows.append(v)
    return rows


def _combined(period: date, value: str, found: list[dict]) -> dict:
    """One breakdown value of one period, summed over the projects that released it."""
    shown = [r for r in found if r["value"] is not None]
    withheld = [r for r in found if r["value"] is None]
    total = sum(r["value"] for r in shown)
    halfwidth = sum_halfwidth([r["noise_sd"] or 0 for r in shown])
    low = max(0, total - halfwidth) if shown else 0
    high = (total + halfwidth if shown else 0) + sum(r["high"] or 0 for r in withheld)
    return {"period_start": period.isoformat(), "value": value, "projects": len(found),
            "installs": _plain(max(total, 0)), "installs_low": _plain(low),
            "installs_high": _plain(high)}


def _share(part, whole) -> float | None:
    return round(part / whole, 4) if whole else None


def releases(engine: Engine, project: str | None = None) -> list[dict]:
    """The ledger: every release, what it spent (newest first)."""
    t = public_releases
    statement = (select(t).where(servable())
                 .order_by(t.c.period_start.desc(), t.c.interval, t.c.project))
    if project is not None:
        statement = statement.where(t.c.project == project)
    rows = _rows(engine, statement)
    for row in rows:
        for key, value in row.items():
            if isinstance(value, date):
                row[key] = value.isoformat()
    return rows


def ledger_state(engine: Engine) -> tuple:
    """Changes whenever a release is added: (how many, the last id)."""
    t = public_releases
    with engine.connect() as connection:
        return tuple(connection.execute(select(func.count(), func.max(t.c.release_id))).one())


def released_through(engine: Engine) -> date | None:
    """The last day of the latest released day."""
    t = public_releases
    with engine.connect() as connection:
        return connection.execute(select(func.max(t.c.period_start))
                                  .where(t.c.interval == "day", servable())).scalar()


__all__ = ["BREAKDOWNS", "INTERVALS", "Query", "TABLES", "period_end"]
