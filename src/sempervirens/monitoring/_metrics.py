"""The Prometheus metrics, declared once, and their exposition.

One server process (workers = 1) holds every number in memory.  With several
workers, `serve` sets PROMETHEUS_MULTIPROC_DIR before any worker starts: each
process then writes its numbers to files there, and whichever process is scraped
sums them (prometheus-client's multiprocess mode; gauges say how they combine).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)

from ..model.periods import INTERVALS

PINGS = Counter("sempervirens_pings", "Pings answered by the ingestion endpoint, by HTTP status "
                "and code (accepted, or the error code of the refusal).", ["status", "code"])
QUEUE_DEPTH = Gauge("sempervirens_queue_depth", "Pings waiting for their batch to be committed.",
                    multiprocess_mode="livesum")
COMMIT_SECONDS = Histogram("sempervirens_commit_seconds",
                           "Seconds from a batch's sending to the writer to its commit in both stores.",
                           buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
STORE_ERRORS = Counter("sempervirens_store_errors", "Store calls that failed or missed their deadline: "
                       "commit (a batch), read (a check on the way in), timeout (no answer).", ["kind"])
CYCLE_SECONDS = Gauge("sempervirens_cycle_duration_seconds",
                      "Seconds the last completed aggregation cycle took.", multiprocess_mode="mostrecent")
CYCLE_LAST_SUCCESS = Gauge("sempervirens_cycle_last_success_timestamp_seconds",
                           "Unix time the last aggregation cycle completed.", multiprocess_mode="max")
DNS_FAILURES = Counter("sempervirens_dns_failures", "Reverse DNS lookups that got no definite answer "
                       "(timeout, SERVFAIL, no resolver); retried next cycle.")
RELEASES = Counter("sempervirens_releases_published", "Differentially private releases published, "
                   "by interval.", ["interval"])


# Every label value a scrape should see from the start, at 0 (rates need a first sample).
STORE_ERROR_KINDS = ("commit", "read", "timeout")
for _kind in STORE_ERROR_KINDS:
    STORE_ERRORS.labels(_kind)
for _interval in INTERVALS:
    RELEASES.labels(_interval)


def record_cycle(seconds: float) -> None:
    """A cycle completed, taking `seconds`."""
    CYCLE_SECONDS.set(seconds)
    CYCLE_LAST_SUCCESS.set_to_current_time()


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    return generate_latest(_registry()), CONTENT_TYPE_LATEST


def serve_metrics(host: str, port: int) -> None:
    """Serve the metrics on their own port (a daemon thread), for scrapers only."""
    start_http_server(port, addr=host, registry=_registry())
