"""What every PostgreSQL session of the stores runs with: UTC, the store's statement
deadline, and the operator's own options (from the URL, else PGOPTIONS) before them."""

from __future__ import annotations

from urllib.parse import quote

from sempervirens.store._engines import create_store_engine


def _show(engine, name: str) -> str:
    with engine.connect() as connection:
        return connection.exec_driver_sql(f"SHOW {name}").scalar()


def test_the_urls_options_apply_and_utc_wins(postgres):
    options = quote("-c search_path=audit,public -c TimeZone=Europe/Paris")
    engine = create_store_engine(postgres.create_database("t") + "?options=" + options,
                                 statement_timeout=5)
    try:
        assert _show(engine, "search_path").replace(" ", "") == "audit,public"
        assert _show(engine, "TimeZone") == "UTC"
        assert _show(engine, "statement_timeout") == "5s"
    finally:
        engine.dispose()


def test_a_postgres_scheme_url_runs_in_utc(postgres):
    url = postgres.create_database("t").replace("postgresql://", "postgres://")
    engine = create_store_engine(url)
    try:
        assert _show(engine, "TimeZone") == "UTC"
    finally:
        engine.dispose()


def test_pgoptions_still_applies(postgres, monkeypatch):
    # libpq reads PGOPTIONS only when a connection gives no options of its own.
    monkeypatch.setenv("PGOPTIONS", "-c search_path=audit,public")
    engine = create_store_engine(postgres.create_database("t"))
    try:
        assert _show(engine, "TimeZone") == "UTC"
        assert _show(engine, "search_path").replace(" ", "") == "audit,public"
    finally:
        engine.dispose()
