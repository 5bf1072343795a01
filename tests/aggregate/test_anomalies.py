"""One crowded address: detected on a keyed hash, left out of public counts, listed for admins."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date

from aggregate_helpers import cycle, rows
from population import Ping, client, insert

from sempervirens import cli
from sempervirens.aggregate import tables

DAY, TODAY = date(2026, 3, 2), date(2026, 3, 20)
CROWDED = "198.51.100.200"
KEY = "test-key-for-the-address-hash"


def test_crowded_address_is_listed_and_left_out_of_private_aggregates(stores, tmp_path, capsys):
    insert(stores, [Ping("numpy", client(), DAY) for _ in range(12)]  # 12 clients, 12 addresses
           + [Ping("numpy", client(), DAY, ip=CROWDED) for _ in range(40)]
           + [Ping("scipy", client(), DAY, ip=CROWDED) for _ in range(3)])  # under N for scipy
    report = cycle(stores, tmp_path / "data", TODAY, anomaly_min_clients=30, ip_hash_key=KEY)
    assert report.anomalies == 1 and report.anomaly_pings == 40
    # Left out of private aggregates; public numbers count them
    # (tests/privacy/test_crowded_addresses.py says why).
    (summary,) = rows(stores, tables.private_origin_summary, interval="day", project="numpy")
    assert summary.users == 12

    expected_hash = hmac.new(KEY.encode(), CROWDED.encode(), hashlib.sha256).hexdigest()
    (anomaly,) = rows(stores, tables.anomalies)
    assert (anomaly.project, anomaly.ip_hash, anomaly.clients) == ("numpy", expected_hash, 40)

    url = stores.telemetry.url.render_as_string(hide_password=False)
    private_url = stores.private.url.render_as_string(hide_password=False)
    args = ["anomalies", "--database", url, "--private-database", private_url,
            "--ip-hash-key", KEY, "--min-clients", "3", "--json"]
    capsys.readouterr()
    assert cli.main(args) == 0
    output = capsys.readouterr().out
    listed = [json.loads(line) for line in output.splitlines()]
    assert {(a["project"], a["clients"]) for a in listed} == {("numpy", 40), ("scipy", 3)}
    assert {a["ip_hash"] for a in listed} == {expected_hash}
    assert CROWDED not in output


def test_processes_making_the_hash_key_at_once_all_get_the_one_kept(stores):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from sempervirens.aggregate.anomalies import hash_key

    start = Barrier(8)

    def make() -> bytes:
        start.wait()
        return hash_key(stores.private, None)

    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: make(), range(8)))
    assert len(keys) == 1 and len(keys.pop()) == 32


def test_an_ipv6_host_is_one_source_whatever_address_of_its_64_it_uses(stores, tmp_path):
    """One host may use any address of its /64 (SLAAC's temporary addresses change by the
    day): forty installations from forty of its addresses are one crowded source, as from
    one IPv4 address; addresses of different /64s are different sources."""
    host = [f"2001:db8:7:1:{i:x}:5eed:{i * 7:x}:1" for i in range(1, 41)]
    neighbours = [f"2001:db8:7:{n:x}::1" for n in range(2, 42)]  # a /64 each
    insert(stores, [Ping("numpy", client(), DAY, ip=ip) for ip in host + neighbours])
    report = cycle(stores, tmp_path / "data", TODAY, anomaly_min_clients=30, ip_hash_key=KEY)
    assert report.anomalies == 1 and report.anomaly_pings == 40
    (anomaly,) = rows(stores, tables.anomalies)
    source = "2001:db8:7:1::/64"
    assert (anomaly.ip, anomaly.clients) == (source, 40)
    assert anomaly.ip_hash == hmac.new(KEY.encode(), source.encode(), hashlib.sha256).hexdigest()
    (summary,) = rows(stores, tables.private_origin_summary, interval="day", project="numpy")
    assert summary.users == 40  # the neighbours only: the crowded /64's are left out
