"""Every kind of bad input gets a clear JSON error naming the problem, and stores nothing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx
import pytest

from pings import MINIMAL_OPT_OUT, new_id, post, usage

CLIENT = new_id()

# (what is wrong, keyword arguments for post(), status, error code, field)
CASES = [
    ("malformed JSON", dict(raw=b'{"client_id": '), 400, "malformed_json", None),
    ("not UTF-8", dict(raw=b'{"project_version": "\xff"}'), 400, "malformed_json", None),
    ("JSON array", dict(raw=b"[1, 2]"), 400, "malformed_json", None),
    ("counter of wrong type", dict(body=usage(metrics={"counters": {"io.read": "3"}})), 400, "invalid_field",
     "metrics.counters.io.read"),
    ("boolean counter", dict(body=usage(metrics={"counters": {"io.read": True}})), 400, "invalid_field",
     "metrics.counters.io.read"),
    ("negative counter", dict(body=usage(metrics={"counters": {"io.read": -1}})), 400, "invalid_field",
     "metrics.counters.io.read"),
    ("missing client_id", dict(body={"project_version": "1.0"}), 400, "missing_field", "client_id"),
    ("missing project_version", dict(body={"client_id": CLIENT}), 400, "missing_field", "project_version"),
    ("unknown ping type", dict(body=usage(), ping_type="heartbeat"), 400, "unknown_ping_type", "ping_type"),
    ("client_id not a UUID", dict(body=usage(client_id="not-a-uuid")), 400, "invalid_field", "client_id"),
    ("client_id a version 1 UUID", dict(body=usage(client_id="6fa459ea-ee8a-11ca-94cf-0242ac120002")), 400,
     "invalid_field", "client_id"),
    ("opt-out carrying a client_id", dict(body={**MINIMAL_OPT_OUT, "client_id": CLIENT}, ping_type="opt-out"),
     400, "forbidden_field", "client_id"),
    ("unknown field", dict(body=usage(email="someone@example.org")), 400, "unknown_field", "email"),
    ("unknown environment field", dict(body=usage(environment={"hostname": "lab-pc-7"})), 400, "unknown_field",
     "environment.hostname"),
    ("bad metric name", dict(body=usage(metrics={"counters": {"Has Spaces": 1}})), 400, "invalid_field",
     "metrics.counters.Has Spaces"),
    ("too many metrics", dict(body=usage(metrics={"counters": {f"m{i}": 1 for i in range(1001)}})), 400,
     "too_many_metrics", "metrics"),
    ("overlong version", dict(body=usage(project_version="1" * 500)), 400, "invalid_field", "project_version"),
    ("timing counts that do not add up", dict(body=usage(metrics={"timings": {"solve": {
        "count": 5, "sum_us": 10, "buckets": {"3": 1}}}})), 400, "invalid_field", "metrics.timings.solve.count"),
    ("period ending before it starts", dict(body=usage(period={"start": "2026-01-02T00:00:00Z",
                                                               "end": "2026-01-01T00:00:00Z"})),
     400, "invalid_field", "period.end"),
    ("crash ping without crash", dict(body=usage(), ping_type="crash"), 400, "missing_field", "crash"),
    ("unsupported schema version", dict(body=usage(), path_version="2"), 400, "unsupported_version", "version"),
    ("bad document id", dict(body=usage(), document_id="not-a-uuid%27%3B--"), 400, "invalid_field", "document_id"),
    ("bad project name", dict(body=usage(), project="-dash-"), 400, "invalid_field", "project"),
    ("wrong content type", dict(body=usage(), headers={"Content-Type": "text/plain"}), 415,
     "unsupported_media_type", "Content-Type"),
    ("unknown encoding", dict(body=usage(), headers={"Content-Encoding": "br"}), 415, "unsupported_media_type",
     "Content-Encoding"),
    ("oversize body", dict(raw=b" " * (1024 * 1024 + 1)), 413, "payload_too_large", None),
    ("decompression bomb", dict(raw=gzip.compress(b" " * (64 * 1024 * 1024)),
                                headers={"Content-Encoding": "gzip"}), 413, "payload_too_large", None),
    ("truncated gzip", dict(raw=gzip.compress(json.dumps(usage()).encode())[:-10],
                            headers={"Content-Encoding": "gzip"}), 400, "malformed_gzip", None),
]


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    from _services.server import start_server

    running = start_server(tmp_path_factory.mktemp("bad-input"))
    yield running
    running.stop()


@pytest.mark.parametrize("what, kwargs, status, code, field", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_nothing_is_stored(shared_server, what, kwargs, status, code, field):
    kwargs = dict(kwargs)
    version = kwargs.pop("path_version", None)
    with httpx.Client(timeout=30) as client:
        if version:
            reply = client.post(f"{shared_server.url}/submit/numpy/usage/{version}/{new_id()}",
                                content=json.dumps(kwargs["body"]), headers={"Content-Type": "application/json"})
        else:
            reply = post(client, shared_server.url, kwargs.pop("body", None), **kwargs)
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["code"] == code and error["status"] == status
    assert error.get("field") == field
    assert error["message"]
    assert shared_server.pings() == []
    assert shared_server.access_log() == []


def test_a_decompression_bomb_does_not_grow_the_server(shared_server):
    def peak_rss_kib() -> int:
        status = Path(f"/proc/{shared_server.process.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))

    bomb = gzip.compress(b"0" * (512 * 1024 * 1024))  # 512 MiB inflated, ~500 KiB sent
    before = peak_rss_kib()
    with httpx.Client(timeout=60) as client:
        for _ in range(3):
            reply = post(client, shared_server.url, None, raw=bomb, headers={"Content-Encoding": "gzip"})
            assert reply.status_code == 413
    assert peak_rss_kib() - before < 32 * 1024  # bounded by the 1 MiB limit, not by the bomb


def test_wrong_method_and_unknown_route_are_json_errors(shared_server):
    with httpx.Client(timeout=10) as client:
        assert client.get(f"{shared_server.url}/submit/numpy/usage/1/{new_id()}").json()["error"]["status"] == 405
        assert client.get(f"{shared_server.url}/api/v1/nothing-here").json()["error"]["status"] == 404


def test_a_trailing_slash_is_not_redirected_to_a_host_or_scheme_the_request_chose(shared_server):
    # Starlette answered 307 with an absolute Location built from the Host header and the
    # scheme the server saw: http:// behind a TLS proxy, so a client that follows a 307
    # (keeping method and body, as requests does) sent the ping, client_id and all, in clear.
    with httpx.Client(timeout=10, headers={"Host": "telemetry.example.org"}) as client:
        reply = post(client, shared_server.url, usage(), document_id=new_id() + "/")
        assert reply.status_code == 404 and "location" not in reply.headers
        assert reply.json()["error"]["code"] == "not_found"
        for path in ("/privacy/", "/api/v1/projects/", "/healthz/"):
            reply = client.get(shared_server.url + path)
            assert reply.status_code == 404 and "location" not in reply.headers, path
