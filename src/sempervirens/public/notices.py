"""Reading the privacy policy's versions, the public notices and the legal-request counts.

Everything here is public by construction: the operator writes it (admin/notices.py),
nothing in it comes from a client.  The server reads `header_values` into the
headers of every 202 (server/_policy_headers.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection, func, select

from ..store.schema import legal_requests as legal_table
from ..store.schema import notices as notice_table
from ..store.schema import policy_versions

RECENT_DAYS = 30  # the home page shows the latest notice of this many days


def read(engine, reader, *args):
    """reader(connection, *args) on a connection of the telemetry store."""
    with engine.connect() as connection:
        return reader(connection, *args)


def header_values(connection: Connection) -> tuple[int, int, int | None]:
    """(current policy version, latest material version, latest security notice id or None)."""
    version = connection.execute(select(func.max(policy_versions.c.version))).scalar()
    material = connection.execute(select(func.max(policy_versions.c.version))
                                  .where(policy_versions.c.material)).scalar()
    security = connection.execute(select(func.max(notice_table.c.id))
                                  .where(notice_table.c.kind == "security")).scalar()
    return int(version or 1), int(material or 1), None if security is None else int(security)


def policies(connection: Connection) -> list[dict]:
    """Every published version, newest first, without its text."""
    columns = [c for c in policy_versions.c if c.name != "text"]
    rows = connection.execute(select(*columns).order_by(policy_versions.c.version.desc())).mappings()
    return [_dated(row, "published_at") for row in rows]


def policy(connection: Connection, version: int | None = None) -> dict | None:
    """One version with its text (the current one if `version` is None)."""
    query = select(policy_versions)
    if version is None:
        query = query.order_by(policy_versions.c.version.desc()).limit(1)
    else:
        query = query.where(policy_versions.c.version == version)
    row = connection.execute(query).mappings().first()
    return _dated(row, "published_at") if row else None


def notices(connection: Connection, limit: int | None = None) -> list[dict]:
    """Every notice, newest first, each with the ids of the notices that correct it."""
    query = select(notice_table).order_by(notice_table.c.id.desc())
    if limit:
        query = query.limit(limit)
    rows = [_dated(row, "posted_at") for row in connection.execute(query).mappings()]
    corrections = _corrections(connection)
    return [{**row, "corrected_by": corrections.get(row["id"], [])} for row in rows]


def notice(connection: Connection, notice_id: int) -> dict | None:
    row = connection.execute(select(notice_table).where(notice_table.c.id == notice_id)).mappings().first()
    if row is None:
        return None
    return {**_dated(row, "posted_at"), "corrected_by": _corrections(connection).get(notice_id, [])}


def latest_recent(connection: Connection, now: datetime | None = None) -> dict | None:
    """The latest notice of the last RECENT_DAYS days, for the home page."""
    since = (now or datetime.now(timezone.utc)) - timedelta(days=RECENT_DAYS)
    row = connection.execute(select(notice_table).where(notice_table.c.posted_at >= since)
                             .order_by(notice_table.c.id.desc()).limit(1)).mappings().first()
    return _dated(row, "posted_at") if row else None


def legal_requests(connection: Connection) -> list[dict]:
    """Legal requests per quarter, newest first: counts only."""
    rows = connection.execute(select(legal_table).order_by(legal_table.c.quarter.desc())).mappings()
    return [_dated(row, "recorded_at") for row in rows]


def _corrections(connection: Connection) -> dict[int, list[int]]:
    rows = connection.execute(select(notice_table.c.corrects, notice_table.c.id)
                              .where(notice_table.c.corrects.is_not(None)).order_by(notice_table.c.id))
    found: dict[int, list[int]] = {}
    for corrected, correction in rows:
        found.setdefault(corrected, []).append(correction)
    return found


def _dated(row, column: str) -> dict:
    """The row as a dict of plain-str keys, its timestamp in UTC (SQLite gives it back without a zone)."""
    row = {str(key): value for key, value in row.items()}
    value = row[column]
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    row[column] = value.astimezone(timezone.utc)
    return row


def legal_report(connection: Connection) -> list[dict]:
    """legal_requests as published (/transparency, /api/v1/transparency): the counts, and the
    undisclosed ones as a range "LOW-HIGH" (None: none to report)."""
    return [{"quarter": row["quarter"], "received": row["received"],
             "complied_in_part": row["complied_in_part"], "complied_in_full": row["complied_in_full"],
             "rejected": row["rejected"],
             "undisclosed": None if row["undisclosed_low"] is None
             else f"{row['undisclosed_low']}-{row['undisclosed_high']}"}
            for row in legal_requests(connection)]
