"""What an operator watches: Prometheus metrics and log lines (text or JSON).

Low in the layers (it imports only the catalogue), so that every layer above it
(the store's writer, enrichment, the release, the cycle, the server) records into the
same metrics; the server exposes them (docs/operations.md, "Observability").
"""

from ._logs import RateLimitedLog, configure_logging
from ._metrics import (
    COMMIT_SECONDS,
    CYCLE_LAST_SUCCESS,
    CYCLE_SECONDS,
    DNS_FAILURES,
    PINGS,
    QUEUE_DEPTH,
    RELEASES,
    STORE_ERRORS,
    exposition,
    record_cycle,
    serve_metrics,
)

__all__ = [
    "COMMIT_SECONDS", "CYCLE_LAST_SUCCESS", "CYCLE_SECONDS", "DNS_FAILURES", "PINGS", "QUEUE_DEPTH",
    "RELEASES", "STORE_ERRORS", "RateLimitedLog", "configure_logging", "exposition", "record_cycle",
    "serve_metrics",
]
