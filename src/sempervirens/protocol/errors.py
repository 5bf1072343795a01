"""Errors the server answers with, each carrying its HTTP status (the error shape of
docs/protocol.md, used by every layer that answers HTTP).

    ServerError
    ├── BadRequest            400  the ping will never be accepted: fix the client
    ├── Unauthorized          401
    ├── Forbidden             403
    ├── NotFound              404  unknown route or unregistered project
    ├── PayloadTooLarge       413  body or decompressed body over the limit
    ├── UnsupportedMediaType  415  not JSON, or an encoding other than gzip
    └── ServiceUnavailable    503  overloaded or the store is down: retry after Retry-After

One handler (`render`) turns each into the JSON body documented in docs/protocol.md.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse


class ServerError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = headers
        if code:
            self.code = code


class BadRequest(ServerError):
    status, code = 400, "invalid_request"


class Unauthorized(ServerError):
    status, code = 401, "unauthorized"


class Forbidden(ServerError):
    status, code = 403, "forbidden"


class NotFound(ServerError):
    status, code = 404, "not_found"


class PayloadTooLarge(ServerError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ServerError):
    status, code = 415, "unsupported_media_type"


class ServiceUnavailable(ServerError):
    status, code = 503, "unavailable"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(retry_after)})


def error_body(status: int, code: str, message: str, field: str | None = None) -> dict:
    error = {"status": status, "code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


async def render(_request: Request, error: ServerError) -> JSONResponse:
    return JSONResponse(error_body(error.status, error.code, error.message, error.field),
                        status_code=error.status, headers=error.headers)
