"""Dataset files and /static answer a Range request as RFC 9110 has it: one the server does
not understand is ignored (the whole file), a valid one is a 206, one past the end a 416;
Starlette answered the first with a 400 in plain text, outside the site's JSON errors."""

from __future__ import annotations

import httpx
import pytest

from _services.server import start_server
from public_helpers import DAY, release_day, telemetry_url

NOT_UNDERSTOOD = ("bytes=abc", "items=0-9", "bytes=5-2", "bytes=-", "bytes=,", "bytes")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A server, and the paths of one dataset file and one static file it serves."""
    running = start_server(tmp_path_factory.mktemp("downloads") / "data")
    try:
        release_day(telemetry_url(running, ()), {"installs": [("numpy", DAY, "", "", 5000)]},
                    datasets_dir=running.data_dir / "releases")
        csv = next((running.data_dir / "releases").glob("numpy/day-*/statistics.csv"))
        yield running, [f"/datasets/{csv.relative_to(running.data_dir / 'releases').as_posix()}",
                        "/static/app.js"]
    finally:
        running.stop()


def test_a_range_the_server_does_not_understand_is_ignored(files):
    server, paths = files
    for path in paths:
        whole = httpx.get(server.url + path, timeout=10)
        assert whole.status_code == 200 and len(whole.content) > 100, path
        for value in NOT_UNDERSTOOD:
            reply = httpx.get(server.url + path, headers={"Range": value}, timeout=10)
            assert (reply.status_code, reply.content) == (200, whole.content), (path, value)


def test_a_range_still_answers_its_bytes_or_416(files):
    server, paths = files
    for path in paths:
        whole = httpx.get(server.url + path, timeout=10).content
        part = httpx.get(server.url + path, headers={"Range": "bytes=0-9"}, timeout=10)
        assert part.status_code == 206 and part.content == whole[:10], path
        past = httpx.get(server.url + path, headers={"Range": f"bytes={len(whole)}-"}, timeout=10)
        assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(whole)}"


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
