"""The query parameters of the public API, read one way for every route, by what
/openapi.json says the route takes (_openapi.py): one declaration, documented and enforced.

A parameter the route does not take is refused, and so is one given twice: a typo
(`?form=`), a breakdown on a route without one or `?interval=` on the ledger answered
something other than what was asked, without a word, and `?format=csv&format=json` was
read as its last value.  Each value must fit its schema before anything reaches the
store (a NUL in `?metric=` failed PostgreSQL's query: a 500).  An empty value of a
parameter without an enum is the parameter left out (`?from=`: from the first period).
"""

from __future__ import annotations

import re
from datetime import date

from starlette.requests import Request

from ..protocol.errors import BadRequest
from ._openapi import PATHS

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_SHOWN = 40  # characters of an unknown parameter's name repeated in the error


def read(request: Request) -> dict[str, str]:
    """The query's parameters, each one the route takes, given once, fitting its schema."""
    schemas = _schemas(request.scope["route"].path)
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in schemas:
            shown = ascii(name[:_SHOWN])  # quoted, escaped: no control or bidi character
            takes = f"takes {', '.join(schemas)}" if schemas else "takes no parameter"
            raise BadRequest(f"unknown parameter {shown}: this route {takes}",
                             field=shown[1:-1], code="unknown_parameter")
        if name in found:
            raise BadRequest(f"{name} is given more than once", field=name)
        found[name] = value
        _check(name, value, schemas[name])
    return {name: value for name, value in found.items()
            if value or "enum" in schemas[name]}


def day(params: dict[str, str], name: str) -> date | None:
    """A checked date parameter, or None when it is left out."""
    return date.fromisoformat(params[name]) if name in params else None


def _schemas(path: str) -> dict[str, dict]:
    parameters = PATHS[path]["get"].get("parameters", [])
    return {p["name"]: p["schema"] for p in parameters if p["in"] == "query"}


def _check(name: str, value: str, schema: dict) -> None:
    if "enum" in schema:
        if value not in schema["enum"]:
            choices = ", ".join(v for v in schema["enum"] if v)
            empty = " (or empty)" if "" in schema["enum"] else ""
            raise BadRequest(f"{name} must be one of {choices}{empty}", field=name)
    elif not value:
        return
    elif schema.get("format") == "date":
        if not _DATE.match(value) or not _is_date(value):
            raise BadRequest(f"{name} must be a date, YYYY-MM-DD", field=name)
    elif len(value) > schema["maxLength"] or not re.fullmatch(schema["pattern"], value):
        # Only a metric's name is free text (fullmatch: `$` alone allows a final newline).
        raise BadRequest(f"{name} must be a metric's name as declared: lower-case dotted snake "
                         f"case, at most {schema['maxLength']} characters", field=name)


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True
