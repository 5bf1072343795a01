"""The line diff behind /privacy/policy/v{N}/changes, the seed policy every new store starts
with, and which notice the home page shows."""

from __future__ import annotations

from sempervirens.public import notices
from sempervirens.public._policy_diff import counts, line_diff
from sempervirens.store import open_stores


def test_changed_lines_are_marked_with_context_and_gaps():
    old = "\n".join(f"line {i}" for i in range(1, 21))
    new = old.replace("line 3", "line three").replace("line 18\n", "") + "\nline 21"
    lines = line_diff(old, new)
    marked = [(line.mark, line.text) for line in lines if line.mark in "+-"]
    assert marked == [("-", "line 3"), ("+", "line three"), ("-", "line 18"), ("+", "line 21")]
    assert counts(lines) == (2, 2)
    assert [line.mark for line in lines].count("…") == 1  # lines 7 to 14 are left out
    assert all(line.text != "line 10" for line in lines)
    assert line_diff(old, old) == []


def test_a_new_store_holds_the_seed_policy_as_version_1(tmp_path):
    stores = open_stores(tmp_path, None, None)
    try:
        with stores.telemetry.connect() as connection:
            policy = notices.policy(connection)
            assert (policy["version"], policy["material"]) == (1, True)
            assert policy["text"].startswith("Privacy Policy\n")
            assert "Mozilla privacy policy" in policy["text"]
            assert notices.header_values(connection) == (1, 1, None)
            assert notices.notices(connection) == [] and notices.latest_recent(connection) is None
    finally:
        stores.dispose()


def test_the_home_page_notice_is_the_latest_of_the_last_30_days(tmp_path):
    from datetime import datetime, timedelta, timezone

    from sempervirens.admin.notices import post_notice

    now = datetime.now(timezone.utc)
    stores = open_stores(tmp_path, None, None)
    try:
        with stores.telemetry.begin() as connection:
            post_notice(connection, "service", "Old news", "Long ago.\n", now=now - timedelta(days=31))
            assert notices.latest_recent(connection, now) is None
            recent = post_notice(connection, "service", "Fresh", "Today.\n", now=now - timedelta(days=29))
            assert notices.latest_recent(connection, now)["id"] == recent
    finally:
        stores.dispose()


def test_publishing_and_reading_on_both_stores(tmp_path, store_kind, database_args):
    from sempervirens.admin.notices import post_notice, publish_policy, record_legal_requests

    urls = dict(zip(database_args[::2], database_args[1::2]))
    stores = open_stores(tmp_path, urls.get("--database"), urls.get("--private-database"))
    try:
        with stores.telemetry.begin() as connection:
            published = publish_policy(connection, "Version two.\n", "Shorter.", material=True)
            fix = post_notice(connection, "service", "Fix", "Fixed.\n", corrects=published.notice_id)
            record_legal_requests(connection, "2026Q1", received=3, complied_in_part=1,
                                  complied_in_full=0, rejected=2, undisclosed="0-249")
        with stores.telemetry.connect() as connection:
            assert notices.header_values(connection) == (2, 2, None)
            assert [n["id"] for n in notices.notices(connection)] == [fix, published.notice_id]
            assert notices.notice(connection, published.notice_id)["corrected_by"] == [fix]
            assert notices.policy(connection, 1)["published_at"].tzinfo is not None
            assert notices.legal_report(connection)[0]["undisclosed"] == "0-249"
    finally:
        stores.dispose()
