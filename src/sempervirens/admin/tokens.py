"""API tokens: created once and shown once, stored as a hash, checked in constant time.

A token reads `svt_<id>_<secret>`: the id (12 hex digits) finds the row and names
the token in lists and the audit log; the secret is 32 random bytes.  Only the
SHA-256 of the whole token is stored, so a copy of the database grants nothing.
(A fast hash is enough: the secret has 256 bits, there is nothing to brute-force.)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection, select, update

from ..model.text import refusal
from ..protocol import normalize_project
from .tables import TOKEN_ID_LENGTH, api_tokens

PREFIX = "svt"
ROLES = ("admin", "maintainer")
MAX_TOKEN_LENGTH = 100
# Compared against when the id is unknown, so that a miss costs what a hit costs.
_NO_SUCH_HASH = hashlib.sha256(b"no such token").hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who a valid token speaks for."""
    token_id: str
    role: str
    project: str | None
    holder: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(connection: Connection, role: str, *, project: str | None = None, holder: str = "",
           expires_days: float | None = None, now: datetime | None = None) -> tuple[str, str]:
    """Store a new token; return (token_id, token).  The token is never stored: show it once."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role == "maintainer":
        if not project:
            raise ValueError("a maintainer token needs a project")
        project = normalize_project(project)
    elif project:
        raise ValueError("an admin token is for every project: give no project")
    if expires_days is not None and expires_days <= 0:
        raise ValueError("expiry must be a positive number of days")
    refused = refusal("the holder", holder)
    if refused:
        raise ValueError(f"{refused} (it is listed and audited)")
    now = now or datetime.now(timezone.utc)
    token_id = secrets.token_hex(TOKEN_ID_LENGTH // 2)
    token = f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    connection.execute(api_tokens.insert().values(
        id=token_id, hash=hash_token(token), role=role, project=project,
        holder=holder.strip()[:200] or f"token {token_id}", created_at=now,
        expires_at=None if expires_days is None else now + timedelta(days=expires_days)))
    return token_id, token


def verify(connection: Connection, token: str, now: datetime | None = None) -> Principal | None:
    """The principal of a valid, unexpired, unrevoked token; None for anything else."""
    token_id = _token_id(token)
    row = None
    if token_id is not None:
        row = connection.execute(select(api_tokens).where(api_tokens.c.id == token_id)).mappings().first()
    matches = hmac.compare_digest(hash_token(token), row["hash"] if row else _NO_SUCH_HASH)
    if row is None or not matches or row["revoked_at"] is not None:
        return None
    now = now or datetime.now(timezone.utc)
    if row["expires_at"] is not None and _aware(row["expires_at"]) <= now:
        return None
    return Principal(row["id"], row["role"], row["project"], row["holder"])


def revoke(connection: Connection, token_or_id: str, now: datetime | None = None) -> bool:
    """Revoke by id (or by the whole token); False when no such active token exists."""
    token_id = _token_id(token_or_id) or token_or_id.strip().lower()
    result = connection.execute(
        update(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now or datetime.now(timezone.utc)))
    return result.rowcount == 1


def revoke_project(connection: Connection, project: str, now: datetime | None = None) -> int:
    result = connection.execute(
        update(api_tokens).where(api_tokens.c.project == project, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now or datetime.now(timezone.utc)))
    return result.rowcount


def listing(connection: Connection, now: datetime | None = None) -> list[dict]:
    """Every token with its status; never its hash."""
    now = now or datetime.now(timezone.utc)
    rows = connection.execute(select(api_tokens).order_by(api_tokens.c.created_at)).mappings()
    return [{
        "id": row["id"], "role": row["role"], "project": row["project"], "holder": row["holder"],
        "created_at": _aware(row["created_at"]).isoformat(),
        "expires_at": row["expires_at"] and _aware(row["expires_at"]).isoformat(),
        "status": ("revoked" if row["revoked_at"] is not None
                   else "expired" if row["expires_at"] is not None and _aware(row["expires_at"]) <= now
                   else "active"),
    } for row in rows]


def _token_id(token: str) -> str | None:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        return None
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != TOKEN_ID_LENGTH:
        return None
    if any(c not in "0123456789abcdef" for c in parts[1]):
        return None
    return parts[1]


def _aware(value: datetime) -> datetime:
    # SQLite gives back naive datetimes; everything here is stored in UTC.
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


__all__ = ["PREFIX", "ROLES", "Principal", "create", "hash_token", "listing",
           "revoke", "revoke_project", "verify"]
