"""Back-pressure and refusals, with a scripted server for the faults the real one
cannot produce on demand."""

import json
import time

import pytest
from _fault_server import FaultServer
from client_helpers import read_spool, spooled

import sempervirens
from sempervirens.client import _uploader
from sempervirens.client._spool import Spool
from sempervirens.client._uploader import Uploader, parse_retry_after
from sempervirens.protocol import validate_ping


@pytest.fixture
def fault_server():
    servers = []

    def make(*answers):
        server = FaultServer(list(answers))
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def _spool_one(home, endpoint, project="busy"):
    telemetry = sempervirens.Telemetry(project, version="1.0", endpoint=endpoint)
    telemetry.opt_in()  # no first-run notice: its run (this process) would hold the ping
    telemetry.count("x")
    _background_uploader_off()
    telemetry._end_period()
    return telemetry


def _background_uploader_off():
    """The test drives its own Uploader: the process's background one keeps off this
    spool, and the pass the first recording asked for has ended (it would hold a file
    the test's drain then skips)."""
    _uploader.uploader.data_dirs.clear()
    assert _uploader.uploader.wait(_uploader.uploader.request(), timeout=15)


def test_sends_gzip_json_to_the_submit_path(home, fault_server):
    server = fault_server((202, {}))
    _spool_one(home, server.url)
    [(header, _)] = read_spool(home)
    result = Uploader().drain(str(home))
    assert result.sent == 1 and spooled(home) == []
    [request] = server.requests
    assert request["path"] == f"/submit/busy/usage/1/{header['document_id']}"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["Content-Encoding"] == "gzip"
    validate_ping("usage", request["body"])


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_pauses_every_process_of_the_user(home, fault_server, status):
    server = fault_server((status, {"Retry-After": "120"}), (202, {}))
    _spool_one(home, server.url)
    assert Uploader().drain(str(home)).kept == 1
    assert len(spooled(home)) == 1
    # Another uploader (another process, the CLI) respects the pause: no request at all.
    assert Uploader().drain(str(home)).kept == 1
    assert len(server.requests) == 1
    pause = json.loads((home / "spool" / "pause.json").read_text())
    assert 100 < pause[server.url] - time.time() <= 120


def test_server_errors_back_off_with_jitter_and_keep_the_ping(home, fault_server):
    server = fault_server((500, {}), (202, {}))
    _spool_one(home, server.url)
    uploader = Uploader()
    assert uploader.drain(str(home)).kept == 1
    assert uploader.drain(str(home)).kept == 1  # backing off: not tried again yet
    assert len(server.requests) == 1
    when, failures = uploader._backoff[server.url]
    assert failures == 1 and 0.9 <= when - time.monotonic() <= 3.0
    uploader._backoff[server.url] = (0.0, 1)  # time passes
    assert uploader.drain(str(home)).sent == 1
    assert len({r["path"] for r in server.requests}) == 1  # the retry reused the document id


def test_refused_pings_are_dropped_and_counted(home, fault_server):
    server = fault_server((400, {}))
    _spool_one(home, server.url)
    result = Uploader().drain(str(home))
    assert result.dropped == 1 and spooled(home) == []
    assert Spool(str(home)).dropped() == {"busy": {"rejected_400": 1}}


def test_what_a_server_says_reaches_the_terminal_as_printable_ascii(home):
    """`sempervirens send` prints why a ping was refused: a hostile server's answer must
    not put an escape (a clipboard write, a hidden line) in the user's terminal."""
    hostile = ('{"error": {"message": "bad\x1b]52;c;Y3VybA==\x07\x1b[2J\x9b31m'
               '\u202eevil\u00e9"}}').encode()
    server = FaultServer([(400, {})], error_body=hostile)
    try:
        _spool_one(home, server.url)
        [problem] = Uploader().drain(str(home)).problems
    finally:
        server.close()
    assert problem.startswith(f"{server.url}: refused a usage ping (400): ")
    assert all(" " <= c <= "~" for c in problem), repr(problem)
    assert "bad?]52;c;Y3VybA==??[2J" in problem  # the words stay, the escapes do not


def test_retry_after_parsing():
    assert parse_retry_after("30") == 30
    assert parse_retry_after(None) == _uploader.DEFAULT_RETRY_AFTER
    assert parse_retry_after("soon") == _uploader.DEFAULT_RETRY_AFTER
    assert parse_retry_after("0") == 1.0
    assert parse_retry_after("99999999") == _uploader.MAX_RETRY_AFTER
    from email.utils import formatdate

    assert 50 < parse_retry_after(formatdate(time.time() + 60, usegmt=True)) <= 60


def test_plain_http_only_when_the_url_says_so(home, fault_server):
    server = fault_server((202, {}))
    https_url = server.url.replace("http://", "https://")
    _spool_one(home, https_url)
    result = Uploader().drain(str(home), timeout=2)
    assert (
        result.kept == 1 and server.requests == []
    )  # a TLS handshake failed; never fell back to http


def test_pings_of_the_notice_run_wait_until_that_run_has_ended(home, fault_server):
    import subprocess
    import sys

    server = fault_server((202, {}))
    telemetry = sempervirens.Telemetry("busy", version="1.0", endpoint=server.url)
    telemetry.count("x")  # the notice is shown by this process: the first run
    _background_uploader_off()
    telemetry._end_period()
    assert Uploader().drain(str(home)).kept == 1 and server.requests == []
    # The run that showed it is another process (a sibling); it is still running...
    first_run = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        store = json.loads((home / "consent.json").read_text())
        store["notices"]["busy"]["pid"] = first_run.pid
        (home / "consent.json").write_text(json.dumps(store))
        assert Uploader().drain(str(home)).kept == 1 and server.requests == []
    finally:
        first_run.kill()
        first_run.wait()
    # ...and now it has ended: the next run sends.
    assert Uploader().drain(str(home)).sent == 1


def test_flush_ends_the_period_and_uploads_in_the_background(home, fault_server):
    server = fault_server((202, {}))
    telemetry = sempervirens.Telemetry("flushed", version="1.0", endpoint=server.url)
    telemetry.opt_in()
    telemetry.count("x")
    telemetry.flush()
    deadline = time.monotonic() + 10
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    [request] = server.requests
    assert request["body"]["metrics"]["counters"] == {"x": 1}
