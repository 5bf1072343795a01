"""Every ping the client builds is one that protocol v1 accepts."""

import json
import time

from sempervirens.client import _pings, _recorder
from sempervirens.client._identity import is_uuid4, new_uuid4
from sempervirens.protocol import validate_ping


def _roundtrip(body: dict) -> dict:
    return json.loads(_pings.encode(body))


def test_usage_ping_with_every_metric_kind_is_valid():
    counters = {"io.read_csv": 3, ("io.read", "csv"): 2, ("io.read", "parquet"): 1}
    timings = {"solve": [2, 1500, {40: 1, 41: 1}]}
    metrics, dropped = _recorder.wire_metrics(counters, timings, 0)
    now = time.time()
    body = _pings.usage(new_uuid4(), "1.2.0", now - 5, now, metrics, dropped, {"spool_full": 2})
    ping = validate_ping("usage", _roundtrip(body))
    assert ping.metrics["counters"] == {"io.read_csv": 3}
    assert ping.metrics["labeled_counters"] == {"io.read": {"csv": 2, "parquet": 1}}
    assert ping.metrics["timings"]["solve"]["count"] == 2
    assert ping.metrics["memory"]["peak_rss_bytes"] > 0
    assert ping.dropped == {"spool_full": 2}
    assert ping.environment.cpu_count and ping.environment.python_version
    assert ping.library_name == "sempervirens-python"


def test_bad_recordings_are_dropped_and_counted_not_sent():
    counters = {
        "Bad Name": 1,
        "ok": -1,
        "fine": 1.5,
        ("io.read", 'quo"te'): 1,
        None: 1,
        "good": 2**60,
    }
    counters.update({("many", f"l{i}"): 1 for i in range(150)})
    metrics, dropped = _recorder.wire_metrics(counters, {"Bad.Timing": [1, 1, {0: 1}]}, 7)
    body = _pings.usage(new_uuid4(), "1.0", time.time(), time.time(), metrics, dropped, {})
    ping = validate_ping("usage", _roundtrip(body))
    assert ping.metrics["counters"] == {"good": 2**53 - 1}
    assert len(ping.metrics["labeled_counters"]["many"]) == 100
    assert ping.dropped == {
        "invalid_name": 3,
        "invalid_count": 2,
        "invalid_label": 1,
        "too_many_metrics": 57,
    }


def test_more_than_max_metrics_is_trimmed_to_a_valid_ping():
    counters = {f"c{i}": 1 for i in range(1500)}
    metrics, dropped = _recorder.wire_metrics(counters, {}, 0)
    body = _pings.usage(new_uuid4(), "1.0", time.time(), time.time(), metrics, dropped, {})
    ping = validate_ping("usage", _roundtrip(body))
    assert len(ping.metrics["counters"]) == 1000
    assert ping.dropped["too_many_metrics"] == 500


def test_opt_out_ping_carries_no_client_id():
    body = _roundtrip(_pings.opt_out("2.0"))
    ping = validate_ping("opt-out", body)
    assert "client_id" not in body and ping.client_id is None


def test_deletion_request_and_crash_pings_are_valid():
    client_id = new_uuid4()
    assert (
        validate_ping("deletion-request", _roundtrip(_pings.deletion_request(client_id))).client_id
        == client_id
    )
    crash = _pings.crash(
        client_id, "1.0", "mypkg.errors.SolverError", "Traceback ...\nSolverError: x"
    )
    assert validate_ping("crash", _roundtrip(crash)).crash_type == "mypkg.errors.SolverError"


def test_installation_ids_are_rfc4122_version_4():
    import uuid

    for _ in range(200):
        value = new_uuid4()
        parsed = uuid.UUID(value)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and is_uuid4(value)
