"""A release made without differential privacy (no_dp, exact counts for a private
deployment) is never served, whatever the settings of the server that reads the store:
a later `serve` without --no-dp published its exact counts on every page, API answer
and dataset, with the ledger saying "not to be served publicly"."""

from __future__ import annotations

import math

import httpx
import pytest

from _services.server import start_server
from public_helpers import DAY, release_day, telemetry_url

EXACT = 13  # a count no noise would give exactly, and under nothing's k


@pytest.fixture
def mixed(tmp_path, database_args):
    """numpy's DAY released exactly (no_dp), scipy's with differential privacy."""
    running = start_server(tmp_path / "data", extra_args=database_args)
    try:
        url, datasets = telemetry_url(running, database_args), running.data_dir / "releases"
        release_day(url, {"installs": [("numpy", DAY, "", "", EXACT),
                                       ("numpy", DAY, "os", "linux", EXACT)]},
                    ("numpy",), datasets_dir=datasets, no_dp=True, k_anonymity=1)
        release_day(url, {"installs": [("scipy", DAY, "", "", 50_000),
                                       ("scipy", DAY, "os", "linux", 50_000)]},
                    ("scipy",), datasets_dir=datasets)
        yield running
    finally:
        running.stop()


def get(server, path: str, **params) -> httpx.Response:
    return httpx.get(server.url + path, params=params, timeout=10)


def test_no_reader_serves_a_release_made_without_dp(mixed):
    assert [p["project"] for p in get(mixed, "/api/v1/projects").json()["projects"]] == ["scipy"]
    for path in ("/api/v1/projects/numpy/active-installs", "/api/v1/projects/numpy/metrics",
                 "/projects/numpy"):
        assert get(mixed, path).status_code == 404, path
    ledger = get(mixed, "/api/v1/privacy/releases").json()["releases"]
    assert {r["project"] for r in ledger} == {"scipy"}
    linux = [r for r in get(mixed, "/api/v1/ecosystem", interval="day", breakdown="os")
             .json()["rows"] if r["value"] == "linux"]
    assert [r["projects"] for r in linux] == [1] and linux[0]["installs"] > 40_000
    budget = get(mixed, "/api/v1/privacy/budget").json()
    assert all(budget[kind][0] is not None and math.isfinite(budget[kind][0])
               for kind in ("day", "month", "year")), budget
    for path in ("/", "/datasets", "/ecosystem", "/privacy"):
        page = get(mixed, path)
        assert page.status_code == 200 and "numpy" not in page.text, path


def test_no_dataset_file_of_a_release_made_without_dp_is_served(mixed):
    written = sorted((mixed.data_dir / "releases" / "numpy").glob("day-*/*"))
    assert {p.name for p in written} >= {"statistics.csv", "manifest.json"}  # kept, privately
    for path in written:
        relative = path.relative_to(mixed.data_dir / "releases").as_posix()
        assert get(mixed, f"/datasets/{relative}").status_code == 404, relative
    for name in ("statistics.csv", "manifest.json"):
        assert get(mixed, f"/datasets/latest/numpy/day/{name}").status_code == 404
        assert get(mixed, f"/datasets/latest/scipy/day/{name}").status_code == 307
