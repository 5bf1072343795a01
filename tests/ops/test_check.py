"""`sempervirens check`: one line per check, FAIL with why, a non-zero exit on any failure."""

from __future__ import annotations


import pytest

from _services.dns import LoopbackDNS
from _services.ports import free_port
from ops_helpers import CLOSED, run, store_args
from population import Ping, client, insert
from sempervirens.admin._secret import load_key
from sempervirens.store import open_stores
from sempervirens.store.lake import Lake

CHECKS = ("telemetry store", "telemetry migrations", "private store", "private migrations",
          "settings", "secret key", "TLS", "DNS", "disk", "lake", "engine")


@pytest.fixture(scope="module")
def dns_server():
    server = LoopbackDNS()
    yield server
    server.close()


def _tls_files(tmp_path, tls_ca, name: str = "server") -> tuple[str, str]:
    cert = tls_ca.issue_cert("localhost")
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    return str(cert_path), str(key_path)


def _lines(stdout: str) -> dict[str, list[str]]:
    """Result lines by check name: {"DNS": ["ok    DNS: ..."], ...}."""
    found: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        if line.startswith(("ok  ", "FAIL")):
            found.setdefault(line[6:].split(":", 1)[0], []).append(line)
    return found


def test_a_ready_deployment_passes_every_check(tmp_path, tls_ca, dns_server, new_urls):
    data, urls = tmp_path / "data", new_urls()
    stores = open_stores(data, *urls)
    insert(stores, [Ping("numpy", client(), day) for day in CLOSED])
    stores.dispose()
    load_key({"secret_key": None, "data_dir": str(data)})
    assert run("lake", "seal", *store_args(data, urls)).returncode == 0
    cert, key = _tls_files(tmp_path, tls_ca)

    result = run("check", *store_args(data, urls), "--tls-cert", cert, "--tls-key", key,
                 "--dns-server", dns_server.nameserver)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = _lines(result.stdout)
    assert set(lines) == set(CHECKS), result.stdout
    assert all(line.startswith("ok  ") for group in lines.values() for line in group)
    assert "at head" in lines["telemetry migrations"][0]
    assert "2 day(s)" in lines["lake"][0] and "match the manifest" in lines["lake"][0]
    assert "readable and matching" in lines["TLS"][0]
    assert dns_server.nameserver in lines["DNS"][0]
    assert lines["engine"][0].startswith("ok    engine: duckdb, buffers ")
    assert "all 12 checks passed" in result.stdout


def test_each_problem_is_a_fail_line_saying_why_and_the_exit_is_non_zero(tmp_path, tls_ca,
                                                                        silent_udp_port):
    data = tmp_path / "data"
    stores = open_stores(data)
    insert(stores, [Ping("numpy", client(), day) for day in CLOSED])
    stores.dispose()
    assert run("lake", "seal", "--data-dir", data).returncode == 0
    lake = Lake(data / "lake")
    damaged = lake.path(lake.manifest()["days"][str(CLOSED[0])]["files"][0]["path"])
    with open(damaged, "r+b") as handle:
        handle.seek(10)
        handle.write(b"\0\0\0\0")
    stores = open_stores(data, migrate=False)
    with stores.telemetry.begin() as connection:  # as if a release behind
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0007'")
    stores.dispose()
    cert, _ = _tls_files(tmp_path, tls_ca, "one")
    _, other_key = _tls_files(tmp_path, tls_ca, "other")

    nobody = free_port()  # no Spark master answers there
    result = run("check", "--data-dir", data, "--tls-cert", cert, "--tls-key", other_key,
                 "--dns-server", silent_udp_port, "--engine", "spark",
                 "--spark-master", f"spark://127.0.0.1:{nobody}",
                 env={"SEMPERVIRENS_SECRET_KEY": "too short"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = _lines(result.stdout)
    failed = {name: group[0] for name, group in lines.items() if group[0].startswith("FAIL")}
    assert set(failed) == {"telemetry migrations", "secret key", "TLS", "DNS", "lake",
                           "engine"}, result.stdout
    assert "at 0007, head is " in failed["telemetry migrations"]
    assert "9 characters, 32 at least" in failed["secret key"]
    assert "not a matching PEM certificate and key" in failed["TLS"]
    assert silent_udp_port in failed["DNS"] and "no answer" in failed["DNS"]
    assert "sha256 differs" in failed["lake"] or "bytes" in failed["lake"]
    assert f"cannot reach the master at 127.0.0.1:{nobody}: Connection refused" in failed["engine"]
    assert result.stderr.strip() == "sempervirens check: 6 of 12 checks failed"


def test_check_creates_nothing_and_names_the_stores_it_looked_for(tmp_path, silent_udp_port):
    nowhere = tmp_path / "nowhere"
    result = run("check", "--data-dir", nowhere, "--dns-server", silent_udp_port)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = _lines(result.stdout)
    assert f"no store at {nowhere / 'telemetry.db'}" in lines["telemetry store"][0]
    assert f"no store at {nowhere / 'private.db'}" in lines["private store"][0]
    assert "secret key" in lines and lines["secret key"][0].startswith("FAIL")
    assert not nowhere.exists()


def test_an_unreachable_database_fails_its_check_without_showing_the_password(tmp_path,
                                                                              silent_udp_port):
    result = run("check", "--data-dir", tmp_path, "--dns-server", silent_udp_port,
                 "--database", "postgresql://sv:hunter2-secret@127.0.0.1:1/telemetry",
                 "--private-database", "postgresql://sv:hunter2-secret@127.0.0.1:1/private")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = _lines(result.stdout)
    assert "cannot be reached" in lines["telemetry store"][0]
    assert "127.0.0.1:1/telemetry" in lines["telemetry store"][0]
    assert "hunter2" not in result.stdout + result.stderr


def test_a_setting_serve_would_refuse_fails_the_check(tmp_path, silent_udp_port):
    data = tmp_path / "data"
    open_stores(data).dispose()
    config = tmp_path / "sempervirens.toml"
    config.write_text(f'data_dir = "{data}"\nport = 99999\n')
    result = run("check", "--config", config, "--dns-server", silent_udp_port)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert _lines(result.stdout)["settings"] == ["FAIL  settings: --port 99999: must be from 1 to 65535"]


def test_a_deployment_just_made_by_init_passes_its_checks(tmp_path, dns_server):
    # init makes what check looks for: the stores, the secret key and the (empty) lake,
    # which `lake verify` and `lake list` then find rather than "no lake here".
    data = tmp_path / "data"
    assert run("init", "--data-dir", data).returncode == 0
    result = run("check", "--data-dir", data, "--dns-server", dns_server.nameserver)
    assert result.returncode == 0, result.stdout
    for command in ("verify", "list"):
        assert run("lake", command, "--data-dir", data).returncode == 0
