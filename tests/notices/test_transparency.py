"""Legal requests per quarter on /transparency and /api/v1/transparency: counts that add up,
a range for those that may not be disclosed, each recording in the audit log."""

from __future__ import annotations

import re

from notice_helpers import admin

COUNTS = ("--received", "7", "--complied-in-part", "2", "--complied-in-full", "1", "--rejected", "4")


def test_a_quarter_is_recorded_shown_and_audited(notices_server, client):
    recorded = admin(notices_server, "transparency", "record", "--quarter", "2026Q3", *COUNTS,
                     "--undisclosed-range", "0-249")
    assert recorded.returncode == 0, recorded.stderr
    assert admin(notices_server, "transparency", "record", "--quarter", "2026Q2", "--received", "0",
                 "--complied-in-part", "0", "--complied-in-full", "0", "--rejected", "0").returncode == 0

    body = client.get(notices_server.url + "/api/v1/transparency").json()
    rows = {row["quarter"]: row for row in body["legal_requests"]}
    assert rows["2026Q3"] == {"quarter": "2026Q3", "received": 7, "complied_in_part": 2,
                              "complied_in_full": 1, "rejected": 4, "undisclosed": "0-249"}
    assert rows["2026Q2"]["undisclosed"] is None
    for row in rows.values():
        assert row["received"] == row["complied_in_part"] + row["complied_in_full"] + row["rejected"]
    assert body["private_reads"] == []  # recording is not a read of private data

    page = client.get(notices_server.url + "/transparency").text
    cells = re.findall(r'<tr data-quarter="2026Q3">(.*?)</tr>', page, re.S)[0]
    assert re.findall(r">([^<]+)</td>", cells) == ["2026Q3", "7", "2", "1", "4", "0-249"]

    audit = admin(notices_server, "audit", "--purpose", "operations: test")
    assert audit.stdout.count('"action": "transparency-record"') == 2
    assert '"purpose": "legal: legal requests of 2026Q3 recorded"' in audit.stdout


def test_counts_that_do_not_add_up_and_other_mistakes_are_refused(notices_server, client):
    cases = [
        (("--quarter", "2026Q3", "--received", "7", "--complied-in-part", "2", "--complied-in-full", "1",
          "--rejected", "3"), "do not add up"),
        (("--quarter", "2026Q3", "--received", "-1", "--complied-in-part", "-1", "--complied-in-full", "0",
          "--rejected", "0"), "0 or more"),
        (("--quarter", "2026-Q3", *COUNTS), "YYYYQN"),
        (("--quarter", "2026Q5", *COUNTS), "YYYYQN"),
        (("--quarter", "2999Q1", *COUNTS), "has not begun"),
        (("--quarter", "2026Q3", *COUNTS, "--undisclosed-range", "250-0"), "LOW-HIGH"),
        (("--quarter", "2026Q3", *COUNTS, "--undisclosed-range", "some"), "LOW-HIGH"),
    ]
    for args, expected in cases:
        result = admin(notices_server, "transparency", "record", *args)
        assert result.returncode != 0, args
        assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert client.get(notices_server.url + "/api/v1/transparency").json()["legal_requests"] == []


def test_a_recorded_quarter_changes_only_with_replace(notices_server, client):
    assert admin(notices_server, "transparency", "record", "--quarter", "2026Q1", *COUNTS).returncode == 0
    again = admin(notices_server, "transparency", "record", "--quarter", "2026Q1", "--received", "1",
                  "--complied-in-part", "0", "--complied-in-full", "0", "--rejected", "1")
    assert again.returncode != 0 and "--replace" in again.stderr
    replaced = admin(notices_server, "transparency", "record", "--quarter", "2026Q1", "--received", "1",
                     "--complied-in-part", "0", "--complied-in-full", "0", "--rejected", "1", "--replace")
    assert replaced.returncode == 0 and "replaced 2026Q1" in replaced.stderr
    [row] = client.get(notices_server.url + "/api/v1/transparency").json()["legal_requests"]
    assert (row["received"], row["rejected"]) == (1, 1)
    listed = admin(notices_server, "transparency", "list")
    assert listed.stdout.startswith("2026Q1\treceived 1\t")
