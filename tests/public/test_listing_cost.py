"""Answers made of the whole history (the dataset listing, the ledger) are built once per
state of what they list, not on every request: each request read every manifest, or
every row of the ledger, again (seconds of CPU for a few years of releases, on
unauthenticated requests anyone can repeat)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import create_engine, text

from _services.server import start_server
from public_helpers import DAY, release_day, telemetry_url


@pytest.fixture
def listed(tmp_path):
    running = start_server(tmp_path / "data")
    try:
        release_day(telemetry_url(running, ()), {"installs": [("numpy", DAY, "", "", 5000)]},
                    datasets_dir=running.data_dir / "releases")
        yield running
    finally:
        running.stop()


def test_the_listing_is_read_once_per_state_of_the_releases(listed):
    """Every manifest was read on each request to /datasets and to each latest link (2 s of
    CPU for ten projects' three years): a manifest changed in place, which the release
    never does, is not read again until a release lands."""
    releases = listed.data_dir / "releases"
    page = httpx.get(listed.url + "/datasets", timeout=10)
    assert page.status_code == 200 and 'data-testid="latest-day-numpy"' in page.text
    manifest = next(releases.glob("numpy/day-*/manifest.json"))
    manifest.chmod(0o644)
    manifest.write_text(manifest.read_text().replace('"epsilon": ', '"epsilon": null, "was": '))
    assert 'data-testid="latest-day-numpy"' in httpx.get(listed.url + "/datasets", timeout=10).text
    url = telemetry_url(listed, ())
    release_day(url, {"installs": [("scipy", DAY, "", "", 5000)]}, ("scipy",),
                datasets_dir=releases)  # a new project's directory: read again
    page = httpx.get(listed.url + "/datasets", timeout=10).text
    assert 'data-testid="latest-day-scipy"' in page and 'latest-day-numpy"' not in page
    assert httpx.get(listed.url + "/datasets/latest/scipy/day/README.md",
                     timeout=10).status_code == 307
    release_day(url, {"installs": [("scipy", DAY, "", "", 5000)]}, ("scipy",), correction=True,
                datasets_dir=releases)  # a new version in a project's directory: read again
    assert "scipy (v2)" in httpx.get(listed.url + "/datasets", timeout=10).text
    latest = httpx.get(listed.url + "/datasets/latest/scipy/day/manifest.json", timeout=10)
    assert latest.status_code == 307 and latest.headers["location"].endswith("-v2/manifest.json")


def test_the_ledger_is_read_once_per_state(listed):
    """A ledger row changed in place (which the release never does) is not read again
    until a release is added; then the new one is listed at once."""
    before = httpx.get(listed.url + "/api/v1/privacy/releases", timeout=10).json()["releases"]
    assert [r["project"] for r in before] == ["numpy"]
    engine = create_engine(telemetry_url(listed, ()))
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE public_releases SET mechanism = 'changed'"))
        again = httpx.get(listed.url + "/api/v1/privacy/releases", timeout=10).json()
        assert again["releases"] == before
        release_day(telemetry_url(listed, ()), {"installs": [("scipy", DAY, "", "", 5000)]},
                    ("scipy",))
        after = httpx.get(listed.url + "/api/v1/privacy/releases", timeout=10).json()["releases"]
        assert {r["project"] for r in after} == {"numpy", "scipy"}
        assert {r["mechanism"] for r in after if r["project"] == "numpy"} == {"changed"}
    finally:
        engine.dispose()
