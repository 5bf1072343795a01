"""Fixtures of the release tests: a real telemetry store (SQLite file, or the session's
PostgreSQL) holding the release tables, settings, and two projects' domains."""

from __future__ import annotations

import pytest
from release_helpers import NUMPY, SCIPY
from sqlalchemy import create_engine

from sempervirens import settings as settings_module
from sempervirens.release import domains_for, public_releases, public_statistics
from sempervirens.store.schema import telemetry


def make_engine(url: str):
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    engine = create_engine(url)
    telemetry.create_all(engine, tables=[public_releases, public_statistics])
    return engine


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'telemetry.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def any_engine(store_kind, request, tmp_path):
    """The release store on SQLite and on PostgreSQL."""
    if store_kind == "postgresql":
        url = request.getfixturevalue("postgres").create_database("release")
    else:
        url = f"sqlite:///{tmp_path / 'telemetry.db'}"
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings():
    return settings_module.resolve(None, {})


@pytest.fixture
def domains():
    return domains_for({"numpy": NUMPY, "scipy": SCIPY})


