"""The private API over real HTTP: 401/403/429, no-store, audit of every read, no token in logs."""

from __future__ import annotations

import itertools
import re
import time

import httpx
import pytest

from _services.server import start_server
from admin_helpers import (
    audit_rows,
    bearer,
    make_token,
    seed_private_aggregates,
    seed_small_institutions,
    stores_of,
)
from sempervirens.admin import tokens
from sempervirens.cli import main

INSTITUTIONS = "/api/v1/private/projects/{}/institutions"
_addresses = (f"198.51.100.{i}" for i in itertools.count(1))
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
IP = re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # Proxies are trusted so that each test can speak from an address of its own;
    # debug logging so that "no token in the log" is checked at the chattiest level.
    running = start_server(tmp_path_factory.mktemp("admin-api") / "data",
                           extra_args=("--trusted-proxies", "127.0.0.1", "--log-level", "debug"))
    seed_private_aggregates(running, "scikit-learn")
    seed_private_aggregates(running, "numpy")
    seed_small_institutions(running, "scikit-learn")
    yield running
    running.stop()


@pytest.fixture
def client():
    # Each test is a different address, so the failure counter of one does not slow another.
    with httpx.Client(timeout=10, headers={"X-Forwarded-For": next(_addresses)}) as c:
        yield c


@pytest.fixture(scope="module")
def admin_token(server):
    return make_token(server, "admin", holder="operator-ops")


@pytest.fixture(scope="module")
def maintainer_token(server):
    return make_token(server, "maintainer", "Scikit_Learn", holder="alice@scikit-learn.example")


def test_no_token_or_a_wrong_one_is_401_without_data(server, client, maintainer_token):
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}, bearer("svt_nope"),
                    bearer(maintainer_token[:-2] + "xx")):
        reply = client.get(server.url + INSTITUTIONS.format("scikit-learn"), headers=headers)
        assert reply.status_code == 401, headers
        assert reply.headers["www-authenticate"].startswith("Bearer")
        assert reply.headers["cache-control"] == "no-store"
        assert "Stanford" not in reply.text and "institutions" not in reply.json()


def test_a_maintainer_reads_their_project_under_any_spelling(server, client, maintainer_token):
    for spelling in ("scikit-learn", "Scikit_Learn", "SCIKIT.learn"):
        reply = client.get(server.url + INSTITUTIONS.format(spelling), headers=bearer(maintainer_token))
        assert reply.status_code == 200, reply.text
        assert reply.headers["cache-control"] == "no-store"
        body = reply.json()
        assert body["project"] == "scikit-learn"
        assert [(r["institution"], r["users"]) for r in body["institutions"]] == [
            ("Stanford University", 12), ("example-corp.com", 7)]
        assert body["summary"][0]["edu"] == 12
        # counts per institution only: never an address or a client UUID
        assert not IP.search(reply.text) and not UUID.search(reply.text)


# An institution with 1 installation in a week ("smith-consulting.com") names about one
# person: no role sees one below the private_min_users setting (default 5).
def test_institutions_below_the_threshold_are_not_shown(server, client, maintainer_token,
                                                        admin_token):
    for token in (maintainer_token, admin_token):
        reply = client.get(server.url + INSTITUTIONS.format("scikit-learn"),
                           params={"interval": "week"}, headers=bearer(token))
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert [(r["institution"], r["users"]) for r in body["institutions"]] == [
            ("Small College", 5)]
        assert body["min_users"] == 5
        assert "smith-consulting.com" not in reply.text and "four-people" not in reply.text


def test_a_maintainer_of_another_project_is_403(server, client, maintainer_token):
    reply = client.get(server.url + INSTITUTIONS.format("numpy"), headers=bearer(maintainer_token))
    assert reply.status_code == 403
    assert reply.headers["cache-control"] == "no-store"
    assert "Stanford" not in reply.text


@pytest.mark.parametrize("path", ["/api/v1/private/anomalies", "/api/v1/private/audit"])
def test_admin_endpoints_refuse_maintainers(server, client, maintainer_token, admin_token, path):
    assert client.get(server.url + path, headers=bearer(maintainer_token)).status_code == 403
    reply = client.get(server.url + path, headers=bearer(admin_token))
    assert reply.status_code == 200 and reply.headers["cache-control"] == "no-store"


def test_admins_read_every_project_and_the_anomalies(server, client, admin_token):
    reply = client.get(server.url + INSTITUTIONS.format("numpy"), headers=bearer(admin_token))
    assert reply.status_code == 200 and reply.json()["institutions"]
    reply = client.get(server.url + "/api/v1/private/anomalies?project=NumPy", headers=bearer(admin_token))
    assert [(a["project"], a["clients"]) for a in reply.json()["anomalies"]] == [("numpy", 150_000)]


def test_expired_and_revoked_tokens_are_refused(server, client):
    short = make_token(server, "admin", expires_days=1 / 86400)  # one second
    time.sleep(1.1)
    assert client.get(server.url + "/api/v1/private/audit", headers=bearer(short)).status_code == 401

    token = make_token(server, "admin")
    assert client.get(server.url + "/api/v1/private/audit", headers=bearer(token)).status_code == 200
    # Revoked with the operator's command while the server runs: refused at once.
    token_id = token.split("_")[1]
    assert main(["admin", "token", "revoke", token_id, "--data-dir", str(server.data_dir)]) == 0
    assert client.get(server.url + "/api/v1/private/audit", headers=bearer(token)).status_code == 401


def test_every_private_read_is_audited_with_who_what_and_why(server, client, maintainer_token, admin_token):
    before = len(audit_rows(server))
    client.get(server.url + INSTITUTIONS.format("scikit-learn"),
               headers=bearer(maintainer_token, **{"X-Purpose": "funding-report: NumFOCUS grant"}))
    client.get(server.url + "/api/v1/private/anomalies?purpose=abuse", headers=bearer(admin_token))
    client.get(server.url + INSTITUTIONS.format("numpy"), headers=bearer(maintainer_token))  # 403: no read
    client.get(server.url + INSTITUTIONS.format("numpy"))  # 401: no read
    rows = audit_rows(server)
    new = rows[: len(rows) - before]
    assert [(r["action"], r["project"], r["category"], r["role"], r["holder"]) for r in reversed(new)] == [
        ("institutions", "scikit-learn", "funding-report", "maintainer", "alice@scikit-learn.example"),
        ("anomalies", None, "abuse", "admin", "operator-ops"),
    ]
    assert new[-1]["purpose"] == "funding-report: NumFOCUS grant"
    assert new[-1]["token_id"] == maintainer_token.split("_")[1]

    listed = client.get(server.url + "/api/v1/private/audit?limit=3", headers=bearer(admin_token)).json()
    assert listed["entries"][0]["action"] == "audit"  # reading the log is itself a read
    assert listed["entries"][1]["action"] == "anomalies"


def test_the_public_summary_counts_reads_per_month_and_purpose_without_names(server, client,
                                                                              maintainer_token):
    client.get(server.url + INSTITUTIONS.format("scikit-learn"),
               headers=bearer(maintainer_token, **{"X-Purpose": "research: alice's thesis on numpy"}))
    reply = client.get(server.url + "/api/v1/transparency")
    assert reply.status_code == 200 and "public" in reply.headers["cache-control"]
    body = reply.json()
    month = time.strftime("%Y-%m", time.gmtime())
    reads = {(r["month"], r["purpose"]): r["reads"] for r in body["private_reads"]}
    assert reads[(month, "research")] >= 1
    for secret in ("alice", "operator-ops", "thesis", "scikit-learn", "numpy", maintainer_token.split("_")[1]):
        assert secret not in reply.text


def test_repeated_failures_from_one_address_are_slowed_down(server, admin_token):
    with httpx.Client(timeout=10, headers={"X-Forwarded-For": "203.0.113.99"}) as attacker, \
            httpx.Client(timeout=10, headers={"X-Forwarded-For": "203.0.113.100"}) as bystander:
        statuses = [attacker.get(server.url + "/api/v1/private/audit", headers=bearer(f"svt_guess{i}")).status_code
                    for i in range(7)]
        assert statuses[:5] == [401] * 5 and 429 in statuses[5:]
        # Even the right token is not looked at while the address waits.
        reply = attacker.get(server.url + "/api/v1/private/audit", headers=bearer(admin_token))
        assert reply.status_code == 429 and int(reply.headers["retry-after"]) >= 1
        assert reply.headers["cache-control"] == "no-store"
        # Another address is not affected.
        assert bystander.get(server.url + "/api/v1/private/audit", headers=bearer(admin_token)).status_code == 200
        time.sleep(int(reply.headers["retry-after"]))
        assert attacker.get(server.url + "/api/v1/private/audit", headers=bearer(admin_token)).status_code == 200


def test_no_token_ever_reaches_the_log(server, client, admin_token, maintainer_token):
    wrong = "svt_0123456789ab_" + "S3cretGuess" * 4
    for token in (admin_token, maintainer_token, wrong):
        client.get(server.url + INSTITUTIONS.format("scikit-learn"), headers=bearer(token))
        client.get(server.url + "/api/v1/private/audit?purpose=" + token, headers=bearer(token))
    log = server.log()
    assert "GET" in log or "sempervirens" in log  # the log is being written (debug level)
    for token in (admin_token, maintainer_token, wrong):
        assert token.split("_", 2)[2] not in log


def test_only_a_hash_is_in_the_store(server, admin_token):
    stores = stores_of(server)
    try:
        with stores.private.connect() as connection:
            assert tokens.verify(connection, admin_token) is not None
    finally:
        stores.dispose()
    for path in server.data_dir.glob("private.db*"):
        assert admin_token.split("_", 2)[2].encode() not in path.read_bytes()


def test_transparency_page_counts_reads_without_names(server, client, maintainer_token):
    client.get(server.url + INSTITUTIONS.format("scikit-learn"),
               headers=bearer(maintainer_token, **{"X-Purpose": "research: alice's thesis"}))
    reply = client.get(server.url + "/transparency")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/html")
    month = time.strftime("%Y-%m", time.gmtime())
    assert f"<tr><td>{month}</td>" in reply.text and ">research</th>" in reply.text
    for secret in ("alice", "thesis", "scikit-learn", maintainer_token.split("_")[1]):
        assert secret not in reply.text


def test_a_proxy_adding_its_own_forwarded_line_does_not_let_guesses_change_address(server):
    # A proxy that adds an X-Forwarded-For line of its own (HAProxy's option forwardfor) leaves
    # the client's lines above it; the throttle read the first line, which the client writes,
    # so each guess from a new made-up address was never slowed down.
    with httpx.Client(timeout=10) as attacker:
        statuses = [attacker.get(server.url + "/api/v1/private/audit",
                                 headers=[*bearer(f"svt_guess{i}").items(),
                                          ("X-Forwarded-For", f"192.0.2.{i}"),
                                          ("X-Forwarded-For", "203.0.113.150")]).status_code
                    for i in range(7)]
    assert statuses[:5] == [401] * 5 and 429 in statuses[5:], statuses


# More rows than an answer holds (MAX_ROWS, 10,000: a year of daily rows of a popular
# project): the newest periods are given, not the oldest.
def test_an_answer_cut_at_max_rows_holds_the_newest_periods(tmp_path, monkeypatch):
    from datetime import date, timedelta

    from sempervirens.admin import private_api
    from sempervirens.aggregate import tables
    from sempervirens.store import open_stores

    monkeypatch.setattr(private_api, "MAX_ROWS", 4)
    stores = open_stores(tmp_path / "data")
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(6)]
    try:
        with stores.private.begin() as connection:
            connection.execute(tables.private_institution_users.insert(), [
                dict(project="numpy", interval="day", period_start=day, institution=name,
                     kind="other", users=users)
                for day in days for name, users in (("b.example", 9), ("a.example", 7))])
            connection.execute(tables.private_origin_summary.insert(), [
                dict(project="numpy", interval="day", period_start=day, users=16, academic=0,
                     other=16, unknown=0, edu=0) for day in days])
        with stores.private.connect() as connection:
            answer = private_api.read_institutions(connection, "numpy", "day", 5)
    finally:
        stores.dispose()
    assert [r["period_start"] for r in answer["summary"]] == [str(d) for d in days[2:]]
    assert [(r["period_start"], r["institution"]) for r in answer["institutions"]] == [
        (str(day), name) for day in days[4:] for name in ("b.example", "a.example")]
