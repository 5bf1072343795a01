"""The public API's part of /openapi.json (merged in by server/openapi.py); its enums
come from the catalogue (model/)."""

from __future__ import annotations

from ..model.declarations import NAME_PATTERN
from ..model.domains import BREAKDOWN_NAMES, SHARED_BREAKDOWN_NAMES
from ..model.limits import MAX_NAME_LENGTH
from ..model.periods import INTERVALS
from ..model.statistics import PERCENTILES

_DATE = {"type": "string", "format": "date"}


def _param(name: str, schema: dict, where: str = "query", required: bool = False,
           description: str = "") -> dict:
    return {"name": name, "in": where, "required": required, "schema": schema,
            "description": description}


_PROJECT = _param("project", {"type": "string", "maxLength": 100}, "path", True,
                  "project name (PEP 503 normalised)")
_PERIODS = [
    _param("interval", {"type": "string", "enum": list(INTERVALS), "default": "day"},
           description="period length: UTC day, ISO week (Monday), calendar month"),
    _param("from", _DATE, description="first period start included"),
    _param("to", _DATE, description="last period start included"),
    _param("format", {"type": "string", "enum": ["json", "csv"], "default": "json"}),
]
_METRIC = _param("metric", {"type": "string", "pattern": f"^{NAME_PATTERN}$",
                            "maxLength": MAX_NAME_LENGTH}, description="one metric only")
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
            "200": {"description": "Released rows (JSON, or CSV with format=csv): each number "
                                   "differentially private, with its noise SD and 95% "
                                   "interval; null below k.",
                    "headers": _CACHE,
                    "content": {"application/json": {"schema": schema},
                                "text/csv": {"schema": {"type": "string"}}}},
            "304": {"description": "Not modified (If-None-Match matched the ETag)."},
            "400": {"description": "Bad parameter."},
            "404": {"description": "No public statistics for this project."},
        }}}


_N = {"type": ["integer", "null"]}
_S = {"type": "string"}
_F = {"type": ["number", "null"]}


def _measured(*names: str) -> dict:
    """A released number's columns: value, noise SD, 95% interval."""
    return {f"{name}{suffix}": (_F if suffix == "_sd" else _N)
            for name in names for suffix in ("", "_sd", "_low", "_high")}


BASE = "/api/v1/projects/{project}"
_INFO = {"200": {"description": "JSON", "headers": _CACHE}}
PATHS = {
    "/api/v1/projects": {"get": {
        "operationId": "listProjects", "summary": "Projects with their headline numbers",
        "parameters": [_param("format", {"type": "string", "enum": ["json", "csv"]})],
        "responses": {"200": {"description": "Projects: the last released week and month, each "
                                             "with the one before.", "headers": _CACHE}}}},
    "/api/v1/parameters": {"get": {
        "operationId": "parameters", "summary": "The privacy parameters in force",
        "responses": _INFO}},
    "/api/v1/privacy/budget": {"get": {
        "operationId": "privacyBudget",
        "summary": "The guarantee one installation gets over a day, a month and a year",
        "responses": _INFO}},
    "/api/v1/privacy/releases": {"get": {
        "operationId": "privacyReleases", "summary": "The ledger: every release and its budget",
        "responses": _INFO}},
    "/api/v1/notices": {"get": {
        "operationId": "notices",
        "summary": "Every notice (policy changes, incidents, corrections), newest first, "
                   "never edited: a correction is a notice of its own",
        "responses": _INFO}},
    "/api/v1/privacy/policy": {"get": {
        "operationId": "policyVersions",
        "summary": "The privacy policy's versions: number, date, summary, whether material, "
                   "and the URLs of each text and its changes",
        "responses": _INFO}},
    "/api/v1/ecosystem": {"get": {
        "operationId": "ecosystem",
        "summary": "Every project's installations together, by a breakdown whose values are the "
                   "same for every project (all but the version)",
        "parameters": [_param("interval", {"type": "string", "enum": list(INTERVALS)}),
                       _param("breakdown", {"type": "string",
                                            "enum": list(SHARED_BREAKDOWN_NAMES)}),
                       _param("from", _DATE), _param("to", _DATE),
                       _param("format", {"type": "string", "enum": ["json", "csv"]})],
        "responses": {"200": {"description": "Each period's sum over the projects, per value, "
                                             "with its 95% interval and share", "headers": _CACHE},
                      "400": {"description": "A bad parameter"}}}},
    BASE + "/active-installs": _get(
        "activeInstalls", "Active installations per period, total or by breakdown",
        [_PROJECT, *_PERIODS, _param("breakdown", {"type": "string", "enum": ["", *BREAKDOWN_NAMES]},
                                      description="'' (the total) or a breakdown of the catalogue")],
        _table({"period_start": _DATE, "value": _S, **_measured("installs")})),
    BASE + "/features": _get(
        "features", "Feature usage: installations and events per declared counter and label",
        [_PROJECT, *_PERIODS, _METRIC],
        _table({"period_start": _DATE, "metric": _S, "label": _S,
                **_measured("users", "events")})),
    BASE + "/timings": _get(
        "timings", "Percentiles of the installations' median durations (microseconds)",
        [_PROJECT, *_PERIODS, _METRIC],
        _table({"period_start": _DATE, "metric": _S,
                **{f"p{p}_us{x}": _F for p in PERCENTILES for x in ("", "_low", "_high")}})),
    BASE + "/crashes": _get(
        "crashes", "Crashes by declared kind and version", [_PROJECT, *_PERIODS],
        _table({"period_start": _DATE, "exception_type": _S, "version": _S,
                **_measured("users", "crashes")})),
    BASE + "/opt-outs": _get(
        "optOuts", "Opt-out events and ratio", [_PROJECT, *_PERIODS],
        _table({"period_start": _DATE, **_measured("opt_outs"), "active": _N, "ratio": _F,
                "ratio_low": _F, "ratio_high": _F})),
    BASE + "/metrics": _get(
        "metrics", "Feature and timing names released for a project", [_PROJECT],
        {"type": "object"}),
    BASE + "/catalogue": {"get": {
        "operationId": "catalogue",
        "summary": "What a project collects: its declared metrics, labels, timings, crash kinds "
                   "and versions, and when it declared them",
        "parameters": [_PROJECT],
        "responses": {**_INFO, "404": {"description": "Not registered, or nothing declared."}}}},
    "/datasets/{project}/{release}/{filename}": {"get": {
        "operationId": "datasetFile", "summary": "A file of a dataset release (statistics.csv, "
                                                 "statistics.parquet, README.md, manifest.json)",
        "parameters": [_param("project", _S, "path", True), _param("release", _S, "path", True),
                       _param("filename", _S, "path", True)],
        "responses": {"200": {"description": "The file"}, "404": {"description": "No such file"}}}},
}
