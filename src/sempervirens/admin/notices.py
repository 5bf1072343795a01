"""Writing the privacy policy's versions, the public notices and the legal-request counts.

Everything written here is published as it is (public/notice_pages.py, /transparency),
so nothing is ever changed in place: a policy version is added, a notice is
corrected by a new notice naming it, and a quarter's counts are replaced only on
purpose (`--replace`), each step written to the audit log by the command.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Connection, func, select

from ..model.text import refusal
from ..store.schema import NOTICE_KINDS, legal_requests, notices, policy_versions

MAX_TITLE = 200
QUARTER = re.compile(r"([0-9]{4})Q([1-4])")
RANGE = re.compile(r"([0-9]{1,9})-([0-9]{1,9})")
# A notice is public: an installation id or an address pasted into one would be published.
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_ADDRESS_LIKE = re.compile(r"[0-9A-Fa-f:.]*[:.][0-9A-Fa-f:.]*")


class NoticeError(ValueError):
    """What the operator asked cannot be published; the message is one line."""


@dataclass(frozen=True)
class Published:
    version: int
    material: bool
    notice_id: int


def publish_policy(connection: Connection, text: str, summary: str, *, material: bool,
                   now: datetime | None = None) -> Published:
    """Add the next version of the policy, and a policy-change notice announcing it."""
    summary = " ".join(summary.split())
    if not text.strip():
        raise NoticeError("the policy file is empty")
    if not summary:
        raise NoticeError("--summary must say in a sentence what changed")
    _check_showable(("the policy file", text, True), ("--summary", summary, False))
    digest = hashlib.sha256(text.encode()).hexdigest()
    current = connection.execute(select(policy_versions.c.version, policy_versions.c.sha256)
                                 .order_by(policy_versions.c.version.desc()).limit(1)).first()
    if current is not None and current.sha256 == digest:
        raise NoticeError(f"unchanged: this is the text of version {current.version}, the current one")
    version = (current.version if current else 0) + 1
    now = now or datetime.now(timezone.utc)
    connection.execute(policy_versions.insert().values(
        version=version, published_at=now, summary=summary, material=material, text=text, sha256=digest))
    what = "a material change" if material else "not a material change"
    body = (f"{summary}\n\nVersion {version} of the privacy policy is {what}. "
            f"[Read it](/privacy/policy/v{version}), or see "
            f"[what changed from version {version - 1}](/privacy/policy/v{version}/changes).")
    notice_id = post_notice(connection, "policy-change", f"Privacy policy version {version}", body, now=now)
    return Published(version, material, notice_id)


def post_notice(connection: Connection, kind: str, title: str, body: str, *, corrects: int | None = None,
                now: datetime | None = None) -> int:
    """Post a public notice; its id."""
    title = " ".join(title.split())
    if kind not in NOTICE_KINDS:
        raise NoticeError(f"--kind must be one of {', '.join(NOTICE_KINDS)}")
    if not title or len(title) > MAX_TITLE:
        raise NoticeError(f"--title must be 1 to {MAX_TITLE} characters")
    if not body.strip():
        raise NoticeError("the notice's body is empty")
    _check_showable(("--title", title, False), ("the notice's body", body, True))
    for name, text in (("title", title), ("body", body)):
        found = _personal(text)
        if found:
            raise NoticeError(f"the {name} holds {found}: notices are public; remove it")
    if corrects is not None and connection.execute(
            select(notices.c.id).where(notices.c.id == corrects)).first() is None:
        raise NoticeError(f"--corrects {corrects}: no such notice (see `admin notice list`)")
    result = connection.execute(notices.insert().values(
        kind=kind, title=title, body=body, posted_at=now or datetime.now(timezone.utc), corrects=corrects))
    return int(result.inserted_primary_key[0])


def _check_showable(*texts: tuple[str, str, bool]) -> None:
    """NoticeError for the first (name, text, of several lines) holding what no published
    text may (model/text.py)."""
    for name, text, lines in texts:
        refused = refusal(name, text, lines=lines)
        if refused:
            raise NoticeError(refused)


def record_legal_requests(connection: Connection, quarter: str, *, received: int, complied_in_part: int,
                          complied_in_full: int, rejected: int, undisclosed: str | None = None,
                          replace: bool = False, now: datetime | None = None) -> bool:
    """Record a quarter's legal requests (counts only); True if it replaced earlier counts."""
    now = now or datetime.now(timezone.utc)
    match = QUARTER.fullmatch(quarter)
    if not match:
        raise NoticeError(f"--quarter {quarter!r}: must read YYYYQN, such as 2026Q4")
    if (int(match[1]), int(match[2])) > (now.year, (now.month + 2) // 3):
        raise NoticeError(f"--quarter {quarter}: has not begun yet")
    counts = {"received": received, "complied-in-part": complied_in_part,
              "complied-in-full": complied_in_full, "rejected": rejected}
    for name, value in counts.items():
        if value < 0:
            raise NoticeError(f"--{name} must be 0 or more (got {value})")
    answered = complied_in_part + complied_in_full + rejected
    if answered != received:
        raise NoticeError(f"the answers do not add up: {complied_in_part} in part + {complied_in_full} "
                          f"in full + {rejected} rejected = {answered}, but --received is {received}")
    low = high = None
    if undisclosed is not None:
        bounds = RANGE.fullmatch(undisclosed.strip())
        if not bounds or int(bounds[1]) > int(bounds[2]):
            raise NoticeError(f"--undisclosed-range {undisclosed!r}: must read LOW-HIGH, such as 0-249")
        low, high = int(bounds[1]), int(bounds[2])
    row = dict(received=received, complied_in_part=complied_in_part, complied_in_full=complied_in_full,
               rejected=rejected, undisclosed_low=low, undisclosed_high=high, recorded_at=now)
    exists = connection.execute(select(func.count()).select_from(legal_requests)
                                .where(legal_requests.c.quarter == quarter)).scalar()
    if exists and not replace:
        raise NoticeError(f"{quarter} is recorded already; --replace corrects it (the audit log keeps both)")
    if exists:
        connection.execute(legal_requests.update().where(legal_requests.c.quarter == quarter).values(**row))
    else:
        connection.execute(legal_requests.insert().values(quarter=quarter, **row))
    return bool(exists)


def _personal(text: str) -> str | None:
    """'an installation id' or 'an IP address' if the text holds one."""
    if _UUID.search(text):
        return "an installation id (a UUID)"
    for candidate in _ADDRESS_LIKE.findall(text):
        # An IPv6 address as it is; an IPv4 one without a trailing dot or its :port.
        parts = [candidate] if candidate.count(":") > 1 else candidate.split(":")
        for part in parts:
            try:
                ipaddress.ip_address(part.strip(".[]") if ":" not in part else part)
            except ValueError:
                continue
            return "an IP address"
    return None
