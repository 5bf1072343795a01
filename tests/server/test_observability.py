"""Observability: Prometheus metrics scraped from a real server, and JSON log lines.

The server runs with its metrics on a port of their own and behind a token on its own
port, JSON logs and a cycle every second; the test sends good and bad pings, waits for
a cycle, scrapes both endpoints and parses them with prometheus_client's own parser.
"""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from _services.ports import free_port
from _services.server import start_server
from pings import post, usage
from sempervirens.enrich import resolve_many_sync

TOKEN = "a-scraper-token-of-some-length"


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


@pytest.mark.slow
def test_a_scrape_shows_pings_by_answer_commits_and_the_cycle(tmp_path):
    metrics_port = free_port()
    started = time.time()
    server = start_server(tmp_path / "data", extra_args=(
        "--metrics-port", str(metrics_port), "--metrics-token", TOKEN, "--log-format", "json",
        "--aggregate-interval-seconds", "1"))
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    try:
        with httpx.Client(timeout=10) as client:
            assert [post(client, server.url, usage()).status_code for _ in range(3)] == [202] * 3
            assert [post(client, server.url, None, raw=b"{").status_code for _ in range(2)] == [400] * 2
            assert post(client, server.url, usage(), project="-bad-").status_code == 400
            deadline = time.monotonic() + 30  # a cycle every second: wait for one to complete
            while (samples := _samples(client.get(metrics_url).text)).get(
                    ("sempervirens_cycle_last_success_timestamp_seconds", ()), 0) == 0:
                assert time.monotonic() < deadline, "no aggregation cycle completed"
                time.sleep(0.2)
            unauthorised = client.get(server.url + "/metrics")
            wrong = client.get(server.url + "/metrics", headers={"Authorization": "Bearer wrong"})
            behind_token = client.get(server.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        server.stop()

    pings = {labels: value for (name, labels), value in samples.items() if name == "sempervirens_pings_total"}
    assert pings[(("code", "accepted"), ("status", "202"))] == 3
    assert pings[(("code", "malformed_json"), ("status", "400"))] == 2
    assert sum(pings.values()) == 6  # the bad project name is counted under its own code
    assert samples[("sempervirens_commit_seconds_count", ())] >= 1  # three pings, one or more batches
    assert samples[("sempervirens_queue_depth", ())] == 0
    assert samples[("sempervirens_cycle_last_success_timestamp_seconds", ())] >= int(started)
    assert samples[("sempervirens_cycle_duration_seconds", ())] >= 0
    for family in ("sempervirens_dns_failures_total", "sempervirens_store_errors_total",
                   "sempervirens_releases_published_total"):
        assert any(name.startswith(family.removesuffix("_total")) for name, _ in samples), family

    assert unauthorised.status_code == 401 and wrong.status_code == 401
    assert unauthorised.json()["error"]["code"] == "unauthorized"
    assert behind_token.status_code == 200
    assert _samples(behind_token.text)[("sempervirens_pings_total", (("code", "accepted"), ("status", "202")))] == 3

    lines = [line for line in server.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line, uvicorn's included, is JSON
    assert all(set(record) >= {"time", "level", "logger", "message", "request_id"} for record in records)
    assert any(record["logger"] == "sempervirens.cycle" and record["message"].startswith("cycle:")
               for record in records)


def test_dns_failures_are_counted():
    before = REGISTRY.get_sample_value("sempervirens_dns_failures_total") or 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # a nameserver that never answers
        silent.bind(("127.0.0.1", 0))
        failed: set[str] = set()
        resolve_many_sync(["192.0.2.10", "192.0.2.11"], nameserver=f"127.0.0.1:{silent.getsockname()[1]}",
                          timeout=0.3, cache=None, failed=failed)
    assert failed == {"192.0.2.10", "192.0.2.11"}
    assert REGISTRY.get_sample_value("sempervirens_dns_failures_total") == before + 2


@pytest.mark.slow
def test_metrics_and_log_settings_are_checked_before_listening(tmp_path):
    import subprocess
    import sys

    for args, says in ((("--log-format", "xml"), "--log-format xml: must be one of text, json"),
                       (("--metrics-token", "short"), "--metrics-token: must be at least 16"),
                       (("--metrics-port", "70000"), "--metrics-port 70000: must be from 1 to 65535")):
        result = subprocess.run([sys.executable, "-m", "sempervirens", "serve", "--data-dir",
                                 str(tmp_path / "data"), "--port", str(free_port()), *args],
                                capture_output=True, text=True, timeout=60)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and says in lines[0], result.stderr
