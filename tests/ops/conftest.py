"""Fixtures of the operations tests: empty deployments on SQLite or on the session's PostgreSQL."""

from __future__ import annotations

import pytest


@pytest.fixture
def new_urls(store_kind, request):
    """Makes the store URLs of a new, empty deployment: (None, None) for SQLite files in
    its data directory, or two new PostgreSQL databases."""
    def make() -> tuple[str | None, str | None]:
        if store_kind == "sqlite":
            return (None, None)
        cluster = request.getfixturevalue("postgres")
        return (cluster.create_database("telemetry"), cluster.create_database("private"))
    return make
