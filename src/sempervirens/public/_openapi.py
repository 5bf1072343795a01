"""The public API's part of /openapi.json (merged in by server/openapi.py)."""

from __future__ import annotations

_DATE = {"type": "string", "format": "date"}


def _param(name: str, schema: dict, where: str = "query", required: bool = False,
           description: str = "") -> dict:
    return {"name": name, "in": where, "required": required, "schema": schema,
            "description": description}


_PROJECT = _param("project", {"type": "string", "maxLength": 100}, "path", True,
                  "project name (PEP 503 normalised)")
_PERIODS = [
    _param("interval", {"type": "string", "enum": ["day", "week", "month"], "default": "day"},
           description="period length: UTC day, ISO week (Monday), calendar month"),
    _param("from", _DATE, description="first period start included"),
    _param("to", _DATE, description="last period start included"),
    _param("format", {"type": "string", "enum": ["json", "csv"], "default": "json"}),
]
_METRIC = _param("metric", {"type": "string", "maxLength": 128}, description="one metric only")
_CACHE = {"ETag": {"schema": {"type": "string"}},
          "Cache-Control": {"schema": {"type": "string"}}}


def _table(columns: dict) -> dict:
    return {"type": "object", "properties": {
        "project": {"type": "string"}, "interval": {"type": "string"},
        "columns": {"type": "array", "items": {"type": "string"}},
        "rows": {"type": "array", "items": {"type": "object", "properties": columns}}}}


def _get(operation: str, summary: str, parameters: list, schema: dict) -> dict:
    return {"get": {
        "operationId": operation, "summary": summary, "parameters": parameters,
        "responses": {
            "200": {"description": "Rows of the public aggregate table (JSON, or CSV with "
                                   "format=csv). Every row describes at least k installations.",
                    "headers": _CACHE,
                    "content": {"application/json": {"schema": schema},
                                "text/csv": {"schema": {"type": "string"}}}},
            "304": {"description": "Not modified (If-None-Match matched the ETag)."},
            "400": {"description": "Bad parameter."},
            "404": {"description": "No public statistics for this project."},
        }}}


_N = {"type": "integer", "minimum": 0}
_S = {"type": "string"}
_F = {"type": "number"}
BASE = "/api/v1/projects/{project}"
PATHS = {
    "/api/v1/projects": {"get": {
        "operationId": "listProjects", "summary": "Projects with their headline numbers",
        "parameters": [_param("format", {"type": "string", "enum": ["json", "csv"]})],
        "responses": {"200": {"description": "Projects, weekly and monthly active installations, "
                                             "and the privacy parameters in force.",
                              "headers": _CACHE}}}},
    "/api/v1/parameters": {"get": {
        "operationId": "parameters", "summary": "Privacy parameters (k, differential privacy)",
        "responses": {"200": {"description": "name -> {value, description}", "headers": _CACHE}}}},
    BASE + "/active-installs": _get(
        "activeInstalls", "Active installations per period, total or by breakdown",
        [_PROJECT, *_PERIODS, _param("breakdown", {"type": "string", "enum": [
            "", "version", "os", "arch", "python", "ci"]})],
        _table({"period_start": _DATE, "value": _S, "installs": _N})),
    BASE + "/features": _get(
        "features", "Feature usage: events and distinct users per counter and label",
        [_PROJECT, *_PERIODS, _METRIC],
        _table({"period_start": _DATE, "metric": _S, "label": _S, "events": _N, "users": _N})),
    BASE + "/timings": _get(
        "timings", "Timing percentiles (microseconds)", [_PROJECT, *_PERIODS, _METRIC],
        _table({"period_start": _DATE, "metric": _S, "p50_us": _F, "p90_us": _F, "p99_us": _F,
                "samples": _N, "users": _N})),
    BASE + "/crashes": _get(
        "crashes", "Crash reports by exception type and version", [_PROJECT, *_PERIODS],
        _table({"period_start": _DATE, "exception_type": _S, "version": _S, "crashes": _N,
                "users": _N})),
    BASE + "/opt-outs": _get(
        "optOuts", "Opt-out events and ratio", [_PROJECT, *_PERIODS],
        _table({"period_start": _DATE, "opt_outs": _N, "active": _N, "ratio": _F})),
    BASE + "/metrics": _get(
        "metrics", "Feature and timing names published for a project", [_PROJECT, *_PERIODS],
        {"type": "object"}),
    "/datasets/{period}/{filename}": {"get": {
        "operationId": "datasetFile", "summary": "A file of a dataset release (CSV, Parquet, "
                                                 "SHA256SUMS, manifest.json)",
        "parameters": [_param("period", _S, "path", True), _param("filename", _S, "path", True)],
        "responses": {"200": {"description": "The file"}, "404": {"description": "No such file"}}}},
}
