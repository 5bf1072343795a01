"""The audit log: one row appended for every read of private data, before the read.

Who (token id, holder, role), what (an action name and the project), when, and why:
the purpose given with the request (`X-Purpose` header or `purpose` query
parameter) as `CATEGORY[: free text]`.  The public summary publishes counts per
month and category only: never a name, a token, a project or the free text, which
could hold anything.  Nothing here ever records a client_id or an IP address.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from sqlalchemy import Connection, func, select

from ..model.text import showable
from .tables import audit_log

CATEGORIES = ("maintenance", "research", "funding-report", "security", "abuse", "access-request", "deletion",
              "legal", "operations")
UNSPECIFIED, OTHER = "unspecified", "other"
# Audited changes of what is published (admin/_notice_commands.py): not reads of private
# data, so not counted as such in the public summary.
PUBLICATIONS = ("policy-publish", "notice-post", "transparency-record")
# Reads about one installation at its own request (`admin export`, the right of
# access): audited, not counted in public; the exact count would tell whether one
# person asked for their data, as a count of deletions would whether one asked to be
# forgotten (docs/privacy.md).
FOR_ONE_PERSON = ("export",)
MAX_PURPOSE = 200
# Never kept, even when a caller pastes one into the purpose: a token (the log must
# not grant access) or a UUID (it would outlive the client's deletion).
_SCRUB = re.compile(r"svt_[0-9A-Za-z_-]*|[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")


def parse_purpose(text: str | None) -> tuple[str, str | None]:
    """(category, free text) of a purpose; an unknown category counts as 'other'."""
    text = _SCRUB.sub("[removed]", showable(text or "")).strip()[:MAX_PURPOSE]
    if not text:
        return UNSPECIFIED, None
    category = text.split(":", 1)[0].strip().lower()
    return (category if category in CATEGORIES else OTHER), text


def record(connection: Connection, *, holder: str, role: str, action: str, project: str | None = None,
           token_id: str | None = None, purpose: str | None = None, now: datetime | None = None) -> None:
    now = now or datetime.now(timezone.utc)
    category, text = parse_purpose(purpose)
    connection.execute(audit_log.insert().values(
        at=now, month=now.strftime("%Y-%m"), token_id=token_id, holder=holder[:200], role=role,
        action=action, project=project, category=category, purpose=text))


def listing(connection: Connection, *, month: str | None = None, before: int | None = None,
            limit: int = 100) -> list[dict]:
    """Newest first; for admins only."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if month:
        query = query.where(audit_log.c.month == month)
    if before:
        query = query.where(audit_log.c.id < before)
    return [{**row, "at": _iso(row["at"])} for row in connection.execute(query).mappings()]


def public_summary(connection: Connection) -> dict:
    """Private reads per month and purpose category: counts only.

    Not the deletions nor the reads FOR_ONE_PERSON: each is asked for by one person, so
    their exact count would tell whether one person asked (docs/privacy.md)."""
    reads = connection.execute(
        select(audit_log.c.month, audit_log.c.category, func.count().label("reads"))
        .where(audit_log.c.action.not_in(PUBLICATIONS + FOR_ONE_PERSON))
        .group_by(audit_log.c.month, audit_log.c.category)
        .order_by(audit_log.c.month, audit_log.c.category)).mappings()
    return {
        "private_reads": [{"month": r["month"], "purpose": r["category"], "reads": r["reads"]}
                          for r in reads],
        "purposes": list(CATEGORIES) + [OTHER, UNSPECIFIED],
    }


def _iso(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()
