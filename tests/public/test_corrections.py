"""A corrected period (a new version, release/publish.py) is read in its latest version
only, on SQLite and PostgreSQL: the API answered both versions' rows, and the ecosystem
summed the project's period twice, as if two projects had counted it."""

from __future__ import annotations

import httpx
import pytest

from _services.server import start_server
from public_helpers import DAY, release_day, telemetry_url

EXACT = {"installs": [(p, DAY, key1, key2, 50_000) for p in ("numpy", "scipy")
                      for key1, key2 in (("", ""), ("os", "linux"))],
         "feature_users": [("numpy", DAY, "io.read_csv", "", 20_000)]}
# The columns that name what a row counts, in every route's answer.
KEYS = ("period_start", "value", "metric", "label", "exception_type", "version")


@pytest.fixture
def corrected(tmp_path, database_args):
    """numpy and scipy released on DAY, then both corrected with the same exact counts."""
    running = start_server(tmp_path / "data", extra_args=database_args)
    try:
        url = telemetry_url(running, database_args)
        release_day(url, EXACT, ("numpy", "scipy"))
        release_day(url, EXACT, ("numpy", "scipy"), correction=True)
        yield running
    finally:
        running.stop()


def get(server, path: str, **params) -> dict:
    reply = httpx.get(server.url + path, params=params, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_each_key_of_a_corrected_period_is_one_row_of_its_latest_version(corrected):
    ledger = get(corrected, "/api/v1/privacy/releases")["releases"]
    numpy = {r["version"]: r["release_id"] for r in ledger if r["project"] == "numpy"}
    assert set(numpy) == {1, 2}  # the ledger keeps both, with what each spent
    for path, params in (("active-installs", {}), ("active-installs", {"breakdown": "os"}),
                         ("features", {}), ("timings", {}), ("crashes", {}), ("opt-outs", {})):
        rows = get(corrected, f"/api/v1/projects/numpy/{path}", **params)["rows"]
        keys = [tuple(r.get(c) for c in KEYS) for r in rows]
        assert rows and len(keys) == len(set(keys)), (path, params, rows)
    installs = get(corrected, "/api/v1/projects/numpy/active-installs")["rows"]
    assert 40_000 < installs[0]["installs"] < 60_000


def test_the_ecosystem_counts_a_corrected_project_once(corrected):
    rows = get(corrected, "/api/v1/ecosystem", interval="day", breakdown="os")["rows"]
    linux = next(r for r in rows if r["value"] == "linux")
    assert linux["projects"] == 2 and 80_000 < linux["installs"] < 120_000, linux
