"""The whole promise, end to end: the operator publishes a material policy change and posts
a security notice on a real server; the embedded client in a real host program learns of
both from the headers of an ordinary 202, shows them once on its next run (with the URLs
of the changes and of the notice, and how to opt out), and never again."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "client"))  # the client tests' helpers

import pytest  # noqa: E402
from client_helpers import assert_clean, clean_env, run_host  # noqa: E402
from notice_helpers import admin, write  # noqa: E402
from pings import post, usage  # noqa: E402
from sempervirens.protocol.headers import POLICY_VERSION  # noqa: E402

HOST = """\
import sempervirens
sempervirens.Telemetry("hostpkg", version="1.0", endpoint={url!r}).count("io.read_csv")
"""


def _run(url: str, env: dict) -> str:
    result = run_host(HOST.format(url=url), env)
    assert_clean(result)
    return result.stderr


def _until(predicate, timeout: float = 40.0):
    deadline = time.monotonic() + timeout
    while not (found := predicate()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


@pytest.mark.slow
def test_a_published_change_reaches_a_real_client_once(notices_server, client, tmp_path):
    url = notices_server.url
    env = clean_env(SEMPERVIRENS_HOME=str(tmp_path / "home"), SEMPERVIRENS_EXIT_TIMEOUT="10")
    stored = lambda: len(notices_server.query(  # noqa: E731
        "telemetry", "SELECT 1 FROM pings WHERE project = 'hostpkg'"))

    assert "sempervirens opt-out hostpkg" in _run(url, env)  # the first-run notice
    assert _run(url, env) == ""  # sends; the policy then in force is recorded silently
    assert _until(lambda: stored() >= 2)

    seed = admin(notices_server, "policy", "show").stdout
    assert admin(notices_server, "policy", "publish", write(tmp_path / "v2.md", seed + "\nNew.\n"),
                 "--summary", "Crash reports are kept longer.", "--material").returncode == 0
    assert admin(notices_server, "notice", "post", "--kind", "security", "--title", "Tokens rotated",
                 "--body", write(tmp_path / "breach.md", "What happened.\n")).returncode == 0
    security = next(n["id"] for n in client.get(url + "/api/v1/notices").json()["notices"]
                    if n["kind"] == "security")
    # The server's answers carry the new version within its refresh period.
    assert _until(lambda: post(client, url, usage()).headers.get(POLICY_VERSION) == "2")

    assert _run(url, env) == ""  # this run's answer tells the client; nothing shown yet
    assert _until(lambda: stored() >= 3)
    shown = _run(url, env)  # the next run shows both, once
    assert f"{url}/privacy/policy/v2/changes" in shown
    assert f"{url}/notices/{security}" in shown
    assert "sempervirens opt-out hostpkg" in shown
    assert _run(url, env) == ""  # and never again
    for page in (f"/privacy/policy/v2/changes", f"/notices/{security}"):
        assert client.get(url + page).status_code == 200
