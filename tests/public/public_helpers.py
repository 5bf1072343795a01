"""Helpers shared by the public tests (plain functions; the fixtures stay in conftest.py)."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import create_engine

from _services.server import RunningServer
from sempervirens import settings as settings_module
from sempervirens.model.declarations import Declaration, Metric

DAY = date(2026, 11, 2)
DECLARED = Declaration((Metric("io.read_csv", "counter", "Calls of read_csv."),
                        Metric("linalg.solve", "timing", "Duration of solve.")))


def table_rows(server: RunningServer, table: str, **where) -> list[dict]:
    """Rows of a public table read straight from the store file, as an operator would."""
    clause = " AND ".join(f'"{k}" = ?' for k in where) or "1"
    return server.query("telemetry", f"SELECT * FROM {table} WHERE {clause}", tuple(where.values()))


def telemetry_url(server: RunningServer, database_args: tuple[str, ...]) -> str:
    """The SQLAlchemy URL of the server's telemetry store (its file, or `--database`)."""
    urls = dict(zip(database_args[::2], database_args[1::2]))
    if "--database" in urls:
        return urls["--database"].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"sqlite:///{server.data_dir / 'telemetry.db'}"


def release_day(url: str, exact: dict, projects: tuple[str, ...] = ("numpy",),
                correction: bool = False, datasets_dir=None, **settings) -> None:
    """Release DAY of `projects` (each declaring DECLARED) from these exact counts, with
    the release's own code and these settings, into a store the server has created."""
    from sempervirens.release import domains_for, release_period

    engine = create_engine(url)
    try:
        release_period(engine, domains_for({p: DECLARED for p in projects}), "day", DAY, exact,
                       settings_module.resolve(None, {}, **settings), correction=correction,
                       now=datetime(2027, 1, 1, tzinfo=timezone.utc), datasets_dir=datasets_dir)
    finally:
        engine.dispose()
