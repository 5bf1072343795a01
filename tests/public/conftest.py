"""A simulated population sent to a real server, aggregated and released, once per worker.

The server trusts 127.0.0.1 as a proxy, so each simulated installation's address
(sent as X-Forwarded-For by the simulator) is what the server records; the
addresses' reverse DNS comes from a real DNS server on loopback.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


from _services.server import RunningServer, start_server
from sempervirens.simulate.dns import LoopbackDNS
from sempervirens.simulate.population import Installation, addresses, generate
from sempervirens.simulate.run import simulate

K = 10
SIZE, DAYS, SEED = 90, 22, 7


@dataclass
class Published:
    server: RunningServer
    population: list[Installation]
    k: int

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="session")
def published(tmp_path_factory) -> Published:
    root = tmp_path_factory.mktemp("public")
    data_dir = root / "data"
    dns = LoopbackDNS(addresses(generate(SIZE, DAYS, SEED)))
    server = start_server(data_dir, extra_args=("--trusted-proxies", "127.0.0.1"),
                          env={"SEMPERVIRENS_AGGREGATE_INTERVAL_SECONDS": "0"})
    try:
        result = simulate(server.url, size=SIZE, days=DAYS, seed=SEED, data_dir=str(data_dir),
                          homes=str(root / "installations"), progress=False)
        assert result.failed_runs == 0 and result.today_runs > 0, result.errors
        for command in (["aggregate", "--dns-server", dns.nameserver, "--k-anonymity", str(K)],
                        ["release"]):
            subprocess.run([sys.executable, "-m", "sempervirens", *command, "--data-dir",
                            str(data_dir)], check=True, capture_output=True, timeout=120)
        yield Published(server, result.population, K)
    finally:
        server.stop()
        dns.close()


@pytest.fixture
def artifacts() -> Path:
    path = Path(__file__).resolve().parents[2] / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
