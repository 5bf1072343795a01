"""Bearer-token checks for the private API, and slowing down whoever keeps failing.

401: no token, or one that is wrong, expired or revoked (one answer for all, so
a caller learns nothing about which).  403: a valid token of the wrong role or
for another project.  After FREE_FAILURES failed tokens, an address must wait
BASE_DELAY * 2**(n - FREE_FAILURES) seconds (capped) after each further failure
before it is heard again; meanwhile it gets 429, without its token being looked
at.  The counts live in the memory of each server process and fade after
FORGET_AFTER seconds without a failure; nothing about them is logged.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict

from starlette.requests import Request

from ..protocol.errors import Forbidden, ServerError, Unauthorized
from . import tokens
from .tokens import Principal

FREE_FAILURES = 5
BASE_DELAY = 1.0
MAX_DELAY = 300.0
FORGET_AFTER = 900.0
MAX_TRACKED = 10_000  # addresses remembered at once; the oldest are forgotten first
NO_STORE = {"Cache-Control": "no-store"}


class TooManyRequests(ServerError):
    status, code = 429, "too_many_requests"


class FailureCounter:
    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def wait(self, address: str) -> float:
        """Seconds this address must still wait before it is heard (0: go ahead)."""
        entry = self._failures.get(address)
        if entry is None:
            return 0.0
        count, last = entry
        now = self._clock()
        if now - last > FORGET_AFTER:
            del self._failures[address]
            return 0.0
        if count < FREE_FAILURES:
            return 0.0
        delay = min(BASE_DELAY * 2 ** (count - FREE_FAILURES), MAX_DELAY)
        return max(0.0, last + delay - now)

    def failed(self, address: str) -> None:
        count, _ = self._failures.pop(address, (0, 0.0))
        self._failures[address] = (count + 1, self._clock())
        while len(self._failures) > MAX_TRACKED:
            self._failures.popitem(last=False)


def _counter(app) -> FailureCounter:
    counter = getattr(app.state, "auth_failures", None)
    if counter is None:
        counter = app.state.auth_failures = FailureCounter()
    return counter


async def authorize(request: Request, *, role: str | None = None) -> Principal:
    """The caller's principal, or an error: 429, 401, then 403 for the wrong role."""
    throttle(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required", headers=_challenge())
    principal = await check_token(request, token.strip())
    if principal is None:
        raise Unauthorized("the token is not valid", headers=_challenge('error="invalid_token"'))
    if role == "admin":
        require_admin(principal)
    return principal


def throttle(request: Request) -> None:
    """429 while the caller's address must still wait after its failures."""
    wait = _counter(request.app).wait(_address(request))
    if wait > 0:
        raise TooManyRequests("too many failed attempts from this address; retry later",
                              headers={**NO_STORE, "Retry-After": str(int(wait) + 1)})


def failed(request: Request) -> None:
    """Count one failed credential (a token, or a forged session cookie) against the caller."""
    _counter(request.app).failed(_address(request))


async def check_token(request: Request, token: str) -> Principal | None:
    """The token's principal; None (counted as a failure) for a wrong, expired or revoked one."""
    principal = await asyncio.to_thread(_verify, request.app.state.stores.private, token)
    if principal is None:
        failed(request)
    return principal


def require_admin(principal: Principal) -> None:
    if principal.role != "admin":
        raise Forbidden("this needs an admin token", headers=NO_STORE)


def require_project(principal: Principal, project: str) -> None:
    """Admins read every project; a maintainer only their own."""
    if principal.role != "admin" and principal.project != project:
        raise Forbidden("this token is not for this project", headers=NO_STORE)


def _address(request: Request) -> str:
    return request.app.state.client_address.of(request.scope)


def _verify(engine, token: str) -> Principal | None:
    with engine.connect() as connection:
        return tokens.verify(connection, token)


def _challenge(extra: str = "") -> dict[str, str]:
    value = 'Bearer realm="sempervirens"' + (f", {extra}" if extra else "")
    return {**NO_STORE, "WWW-Authenticate": value}
