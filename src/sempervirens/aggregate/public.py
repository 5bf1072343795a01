"""Public rollups: SQL inside the telemetry store, one range of whole periods at a time.

The pings of the days to redo are read once into per-day base tables
(base_lanes): per day, each client's greatest report (base_clients) and per
project how many clients were active per version, OS, ... (base_parts); the
features, timings and crashes unpacked from the JSON metrics, as cells
(base_cells: per day and cell, its users and total) and their members
(base_members: per day, cell and client, the client's total).  Days are
published from those; weeks and months from the rollups kept between cycles
(rollups.py), into which each finished day is merged.  For each interval and range [lo, hi) of
whole periods, every public_* row of those periods is deleted and recomputed in
one transaction, so a rerun gives the same rows (idempotent) and readers never
see a half-done period (lanes.py runs the intervals side by side).  Pings listed
in aggregate_exclusions (anomalies) are left out.  Suppression is applied in the
same statements (suppress.py); differential privacy, when on, replaces the exact
active-install counts by noisy ones (dp.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from itertools import pairwise

from sqlalchemy import Connection, text

from ..store.schema import REPORTED
from . import tables
from ._sql import Dialect
from .suppress import fold_partition
from .tables import OTHER, UNKNOWN

# 2 ** ((b + 0.5) / 4): the geometric middle of timing bucket b (BUCKETS_PER_DOUBLING = 4).
_BUCKET_US = """bucket_us(b, us) AS (
    SELECT 0, 1.0905077326652577
    UNION ALL SELECT b + 1, us * 1.189207115002721 FROM bucket_us WHERE b < 200)"""

_CHUNKS = 12  # PostgreSQL: day ranges that its parallel workers share out

Lane = Callable[[Connection], None]  # runs and commits its own transactions (lanes.py)


@contextmanager
def begin(connection: Connection, d: Dialect) -> Iterator[None]:
    """A transaction of the aggregation, with its memory settings."""
    with connection.begin():
        _tune(connection, d)
        yield


def base_lanes(d: Dialect, lo: date, hi: date) -> list[list[Lane]]:
    """The per-day tables of [lo, hi) that the days' rows and the rollups are made
    of, shared by the connections of this run (made by create_base, dropped by
    drop_base: lanes.py), in two stages: base_clients first (the 30-day bitmaps
    need nothing else, and merge it beside the second stage); then two lanes of
    about equal work: the counters (the most JSON to unpack), and the rest."""
    def clients(connection: Connection) -> None:
        with begin(connection, d):
            build_clients(connection, d, lo, hi)

    def cells(*steps) -> Lane:
        def lane(connection: Connection) -> None:
            with begin(connection, d):
                for step in steps:
                    step(connection, d, lo, hi)
                # The lane that ends last sees the other's rows (committed) too.
                analyze_fresh(connection, d, "base_members", "project, day, client_id")
                analyze_fresh(connection, d, "base_cells", "project, day, kind, a")
        return lane

    return [[clients], [cells(_build_features), cells(_build_others, build_parts)]]


def create_base(connection: Connection, d: Dialect) -> None:
    """The empty base_cells and base_members, which both base lanes fill: a day's
    cells of every kind (rollup_cells explains them) in one place."""
    s = d.string
    cell = f"project {s}, day DATE, kind {s}, a {s}, b {s}"
    connection.execute(text(d.shared_table("base_cells", columns=(
        f"{cell}, users BIGINT, total BIGINT"))))
    connection.execute(text(d.shared_table("base_members", columns=(
        f"{cell}, client_id {s}, total BIGINT"))))


def analyze_fresh(connection: Connection, d: Dialect, table: str, columns: str) -> None:
    """PostgreSQL: statistics of a table just made, which the planner knows nothing
    of.  Its row count and the statistics of its join keys are what its plans turn
    on: a small sample of those columns does."""
    if d.pg:
        connection.execute(text("SET LOCAL default_statistics_target = 10"))
        connection.execute(text(f"ANALYZE {table} ({columns})"))
        connection.execute(text("SET LOCAL default_statistics_target TO DEFAULT"))


def ping_filter(connection: Connection, d: Dialect, lo: date, hi: date, alias: str = "p") -> str:
    """WHERE for the pings of [lo, hi) that count: days as literals, and the anomaly
    exclusions only when the range has any (their anti-join would stop PostgreSQL
    from reading the clients from the index alone)."""
    where = f"{alias}.day >= {d.date_literal(lo)} AND {alias}.day < {d.date_literal(hi)}"
    excluded = connection.execute(text(
        "SELECT 1 FROM aggregate_exclusions WHERE day >= :lo AND day < :hi LIMIT 1"),
        {"lo": d.date(lo), "hi": d.date(hi)}).first()
    if excluded:
        where += (" AND NOT EXISTS (SELECT 1 FROM aggregate_exclusions x "
                  f"WHERE x.document_id = {alias}.document_id)")
    return where


def client_pings(connection: Connection, d: Dialect, lo: date, hi: date) -> str:
    """WHERE for the usage and crash pings of [lo, hi): those that make a client active."""
    return (f"{ping_filter(connection, d, lo, hi)} AND p.client_id IS NOT NULL "
            "AND p.ping_type IN ('usage', 'crash')")


PROFILE = ("version", "os", "arch", "python", "ci")  # the breakdowns of active installs


def client_reports(connection: Connection, d: Dialect, lo: date, hi: date) -> str:
    """SELECT day, project, client_id, version, os, arch, python, ci: one row per
    client and day of [lo, hi), from its greatest report: the one with the
    greatest version, then OS, ... (UNKNOWN for a value not reported).

    This is the first entry of each client-day in the pings' index, so
    PostgreSQL reads it in order, without sorting or aggregating.
    """
    keys = ["p.day", "p.project", "p.client_id"]
    columns = {name: f"p.{column}" for name, column in zip(PROFILE, REPORTED, strict=True)}
    columns["ci"] = d.bool_text(columns["ci"])
    select = ", ".join([*keys, *(f"coalesce({e}, '{UNKNOWN}') AS {name}"
                                 for name, e in columns.items())])
    order = ", ".join(d.desc(f"p.{column}") for column in REPORTED)
    where = client_pings(connection, d, lo, hi)
    if d.pg:
        return (f"SELECT DISTINCT ON ({', '.join(keys)}) {select} FROM pings p "
                f"WHERE {where} ORDER BY {', '.join(keys)}, {order}")
    names = ", ".join(key[2:] for key in keys)
    return (f"SELECT {names}, {', '.join(PROFILE)} FROM (SELECT {select}, row_number() "
            f"OVER (PARTITION BY {', '.join(keys)} ORDER BY {order}) AS r "
            f"FROM pings p WHERE {where}) c WHERE r = 1")


def build_clients(connection: Connection, d: Dialect, lo: date, hi: date) -> None:
    """base_clients: per day, each active client with its greatest report."""
    connection.execute(text(d.shared_table("base_clients", client_reports(connection, d, lo, hi))))
    analyze_fresh(connection, d, "base_clients", "project, day, client_id")


def build_parts(connection: Connection, d: Dialect, lo: date, hi: date) -> None:
    """base_parts: per project and day, the clients counted per value of each
    breakdown (each client once, under its greatest report).

    On PostgreSQL the client-days stream from the pings' index in chunks of days
    that its parallel workers read side by side, each grouped once into every
    breakdown (GROUPING SETS); SQLite, which has no grouping sets, counts each
    breakdown from base_clients, which must be built.
    """
    def run(sql: str) -> None:
        connection.execute(text(sql))

    run("DROP TABLE IF EXISTS base_parts")
    if d.pg:
        days = (hi - lo).days
        n = min(days, _CHUNKS)
        bounds = [lo + timedelta(days=days * i // n) for i in range(n)] + [hi]
        breakdown = " ".join(f"WHEN GROUPING({name}) = 0 THEN '{name}'" for name in PROFILE)
        sets = ", ".join(f"(project, day, {name})" for name in PROFILE)
        selects = [f"""
            SELECT project, day, CASE {breakdown} END AS breakdown,
                   coalesce({', '.join(PROFILE)}) AS value, count(*) AS n
            FROM ({client_reports(connection, d, a, b)}) c
            GROUP BY GROUPING SETS ({sets})""" for a, b in pairwise(bounds)]
        # The chunks run in parallel workers (the one statement that has them:
        # _tune), which the planner prices too high by default for a plan it
        # cannot split itself.
        run("SET LOCAL max_parallel_workers_per_gather TO DEFAULT")
        run("SET LOCAL parallel_setup_cost = 0")
        run("SET LOCAL parallel_tuple_cost = 0.0001")
        run(d.shared_table("base_parts", " UNION ALL ".join(selects)))
        run("SET LOCAL max_parallel_workers_per_gather = 0")
        run("SET LOCAL parallel_setup_cost TO DEFAULT")
        run("SET LOCAL parallel_tuple_cost TO DEFAULT")
        run("ANALYZE base_parts")  # the planner knows nothing of a fresh table
        return
    run(d.shared_table("base_parts", " UNION ALL ".join(
        f"SELECT project, day, '{name}' AS breakdown, {name} AS value, count(*) AS n "
        f"FROM base_clients GROUP BY project, day, {name}" for name in PROFILE)))


@contextmanager
def _heap_order(connection: Connection, d: Dialect) -> Iterator[None]:
    """PostgreSQL: the statements inside read the pings' rows in the table's order
    (a bitmap scan: each page once), not in the index's (a page per ping: 0.2 s
    more per read of a day at 10M pings).  Index-only scans are off meanwhile."""
    if d.pg:
        connection.execute(text("SET LOCAL enable_indexscan = off"))
    yield
    if d.pg:
        connection.execute(text("SET LOCAL enable_indexscan TO DEFAULT"))


_MEMBERS = "INSERT INTO base_members (project, day, kind, a, b, client_id, total) "


def _build_features(connection: Connection, d: Dialect, lo: date, hi: date) -> None:
    """Cells 'feature' (metric, label): the counters and labeled counters."""
    with_client = f"{ping_filter(connection, d, lo, hi)} AND p.client_id IS NOT NULL"
    selects = []
    for join, metric, label, n in (d.counters(), d.labeled_counters()):
        selects.append(f"SELECT p.project, p.day, p.client_id, {metric} AS metric, "
                       f"{label} AS label, {n} AS n FROM pings p {join} WHERE {with_client}")
    with _heap_order(connection, d):
        connection.execute(text(f"""{_MEMBERS}
            SELECT project, day, 'feature', metric, label, client_id, sum(n)
            FROM ({' UNION ALL '.join(selects)}) u
            GROUP BY project, day, metric, label, client_id"""))
    _count_cells(connection, d, "feature")


def _build_others(connection: Connection, d: Dialect, lo: date, hi: date) -> None:
    """Cells 'timing' (metric), 'bucket' (metric, bucket: no members) and 'crash'
    (exception type, version); the opt-outs."""
    where = ping_filter(connection, d, lo, hi)
    with_client = f"{where} AND p.client_id IS NOT NULL"

    def run(sql: str) -> None:
        connection.execute(text(sql))

    join, metric, bucket, n = d.timing_buckets()
    version = f"coalesce(p.project_version, '{UNKNOWN}')"
    drop_temp(connection, "base_timings")
    with _heap_order(connection, d):
        run(d.temp_table("base_timings", f"""
            SELECT p.project, p.day, p.client_id, {metric} AS metric, {bucket} AS bucket,
                   sum({n}) AS n
            FROM pings p {join} WHERE {with_client}
            GROUP BY p.project, p.day, p.client_id, {metric}, {bucket}"""))
        run(f"""{_MEMBERS}
            SELECT p.project, p.day, 'crash', coalesce(p.crash_type, '{UNKNOWN}'), {version},
                   p.client_id, count(*)
            FROM pings p WHERE {with_client} AND p.ping_type = 'crash'
            GROUP BY p.project, p.day, coalesce(p.crash_type, '{UNKNOWN}'), {version},
                     p.client_id""")
    run(f"""{_MEMBERS}
        SELECT project, day, 'timing', metric, '', client_id, sum(n) FROM base_timings
        GROUP BY project, day, metric, client_id""")
    run("""INSERT INTO base_cells (project, day, kind, a, b, users, total)
           SELECT project, day, 'bucket', metric, CAST(bucket AS TEXT), 0, sum(n)
           FROM base_timings GROUP BY project, day, metric, bucket""")
    drop_temp(connection, "base_timings")
    _count_cells(connection, d, "timing", "crash")
    run(f"DELETE FROM rollup_opt_outs WHERE day >= {d.date_literal(lo)} AND day < {d.date_literal(hi)}")
    run(f"""INSERT INTO rollup_opt_outs (day, project, opt_outs)
            SELECT p.day, p.project, count(*) FROM pings p
            WHERE {where} AND p.ping_type = 'opt-out' GROUP BY p.day, p.project""")


def _count_cells(connection: Connection, d: Dialect, *kinds: str) -> None:
    """base_cells of these kinds from their members: a day's cell has as many users
    as members (one per client)."""
    # Without statistics, PostgreSQL takes the kinds for 0.5 % of the rows and
    # sorts them for a group aggregate (0.7 s a day at 10M pings, not 0.1 s).
    analyze_fresh(connection, d, "base_members", "project, day, kind, client_id")
    connection.execute(text(f"""
        INSERT INTO base_cells (project, day, kind, a, b, users, total)
        SELECT project, day, kind, a, b, count(*), sum(total) FROM base_members
        WHERE kind IN ({', '.join(f"'{kind}'" for kind in kinds)})
        GROUP BY project, day, kind, a, b"""))


def daily_active_installs(connection: Connection, d: Dialect, lo: date, hi: date,
                          k: int) -> None:
    """Only public_active_installs, interval day, for the days of [lo, hi).

    The same statements as the full pipeline's (base_parts, then the day's public
    rows with their suppression), without the other tables and intervals: what the
    benchmark times against its reference.  Leaves its base tables behind.
    """
    _tune(connection, d)
    drop_temp(connection, *_BASE)
    if not d.pg:  # (its base_parts are counted from base_clients)
        build_clients(connection, d, lo, hi)
    build_parts(connection, d, lo, hi)
    params = {"lo": d.date(lo), "hi": d.date(hi), "k": k, "interval": "day"}

    def run(sql: str, **extra) -> None:
        connection.execute(text(sql), {**params, **extra})

    run('DELETE FROM public_active_installs WHERE "interval" = :interval '
        "AND period_start >= :lo AND period_start < :hi")
    drop_temp(connection, *_PERIOD)
    _period_views(connection, d, "day", lo, hi, metrics=False)
    _active_installs(connection, run, d, "day", k, None)
    drop_temp(connection, *_PERIOD)


def drop_base(connection: Connection) -> None:
    drop_temp(connection, *_BASE)


def aggregate_range(connection: Connection, d: Dialect, interval: str, lo: date, hi: date,
                    k: int, today: date, dp=None) -> None:
    """Recompute the public rows of `interval` for the periods starting in [lo, hi).

    Days read the base tables of base_lanes(), which must cover [lo, hi); weeks
    and months read their rollups, which must be merged already (rollups.py).
    """
    params = {"lo": d.date(lo), "hi": d.date(hi), "k": k, "interval": interval}

    def run(sql: str, **extra):
        return connection.execute(text(sql), {**params, **extra})

    for table in tables.PERIOD_TABLES:
        run(f'DELETE FROM {table.name} WHERE "interval" = :interval '
            "AND period_start >= :lo AND period_start < :hi")
    drop_temp(connection, *_PERIOD)
    _period_views(connection, d, interval, lo, hi)
    _active_installs(connection, run, d, interval, k, dp)
    _feature_usage(run, d)
    _timings(run)
    _crashes(run, d)
    # Under DP the active count is the noisy published total, not the exact one.
    active = ("SELECT project, period_start, installs AS n FROM public_active_installs "
              "WHERE \"interval\" = :interval AND breakdown = '' "
              "AND period_start >= :lo AND period_start < :hi" if dp is not None else
              "SELECT project, period_start, n FROM agg_parts WHERE breakdown = ''")
    ps = d.period_start(interval, "day")
    # Weeks and months hold the finished days only (rollups.py): so do their opt-outs.
    until = d.date(min(hi, today) if interval != "day" else hi)
    run(f"""
        INSERT INTO public_opt_outs (project, "interval", period_start, opt_outs, active, ratio)
        SELECT o.project, :interval, o.period_start, o.n, a.n, o.n * 1.0 / (o.n + a.n)
        FROM (SELECT project, {ps} AS period_start, sum(opt_outs) AS n FROM rollup_opt_outs
              WHERE day >= :lo AND day < :until GROUP BY project, {ps}) o
        JOIN ({active}) a
          ON a.project = o.project AND a.period_start = o.period_start
        WHERE o.n >= :k AND a.n >= :k""", until=until)
    drop_temp(connection, *_PERIOD)


def _period_views(connection, d: Dialect, interval: str, lo: date, hi: date,
                  metrics: bool = True) -> None:
    """The inputs of the public statements for the periods of [lo, hi):

    - agg_breakdowns: active clients per value of each breakdown;
    - agg_cells: per cell (rollup_cells explains the kinds) its users and total;
    - agg_members: the clients counted in each cell.
    Days are read from the base tables, weeks and months from their rollups.
    """
    first, last = d.date_literal(lo), d.date_literal(hi)

    def view(name: str, select: str) -> None:
        temp_view(connection, name, select)

    if interval != "day":
        period = (f"WHERE \"interval\" = '{interval}' "
                  f"AND period_start >= {first} AND period_start < {last}")
        view("agg_breakdowns", f"SELECT project, period_start, breakdown, value, "
                               f"clients AS n FROM rollup_parts {period}")
        view("agg_cells", f"SELECT project, period_start, kind, a, b, users, total "
                          f"FROM rollup_cells {period}")
        join, number = d.numbers("c.cells")
        # Each number looked up in the cells' index.  On SQLite: CROSS JOIN keeps
        # this order, and unary + stops it from trading the period_start equality
        # for the range of the clients' filter (which loses the index's other keys).
        start = "c.period_start" if d.pg else "+c.period_start"
        view("agg_members", f"""
            SELECT c.project, c.period_start, k.kind, k.a, k.b, c.client_id
            FROM (SELECT * FROM rollup_clients {period}) c {join}
            CROSS JOIN rollup_cells k
            WHERE k."interval" = c."interval" AND k.period_start = {start}
              AND k.project = c.project AND k.cell = {number}""")
        return
    days = f"WHERE day >= {first} AND day < {last}"
    view("agg_breakdowns", f"SELECT project, day AS period_start, breakdown, value, n "
                           f"FROM base_parts {days}")
    if not metrics:
        return
    cell = "project, day AS period_start, kind, a, b"
    view("agg_cells", f"SELECT {cell}, users, total FROM base_cells {days}")
    view("agg_members", f"SELECT {cell}, client_id FROM base_members {days}")


def _active_installs(connection, run, d: Dialect, interval: str, k: int, dp) -> None:
    """agg_parts (the exact partitions, Python as major.minor), then
    public_active_installs from them."""
    value = f"CASE WHEN breakdown = 'python' THEN {d.minor_version('value')} ELSE value END"
    # The total is the sum of any breakdown's parts: a client has one value of each.
    run(d.temp_table("agg_parts", f"""
        SELECT project, period_start, breakdown, {value} AS value, sum(n) AS n
        FROM agg_breakdowns GROUP BY project, period_start, breakdown, {value}
        UNION ALL
        SELECT project, period_start, '', '', sum(n) FROM agg_breakdowns
        WHERE breakdown = 'ci' GROUP BY project, period_start"""))
    if dp is not None:  # noise first, then the same suppression, in dp.py
        dp.release_installs(connection, d, interval, k)
        return
    run("""INSERT INTO public_active_installs
               (project, "interval", period_start, breakdown, value, installs)
           SELECT project, :interval, period_start, '', '', n FROM agg_parts
           WHERE breakdown = '' AND n >= :k""")
    folded = fold_partition("(SELECT * FROM agg_parts WHERE breakdown <> '') parts",
                            "project, period_start, breakdown")
    run(f"""INSERT INTO public_active_installs
                (project, "interval", period_start, breakdown, value, installs)
            SELECT project, :interval, period_start, breakdown, value, n FROM ({folded}) f""")


def _cells(run, d: Dialect, table: str, columns: str, kind: str, group: str, values: str,
           where: str = "1 = 1") -> None:
    """The cells of `kind` with at least k users, then their OTHER rows (_other)."""
    run(f"""INSERT INTO {table} (project, "interval", period_start, {columns})
            SELECT project, :interval, period_start, a, b, total, users FROM agg_cells
            WHERE kind = '{kind}' AND users >= :k""")
    _other(run, d, table, columns, kind, group, values, where)


def _feature_usage(run, d: Dialect) -> None:
    # Small labels of a labeled counter: one OTHER label over their union of clients.
    _cells(run, d, "public_feature_usage", "metric, label, events, users", "feature", "a",
           f"t.a, '{OTHER}'", "b <> ''")


def _other(run, d: Dialect, table: str, columns: str, kind: str, group: str, values: str,
           where: str = "1 = 1") -> None:
    """One OTHER row per project, period and `group` for the cells under k: the sum of
    their totals and the distinct clients of their union (at least k, or no row)."""
    keys = ", ".join(["project", "period_start", *([group] if group else [])])
    run("DROP TABLE IF EXISTS agg_small")
    run(f"""CREATE TEMPORARY TABLE agg_small AS
            SELECT project, period_start, kind, a, b, total FROM agg_cells
            WHERE kind = '{kind}' AND users < :k AND {where}""")
    if run("SELECT 1 FROM agg_small LIMIT 1").first() is None:  # no member to look for
        run("DROP TABLE agg_small")
        return
    on = " AND ".join(f"m.{c} = s.{c}" for c in ("project", "period_start", "kind", "a", "b"))
    by = ", ".join(f"s.{c}" for c in keys.split(", "))
    run("DROP TABLE IF EXISTS agg_small_members")
    if d.pg:  # the small cells' members, by a hash join (of the few cells, once the
        # planner knows they are few: else it sorts every member for a merge join)
        run("ANALYZE agg_small")
        run(f"""CREATE TEMPORARY TABLE agg_small_members AS
                SELECT DISTINCT {by}, m.client_id
                FROM agg_small s JOIN agg_members m ON {on}""")
    else:  # SQLite: one pass over the members, each looking its cell up in agg_small's
        # index (CROSS JOIN keeps this order; the other one scans the members per cell)
        run("CREATE INDEX agg_small_cell ON agg_small (project, period_start, kind, a, b)")
        run(f"""CREATE TEMPORARY TABLE agg_small_members AS
                SELECT DISTINCT {by}, m.client_id
                FROM agg_members m CROSS JOIN agg_small s WHERE {on}""")
    run(f"""
        INSERT INTO {table} (project, "interval", period_start, {columns})
        SELECT t.project, :interval, t.period_start, {values}, t.total, u.users
        FROM (SELECT {keys}, sum(total) AS total FROM agg_small GROUP BY {keys}) t
        JOIN (SELECT {keys}, count(*) AS users FROM agg_small_members GROUP BY {keys}) u
          ON {' AND '.join(f'u.{c} = t.{c}' for c in keys.split(', '))}
        WHERE u.users >= :k""")
    run("DROP TABLE agg_small")
    run("DROP TABLE agg_small_members")


def _timings(run) -> None:
    run(f"""INSERT INTO public_timings
                (project, "interval", period_start, metric, p50_us, p90_us, p99_us, samples, users)
            WITH RECURSIVE {_BUCKET_US},
            hist AS (SELECT project, period_start, a AS metric, CAST(b AS INTEGER) AS bucket,
                            total AS n FROM agg_cells WHERE kind = 'bucket'),
            cumulative AS (
                SELECT project, period_start, metric, bucket,
                       sum(n) OVER (PARTITION BY project, period_start, metric ORDER BY bucket) AS cum,
                       sum(n) OVER (PARTITION BY project, period_start, metric) AS total
                FROM hist),
            pct AS (
                SELECT project, period_start, metric, total,
                       min(CASE WHEN cum >= 0.50 * total THEN bucket END) AS b50,
                       min(CASE WHEN cum >= 0.90 * total THEN bucket END) AS b90,
                       min(CASE WHEN cum >= 0.99 * total THEN bucket END) AS b99
                FROM cumulative GROUP BY project, period_start, metric, total),
            users AS (SELECT project, period_start, a AS metric, users FROM agg_cells
                      WHERE kind = 'timing')
            SELECT pct.project, :interval, pct.period_start, pct.metric,
                   u50.us, u90.us, u99.us, pct.total, users.users
            FROM pct
            JOIN users ON users.project = pct.project AND users.period_start = pct.period_start
                      AND users.metric = pct.metric
            JOIN bucket_us u50 ON u50.b = pct.b50
            JOIN bucket_us u90 ON u90.b = pct.b90
            JOIN bucket_us u99 ON u99.b = pct.b99
            WHERE users.users >= :k AND pct.total > 0""")


def _crashes(run, d: Dialect) -> None:
    # Small (type, version) cells: one OTHER row over their union of clients.
    _cells(run, d, "public_crashes", "exception_type, version, crashes, users", "crash", "",
           f"'{OTHER}', '{OTHER}'")


def _tune(connection: Connection, d: Dialect) -> None:
    """Memory for this transaction's sorts and hashes: the default 4 MB spills to disk."""
    if d.pg:  # and no JIT: its compile time outweighs its gain on these one-off queries
        connection.execute(text("SET LOCAL work_mem = '256MB'"))
        connection.execute(text("SET LOCAL jit = off"))
        # No parallel workers: the lanes (lanes.py) keep the cores busy, and the
        # planner, which takes each JSON function for 100 rows, would start them
        # for a day's few thousand pages.
        connection.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    else:  # (temp_store is MEMORY on every SQLite connection: store/_engines.py)
        connection.execute(text("PRAGMA cache_size = -262144"))  # KiB: 256 MB


_BASE = ("base_clients", "base_parts", "base_cells", "base_members")
_PERIOD = ("agg_breakdowns", "agg_parts", "agg_cells", "agg_members")


def temp_view(connection: Connection, name: str, select: str) -> None:
    """A view of this connection; drop_temp knows to drop it as a view."""
    connection.execute(text(f"CREATE TEMPORARY VIEW {name} AS {select}"))
    _temp_views(connection).add(name)


def drop_temp(connection: Connection, *names: str) -> None:
    """Drop these tables or views (of temp_view) if they exist."""
    for name in names:
        views = _temp_views(connection)
        kind = "VIEW" if name in views else "TABLE"
        views.discard(name)
        connection.execute(text(f"DROP {kind} IF EXISTS {name}"))


def _temp_views(connection: Connection) -> set[str]:
    """The names that are views just now, on this database connection."""
    return connection.info.setdefault("sempervirens_temp_views", set())
