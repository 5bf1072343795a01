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
