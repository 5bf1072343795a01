"""The private API's and the transparency summary's part of /openapi.json (merged in by
server/openapi.py).  The private routes need a bearer token (`bearerAuth`); the pages
under /private are for people and are not described here."""

from __future__ import annotations

from ..model.periods import INTERVALS
from ..model.private import BY_NAME as PRIVATE
from .audit import CATEGORIES, MAX_PURPOSE

_ERROR = {"$ref": "#/components/schemas/Error"}
_NO_STORE = {"Cache-Control": {"schema": {"type": "string", "enum": ["no-store"]},
                               "description": "Private answers are never cached."}}
_S, _N = {"type": "string"}, {"type": "integer", "minimum": 0}
_DATE = {"type": "string", "format": "date"}


def _param(name: str, schema: dict, where: str = "query", required: bool = False,
           description: str = "") -> dict:
    return {"name": name, "in": where, "required": required, "schema": schema,
            "description": description}


def _error(description: str, headers: dict | None = None) -> dict:
    return {"description": description, "headers": {**_NO_STORE, **(headers or {})},
            "content": {"application/json": {"schema": _ERROR}}}


_PURPOSE = [
    _param("purpose", {"type": "string", "maxLength": MAX_PURPOSE},
           description=f"Why this read: CATEGORY[: free text], CATEGORY one of {', '.join(CATEGORIES)} "
                       "(others count as 'other'). Written to the audit log; only the category and "
                       "month are published."),
    _param("X-Purpose", {"type": "string", "maxLength": MAX_PURPOSE}, "header",
           description="The purpose as a header (wins over the query parameter)."),
]
_PRIVATE_ERRORS = {
    "400": _error("Bad parameter."),
    "401": _error("No token, or a wrong, expired or revoked one: no data.",
                  {"WWW-Authenticate": {"schema": _S}}),
    "403": _error("A valid token of the wrong role, or a maintainer's token for another project."),
    "429": _error("Too many failed tokens from this address: retry after Retry-After.",
                  {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}),
}


def _private(operation: str, summary: str, parameters: list, schema: dict, who: str) -> dict:
    return {"get": {
        "operationId": operation, "summary": summary, "description": f"{who} Every read is audited.",
        "security": [{"bearerAuth": []}], "parameters": [*parameters, *_PURPOSE],
        "responses": {"200": {"description": "The private aggregates (never an IP address or a "
                                             "client UUID for a maintainer).",
                              "headers": _NO_STORE, "content": {"application/json": {"schema": schema}}},
                      **_PRIVATE_ERRORS}}}


def _rows(properties: dict) -> dict:
    return {"type": "array", "items": {"type": "object", "properties": properties}}


def _private_rows(table) -> dict:
    """A private aggregate's rows (model/private.py) as the API gives them."""
    return _rows({"period_start": _DATE, **{name: _S for name, _ in table.keys},
                  **{name: _N for name in table.counts}})


SECURITY_SCHEMES = {"bearerAuth": {
    "type": "http", "scheme": "bearer", "bearerFormat": "svt_<id>_<secret>",
    "description": "A token from `sempervirens admin token create` (admin, or maintainer of a project)."}}

PATHS = {
    "/api/v1/private/projects/{project}/institutions": _private(
        "privateInstitutions", "Institutions and academic counts of a project",
        [_param("project", {"type": "string", "maxLength": 100}, "path", True,
                "project name (PEP 503 normalised)"),
         _param("interval", {"type": "string", "enum": list(INTERVALS), "default": "month"}),
         _param("start", _DATE, description="first period start included"),
         _param("end", _DATE, description="last period start included")],
        {"type": "object", "properties": {
            "project": _S, "interval": _S,
            "min_users": {**_N, "description": "institutions with fewer installations in a "
                          "period are left out (the private_min_users setting)"},
            "summary": _private_rows(PRIVATE["private_origin_summary"]),
            "institutions": _private_rows(PRIVATE["private_institution_users"])}},
        "The project's maintainer, or an admin."),
    "/api/v1/private/anomalies": _private(
        "privateAnomalies", "Addresses that sent for unusually many installations",
        [_param("project", {"type": "string", "maxLength": 100}, description="one project only")],
        {"type": "object", "properties": {"anomalies": _rows({
            "project": _S, "day": _DATE, "ip_hash": _S, "ip": {"type": "string", "nullable": True},
            "clients": _N, "pings": _N, "detected_at": {"type": "string", "format": "date-time"}})}},
        "Admins only."),
    "/api/v1/private/audit": _private(
        "privateAudit", "The audit log of private reads, newest first",
        [_param("month", {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"}),
         _param("before", {"type": "integer", "minimum": 1}, description="entries with a smaller id"),
         _param("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100})],
        {"type": "object", "properties": {"entries": _rows({
            "id": _N, "at": {"type": "string", "format": "date-time"}, "month": _S, "token_id": _S,
            "holder": _S, "role": _S, "action": _S, "project": _S, "category": _S, "purpose": _S})}},
        "Admins only."),
    "/api/v1/transparency": {"get": {
        "operationId": "transparency",
        "summary": "Private reads per month and purpose, legal requests per quarter",
        "description": "Public: counts only, never a name, token, project or free text.",
        "responses": {"200": {
            "description": "The transparency summary.",
            "headers": {"Cache-Control": {"schema": _S}},
            "content": {"application/json": {"schema": {"type": "object", "properties": {
                "private_reads": _rows({"month": _S, "purpose": _S, "reads": _N}),
                "legal_requests": _rows({"quarter": _S, "received": _N, "complied_in_part": _N,
                                         "complied_in_full": _N, "rejected": _N,
                                         "undisclosed": {"type": "string", "nullable": True}}),
                "purposes": {"type": "array", "items": _S}}}}}}}}},
}
