"""The versioned wire format shared by the client and the server (docs/protocol.md).

Standard library only: the client imports it inside other people's programs.
"""

from ._limits import (
    BUCKETS_PER_DOUBLING,
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    MAX_BODY_BYTES,
    MAX_BUCKET,
    MAX_COUNT,
    MAX_CPU_COUNT,
    MAX_DECOMPRESSED_BYTES,
    MAX_LABEL_LENGTH,
    MAX_LABELS_PER_METRIC,
    MAX_METRICS,
    MAX_NAME_LENGTH,
    MAX_STRING_LENGTH,
    MAX_TRACEBACK_LENGTH,
    PING_TYPES,
    PING_TYPES_WITH_CLIENT_ID,
    SCHEMA_VERSION,
)
from ._identifiers import UUID_ANYWHERE, identifier_in
from ._validate import (
    Environment,
    Ping,
    ProtocolError,
    decode_json,
    normalize_project,
    parse_client_id,
    parse_document_id,
    timing_bucket,
    validate_ping,
)

__all__ = [
    "BUCKETS_PER_DOUBLING",
    "EARLIEST_TIMESTAMP",
    "LATEST_TIMESTAMP",
    "MAX_BODY_BYTES",
    "MAX_BUCKET",
    "MAX_COUNT",
    "MAX_CPU_COUNT",
    "MAX_DECOMPRESSED_BYTES",
    "MAX_LABEL_LENGTH",
    "MAX_LABELS_PER_METRIC",
    "MAX_METRICS",
    "MAX_NAME_LENGTH",
    "MAX_STRING_LENGTH",
    "MAX_TRACEBACK_LENGTH",
    "PING_TYPES",
    "PING_TYPES_WITH_CLIENT_ID",
    "SCHEMA_VERSION",
    "UUID_ANYWHERE",
    "Environment",
    "Ping",
    "ProtocolError",
    "decode_json",
    "identifier_in",
    "normalize_project",
    "parse_client_id",
    "parse_document_id",
    "submit_path",
    "timing_bucket",
    "validate_ping",
]


def submit_path(project: str, ping_type: str, document_id: str) -> str:
    """The URL path a ping is POSTed to, below the endpoint's base URL."""
    return f"/submit/{project}/{ping_type}/{SCHEMA_VERSION}/{document_id}"
