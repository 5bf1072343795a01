"""Every 202 of /submit tells the client the policy version, the latest material version and
the latest security notice (protocol/headers.py), read from the store without a query per ping."""

from __future__ import annotations

from _services.server import start_server
from notice_helpers import admin, write
from pings import post, usage
from sempervirens.admin.notices import post_notice, publish_policy
from sempervirens.protocol.headers import POLICY_MATERIAL, POLICY_VERSION, SECURITY_NOTICE
from sempervirens.server._policy_headers import PolicyHeaders
from sempervirens.store import open_stores


def _policy_headers(reply) -> dict:
    return {name: reply.headers.get(name) for name in (POLICY_VERSION, POLICY_MATERIAL, SECURITY_NOTICE)}


def test_a_202_carries_the_seed_policy_and_no_security_notice(notices_server, client):
    reply = post(client, notices_server.url, usage())
    assert reply.status_code == 202
    assert _policy_headers(reply) == {POLICY_VERSION: "1", POLICY_MATERIAL: "1", SECURITY_NOTICE: None}


def test_a_202_carries_what_the_operator_published(notices_server, client, tmp_path):
    seed = admin(notices_server, "policy", "show").stdout
    assert admin(notices_server, "policy", "publish", write(tmp_path / "v2.md", seed + "Material.\n"),
                 "--summary", "A material change.", "--material").returncode == 0
    assert admin(notices_server, "policy", "publish", write(tmp_path / "v3.md", seed + "Typo fixed.\n"),
                 "--summary", "A typo.").returncode == 0
    assert admin(notices_server, "notice", "post", "--kind", "security", "--title", "Breach",
                 "--body", write(tmp_path / "breach.md", "What happened.\n")).returncode == 0
    notices_server.stop()  # a server started now reads them at start
    restarted = start_server(notices_server.data_dir, extra_args=("--contact", "x@example.org"))
    try:
        reply = post(client, restarted.url, usage())
        assert reply.status_code == 202
        # Notices 1 and 2 announce versions 2 and 3; the security notice is 3.
        assert _policy_headers(reply) == {POLICY_VERSION: "3", POLICY_MATERIAL: "2", SECURITY_NOTICE: "3"}
        # The URLs the client prints for them answer.
        assert client.get(restarted.url + "/privacy/policy/v2/changes").status_code == 200
        assert client.get(restarted.url + "/notices/3").status_code == 200
    finally:
        restarted.stop()


def test_the_cached_values_follow_the_store_when_refreshed(tmp_path):
    stores = open_stores(tmp_path, None, None)
    try:
        headers = PolicyHeaders(stores.telemetry, refresh_seconds=3600)
        assert dict(headers.current()) == {b"sempervirens-policy-version": b"1",
                                           b"sempervirens-policy-material": b"1"}
        with stores.telemetry.begin() as connection:
            publish_policy(connection, "A new policy.\n", "Rewritten.", material=False)
            notice = post_notice(connection, "security", "Breach", "Body.\n")
        assert dict(headers.current())[b"sempervirens-policy-version"] == b"1"  # cached: no query
        headers.refresh()
        assert dict(headers.current()) == {b"sempervirens-policy-version": b"2",
                                           b"sempervirens-policy-material": b"1",
                                           b"sempervirens-security-notice": str(notice).encode()}
        stores.telemetry.dispose()
        (tmp_path / "telemetry.db").unlink()  # the store is gone: the known values stay
        headers.refresh()
        assert dict(headers.current())[b"sempervirens-policy-version"] == b"2"
    finally:
        stores.dispose()
