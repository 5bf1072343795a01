"""Wire-format constants of protocol version 1, shared by client and server.

Changing a value here changes the protocol: update docs/protocol.md with it (the
client keeps a standard-library copy of what it needs, checked by a test).
"""

from datetime import datetime, timezone

SCHEMA_VERSION = 1

PING_TYPES = ("usage", "crash", "opt-out", "deletion-request")
# Ping types that must carry a client_id; an opt-out ping must not carry one.
PING_TYPES_WITH_CLIENT_ID = ("usage", "crash", "deletion-request")

MAX_BODY_BYTES = 1024 * 1024  # as received (Mozilla's edge refuses bodies over 1 MB)
MAX_DECOMPRESSED_BYTES = 1024 * 1024  # after gzip: bounds memory against bombs
MAX_METRICS = 1000  # counters + labeled-counter labels + timings in one ping
MAX_LABELS_PER_METRIC = 100
MAX_NAME_LENGTH = 128  # metric names
MAX_LABEL_LENGTH = 64
MAX_PROJECT_LENGTH = 100
MAX_STRING_LENGTH = 128  # versions, environment strings
MAX_TRACEBACK_LENGTH = 64 * 1024
MAX_COUNT = 2**53 - 1  # counters and bucket counts: exact in every JSON parser
MAX_DROPPED_REASONS = 20
MAX_CPU_COUNT = 2**31 - 1  # a 32-bit integer column in every store

# Timestamps (period.start, period.end) must lie in [EARLIEST, LATEST): a clock
# that far off is wrong, and dates near year 1 or 9999 overflow when converted.
EARLIEST_TIMESTAMP = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST_TIMESTAMP = datetime(2100, 1, 1, tzinfo=timezone.utc)

# Timing distributions use shared log-scale buckets so that histograms from
# different clients merge by adding counts: bucket b holds durations d (in
# microseconds) with floor(BUCKETS_PER_DOUBLING * log2(d)) == b; d < 1 is bucket 0.
BUCKETS_PER_DOUBLING = 4
MAX_BUCKET = 200  # 2**50 us, about 35 years
# A timing on the wire: its samples, their sum (us), and its histogram {bucket: samples}.
TIMING_FIELDS = ("count", "sum_us", "buckets")

__all__ = [
    "SCHEMA_VERSION",
    "PING_TYPES",
    "PING_TYPES_WITH_CLIENT_ID",
    "MAX_BODY_BYTES",
    "MAX_DECOMPRESSED_BYTES",
    "MAX_METRICS",
    "MAX_LABELS_PER_METRIC",
    "MAX_NAME_LENGTH",
    "MAX_LABEL_LENGTH",
    "MAX_PROJECT_LENGTH",
    "MAX_STRING_LENGTH",
    "MAX_TRACEBACK_LENGTH",
    "MAX_COUNT",
    "MAX_DROPPED_REASONS",
    "MAX_CPU_COUNT",
    "EARLIEST_TIMESTAMP",
    "LATEST_TIMESTAMP",
    "BUCKETS_PER_DOUBLING",
    "MAX_BUCKET",
    "TIMING_FIELDS",
]
