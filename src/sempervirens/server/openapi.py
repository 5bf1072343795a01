"""The OpenAPI document served at /openapi.json: the ping bodies' JSON Schema is built
from the catalogue's fields (model/ping.py) and the protocol's limits."""

from __future__ import annotations

from functools import lru_cache

from .. import __version__
from ..admin._openapi import PATHS as PRIVATE_PATHS
from ..admin._openapi import SECURITY_SCHEMES
from ..protocol import (
    MAX_BUCKET,
    MAX_COUNT,
    MAX_LABEL_LENGTH,
    MAX_LABELS_PER_METRIC,
    MAX_METRICS,
    MAX_NAME_LENGTH,
    PING_TYPES,
    SCHEMA_VERSION,
)
from ..model.limits import BUCKETS_PER_DOUBLING, MAX_DROPPED_REASONS, TIMING_FIELDS
from ..model.ping import BOOLEAN, COUNT, FIELDS, STRING, TEXT, TIMESTAMP, UUID4, PingField
from ..public._openapi import PATHS as PUBLIC_PATHS

_UUID = {"type": "string", "format": "uuid"}
_UUID4 = {"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
          "description": "An RFC 4122 version 4 (random) UUID."}
_COUNT = {"type": "integer", "minimum": 0, "maximum": MAX_COUNT}
_NAME = {"type": "string", "pattern": r"^[a-z][a-z0-9_]*([.\-][a-z0-9_]+)*$", "maxLength": MAX_NAME_LENGTH}
_TIME = {"type": "string", "format": "date-time"}


def _object(properties: dict, **extra) -> dict:
    return {"type": "object", "properties": properties, "additionalProperties": False, **extra}


_TIMING = _object(
    {"count": _COUNT, "sum_us": _COUNT,
     "buckets": {"type": "object", "propertyNames": {"pattern": r"^(0|[1-9][0-9]{0,2})$"},
                 "additionalProperties": _COUNT, "maxProperties": MAX_BUCKET + 1}},
    required=list(TIMING_FIELDS),
    description=f"A histogram over shared log-scale buckets: bucket b holds durations d (us) "
                f"with floor({BUCKETS_PER_DOUBLING}*log2(d)) == b (b <= {MAX_BUCKET}); count is "
                f"the sum of bucket counts.",
)
# Objects whose keys are the client's names (metrics, reasons) rather than fields.
_SHAPES = {
    "metrics": _object({}, description=f"At most {MAX_METRICS} metrics (counters, labels and "
                                       f"timings) in all."),
    "metrics.counters": {"type": "object", "propertyNames": _NAME, "additionalProperties": _COUNT},
    "metrics.labeled_counters": {"type": "object", "propertyNames": _NAME, "additionalProperties": {
        "type": "object", "maxProperties": MAX_LABELS_PER_METRIC,
        "propertyNames": {"maxLength": MAX_LABEL_LENGTH}, "additionalProperties": _COUNT}},
    "metrics.timings": {"type": "object", "propertyNames": _NAME, "additionalProperties": _TIMING},
    "dropped": {"type": "object", "propertyNames": _NAME, "additionalProperties": _COUNT,
                "maxProperties": MAX_DROPPED_REASONS},
}


def _field_schema(f: PingField) -> dict:
    if f.path in _SHAPES:
        return dict(_SHAPES[f.path])
    schema = {
        STRING: {"type": "string", "minLength": 1, "maxLength": f.limit},
        COUNT: {"type": "integer", "minimum": 0, "maximum": f.limit},
        BOOLEAN: {"type": "boolean"},
        TIMESTAMP: _TIME,
        UUID4: _UUID4,
        TEXT: {"type": "string", "maxLength": f.limit},
    }[f.type]
    return {**schema, "description": f.description.replace("`", "")}


def _ping_schema(ping_type: str, **extra) -> dict:
    """The body of one ping type, built from the catalogue's fields (model/ping.py)."""
    root = _object({})
    for f in FIELDS:
        if ping_type not in f.allowed_in:
            continue
        required = ping_type in f.required_in
        node, parts = root, f.path.split(".")
        for part in parts[:-1]:
            node = node["properties"].setdefault(part, _object({}))
        leaf = _field_schema(f)
        node["properties"][parts[-1]] = {**leaf, **node["properties"].get(parts[-1], {})}
        if required or f.with_parent:
            node.setdefault("required", []).append(parts[-1])
        if required:  # its parents are required as well, each in its own parent
            parent = root
            for part in parts[:-1]:
                if part not in parent.setdefault("required", []):
                    parent["required"].append(part)
                parent = parent["properties"][part]
    return {**root, **extra}


_PING_DESCRIPTIONS = {
    "opt-out": "Counts an opt-out event. Must NOT carry a client_id.",
    "deletion-request": "Asks for every row about this client_id to be deleted.",
}
PING_SCHEMAS = {ping_type: _ping_schema(ping_type, **(
    {"description": _PING_DESCRIPTIONS[ping_type]} if ping_type in _PING_DESCRIPTIONS else {}))
    for ping_type in PING_TYPES}
_ERROR = _object({"error": _object({
    "status": {"type": "integer"}, "code": {"type": "string"},
    "field": {"type": "string"}, "message": {"type": "string"}})})


def _error(description: str, retry: bool = False) -> dict:
    response = {"description": description,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if retry:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"},
                                               "description": "Seconds to wait before retrying."}}
    return response


@lru_cache(maxsize=1)
def openapi() -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Sempervirens collection server", "version": __version__,
                 "description": "Ingestion of anonymous usage pings. See docs/protocol.md."},
        "paths": {
            "/submit/{project}/{ping_type}/%d/{document_id}" % SCHEMA_VERSION: {"post": {
                "operationId": "submit",
                "summary": "Submit one ping",
                "parameters": [
                    {"name": "project", "in": "path", "required": True,
                     "schema": {"type": "string", "pattern": r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$",
                                "maxLength": 100}},
                    {"name": "ping_type", "in": "path", "required": True,
                     "schema": {"type": "string", "enum": list(PING_TYPES)}},
                    {"name": "document_id", "in": "path", "required": True, "schema": _UUID},
                ],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"oneOf": [{"$ref": f"#/components/schemas/{t}"} for t in PING_TYPES]}}}},
                "responses": {
                    "202": {"description": "Stored durably (or already stored: a resend)."},
                    "400": _error("Invalid ping: do not retry."),
                    "404": _error("Unknown project on a server that accepts registered projects only."),
                    "413": _error("Body or decompressed body too large: do not retry."),
                    "415": _error("Not JSON, or an encoding other than gzip: do not retry."),
                    "503": _error("Overloaded or store unavailable: retry after Retry-After.", retry=True),
                },
            }},
            "/healthz": {"get": {"operationId": "healthz", "summary": "Health for load balancers",
                                 "responses": {"200": {"description": "Serving"},
                                               "503": {"description": "Not serving"}}}},
            **PUBLIC_PATHS,  # the public statistics API (sempervirens/public/_openapi.py)
            **PRIVATE_PATHS,  # the private API and /api/v1/transparency (sempervirens/admin/_openapi.py)
        },
        "components": {"schemas": {**PING_SCHEMAS, "Error": _ERROR}, "securitySchemes": SECURITY_SCHEMES},
    }
