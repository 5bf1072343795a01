"""Sign-in sessions of the private pages: HMAC-signed cookies that never hold the token.

A session cookie reads `<token id>.<expires>.<nonce>.<mac>`, where mac is an
HMAC-SHA256 (under a key derived from the server's secret key) of those fields
*and of the stored hash of the token*.  So the cookie grants nothing to whoever
reads the database, cannot be forged without the key, and dies with its token:
each request looks the token row up by id and refuses it when it is revoked,
expired or replaced.  The cookie is HttpOnly, SameSite=Strict, and on HTTPS
Secure with the `__Host-` prefix (no Domain, Path=/).

Sign-out deletes the cookie in the browser; the server keeps no session list
(every worker must accept every cookie), so a copied cookie would last until it
expires: sessions are short (SESSION_SECONDS, fixed, never extended), and
revoking the token ends every session made from it at once.

Forms carry a token derived from a nonce that sits in a SameSite=Strict cookie:
the session's nonce once signed in, a `signin` cookie's nonce before (so even the
sign-in form cannot be posted from another site to sign a victim in).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Connection, select
from starlette.requests import Request
from starlette.responses import Response

from . import _secret
from .tables import TOKEN_ID_LENGTH, api_tokens
from .tokens import Principal

SESSION_SECONDS = 8 * 3600
SIGNIN_SECONDS = 3600
_NO_SUCH_HASH = hashlib.sha256(b"no such token").hexdigest()


@dataclass(frozen=True)
class Session:
    principal: Principal
    nonce: str
    expires: int


def _key(request: Request) -> bytes:
    state = request.app.state
    key = getattr(state, "session_key", None)
    if key is None:
        secret = _secret.load_key(state.settings)
        key = state.session_key = hmac.new(secret, b"sempervirens private pages v1", "sha256").digest()
    return key


def _mac(key: bytes, *fields: str) -> str:
    return hmac.new(key, "|".join(fields).encode(), "sha256").hexdigest()


def is_https(request: Request) -> bool:
    """HTTPS here, or at a trusted proxy that says so (X-Forwarded-Proto)."""
    if request.url.scheme == "https":
        return True
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    if proto != "https" or not request.client:
        return False
    return request.app.state.client_address.trusts(request.client.host)


def cookie_name(request: Request, name: str) -> str:
    return f"__Host-sv_{name}" if is_https(request) else f"sv_{name}"


def _set(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(cookie_name(request, name), value, max_age=max_age, path="/",
                        secure=is_https(request), httponly=True, samesite="strict")


def clear(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(cookie_name(request, name), path="/", secure=is_https(request),
                           httponly=True, samesite="strict")


# -- sessions ---------------------------------------------------------------------

def start(request: Request, response: Response, principal: Principal, token_hash: str) -> None:
    expires = str(int(time.time()) + SESSION_SECONDS)
    nonce = secrets.token_urlsafe(18)
    mac = _mac(_key(request), "session", principal.token_id, expires, nonce, token_hash)
    _set(request, response, "session", f"{principal.token_id}.{expires}.{nonce}.{mac}",
         SESSION_SECONDS)
    clear(request, response, "signin")


def read(request: Request, connection: Connection) -> Session | None | bool:
    """The session of the request; None without one (or an expired one); False for a forged one."""
    value = request.cookies.get(cookie_name(request, "session"))
    if not value:
        return None
    parts = value.split(".")
    if len(parts) != 4 or len(parts[0]) != TOKEN_ID_LENGTH or not parts[1].isdigit():
        return False
    token_id, expires, nonce, mac = parts
    row = connection.execute(select(api_tokens).where(api_tokens.c.id == token_id)).mappings().first()
    expected = _mac(_key(request), "session", token_id, expires, nonce, row["hash"] if row else _NO_SUCH_HASH)
    if not hmac.compare_digest(expected, mac) or row is None:
        return False
    now = time.time()
    if int(expires) <= now or row["revoked_at"] is not None or (
            row["expires_at"] is not None and _timestamp(row["expires_at"]) <= now):
        return None  # genuine but over: sign in again
    return Session(Principal(row["id"], row["role"], row["project"], row["holder"]), nonce, int(expires))


def _timestamp(value: datetime) -> float:
    # SQLite gives back naive datetimes; everything is stored in UTC.
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()


# -- form tokens (CSRF) -------------------------------------------------------------

def form_token(request: Request, nonce: str) -> str:
    return _mac(_key(request), "form", nonce)


def signin_nonce(request: Request) -> tuple[str, bool]:
    """(nonce of the sign-in form, whether it is new and must be set with `remember_signin`)."""
    nonce = request.cookies.get(cookie_name(request, "signin"))
    if nonce and 16 <= len(nonce) <= 64:
        return nonce, False
    return secrets.token_urlsafe(18), True


def remember_signin(request: Request, response: Response, nonce: str) -> None:
    _set(request, response, "signin", nonce, SIGNIN_SECONDS)


def form_token_ok(request: Request, nonce: str | None, given: str | None) -> bool:
    if not nonce or not given:
        return False
    return hmac.compare_digest(form_token(request, nonce), given)
