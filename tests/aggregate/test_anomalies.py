"""One crowded address: detected on a keyed hash, left out of public counts, listed for admins."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date

from aggregate_helpers import rows
from population import Ping, client, insert

from sempervirens import cli
from sempervirens.aggregate import tables
from sempervirens.aggregate.run import Config, run_cycle

DAY, TODAY = date(2026, 3, 2), date(2026, 3, 20)
CROWDED = "198.51.100.200"
KEY = "test-key-for-the-address-hash"


def test_crowded_address_is_excluded_and_listed(stores, capsys):
    insert(stores, [Ping("numpy", client(), DAY) for _ in range(12)]  # 12 clients, 12 addresses
           + [Ping("numpy", client(), DAY, ip=CROWDED) for _ in range(40)]
           + [Ping("scipy", client(), DAY, ip=CROWDED) for _ in range(3)])  # under N for scipy
    report = run_cycle(stores, Config(k=10, anomaly_min_clients=30, ip_hash_key=KEY,
                                      enrich=False), today=TODAY)
    assert report.anomalies == 1 and report.excluded_pings == 40
    (total,) = [r for r in rows(stores, tables.public_active_installs, interval="day")
                if r.breakdown == "" and r.project == "numpy"]
    assert total.installs == 12  # the 40 clients behind one address are not counted
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
