"""The steps of docs/operations.md, "PostgreSQL", run as written on a new cluster: the
stores are created by their own roles, and neither role reaches the other's database."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from ops_helpers import run
from sempervirens.store import open_stores

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def _documented_sql() -> list[str]:
    """The lines of the documented psql script (statements and \\connect)."""
    text = OPERATIONS.read_text()
    section = text[text.index("## PostgreSQL\n"):text.index("## Migrations\n")]
    script = re.search(r"psql --set ON_ERROR_STOP=1 <<'SQL'\n(.*?)\nSQL\n", section, re.S)
    assert script, "the PostgreSQL section lost its psql script"
    return script[1].splitlines()


def _run_as_superuser(cluster, lines: list[str]) -> None:
    database = "postgres"
    connection = psycopg.connect(cluster.url(database), autocommit=True)
    try:
        for line in lines:
            if line.startswith("\\connect "):
                connection.close()
                connection = psycopg.connect(cluster.url(line.split()[1]), autocommit=True)
            elif line.strip():
                connection.execute(line)
    finally:
        connection.close()


def _url(cluster, role: str, database: str, password: str) -> str:
    return f"postgresql://{role}:{password}@127.0.0.1:{cluster.port}/{database}"


def test_the_documented_steps_make_two_stores_with_separate_credentials(postgres, tmp_path):
    lines = _documented_sql()
    _run_as_superuser(postgres, lines)
    telemetry = _url(postgres, "sv_telemetry", "sv_telemetry", "CHANGE-ME")
    private = _url(postgres, "sv_private", "sv_private", "CHANGE-ME-TOO")

    stores = open_stores(tmp_path / "data", telemetry, private)  # as `serve` does at start
    stores.dispose()
    with psycopg.connect(telemetry) as connection:
        assert connection.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'pings'"
                                  ).fetchone() == ("sv_telemetry",)
    for role, database in (("sv_telemetry", "sv_private"), ("sv_private", "sv_telemetry")):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(_url(postgres, role, database, "x")).close()

    checked = run("check", "--data-dir", tmp_path / "data", "--database", telemetry,
                  "--private-database", private, "--dns-server", "127.0.0.1:1")
    assert "ok    telemetry migrations: at head" in checked.stdout, checked.stdout
    assert "ok    private migrations: at head" in checked.stdout
    assert "CHANGE-ME" not in checked.stdout + checked.stderr

    backup = run("backup", tmp_path / "backup", "--data-dir", tmp_path / "data",
                 "--database", telemetry, "--private-database", private)
    assert backup.returncode == 0, backup.stderr
    assert "CHANGE-ME" not in backup.stdout + backup.stderr
