"""A DNS failure is not "no PTR": timeouts, SERVFAIL and dead servers leave the address pending.

Only NXDOMAIN or an empty answer is a final "unknown"; everything else is retried by
the next enrichment cycle (aggregate/institutions.py stores no origin for it).
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import text

from sempervirens.aggregate.institutions import enrich_new_addresses
from sempervirens.enrich import resolve_many_sync
from sempervirens.store import open_stores


def test_servfail_timeouts_and_silence_are_failures_nxdomain_is_an_answer(dns_server, silent_udp_port):
    failed: set[str] = set()
    names = resolve_many_sync(["192.0.2.90", "192.0.2.60", "203.0.113.7", "192.0.2.10"],
                              nameserver=dns_server.nameserver, timeout=0.5, cache=None, failed=failed)
    assert names == {"192.0.2.90": None, "192.0.2.60": None, "203.0.113.7": None,
                     "192.0.2.10": "node1.cs.stanford.edu"}
    assert failed == {"192.0.2.90", "192.0.2.60"}  # SERVFAIL and a timeout; 203.0.113.7 has no PTR
    silent: set[str] = set()
    resolve_many_sync(["192.0.2.10"], nameserver=silent_udp_port, timeout=0.3, cache=None, failed=silent)
    assert silent == {"192.0.2.10"}


def test_enrichment_keeps_failed_addresses_pending_for_the_next_cycle(tmp_path, dns_server):
    stores = open_stores(tmp_path / "data")
    now = datetime.now(timezone.utc)
    try:
        with stores.private.begin() as connection:
            for ip in ("192.0.2.90", "203.0.113.7", "192.0.2.10"):
                connection.execute(text(
                    "INSERT INTO access_log (received_at, ip, project, ping_type, client_id, document_id) "
                    "VALUES (:at, :ip, 'numpy', 'usage', NULL, :ip)"), {"at": now.replace(tzinfo=None), "ip": ip})
        enrich_new_addresses(stores.private, [now.date()], {"dns_server": dns_server.nameserver})
        with stores.private.connect() as connection:
            origins = dict(connection.execute(text("SELECT ip, kind FROM ip_origins")).all())
        assert set(origins) == {"203.0.113.7", "192.0.2.10"}  # 192.0.2.90 (SERVFAIL) is still pending
        assert origins["203.0.113.7"] == "unknown"
    finally:
        stores.dispose()
