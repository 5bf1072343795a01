"""deploy/: the systemd unit and the nginx example are valid, name real commands and
settings, and nginx in front of a real server keeps the client's address unforgeable."""

from __future__ import annotations

import getpass
import json
import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from _services.ports import free_port
from _services.server import start_server
from pings import new_id, post, usage
from sempervirens import cli, settings
from sempervirens.model.limits import MAX_BODY_BYTES
from sempervirens.protocol.errors import error_body
from sempervirens.store import open_stores

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNIT, ENV_FILE, NGINX = DEPLOY / "sempervirens.service", DEPLOY / "sempervirens.env.example", \
    DEPLOY / "nginx-sempervirens.conf"
BACKUP_UNIT, BACKUP_TIMER = DEPLOY / "sempervirens-backup.service", DEPLOY / "sempervirens-backup.timer"
HARDENING = ("User=sempervirens", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
             "PrivateTmp=yes", "Restart=on-failure", "UMask=0077", "CapabilityBoundingSet=",
             "StateDirectory=sempervirens", "EnvironmentFile=/etc/sempervirens/sempervirens.env")


def _unit_value(key: str, unit: Path = UNIT) -> str:
    (line,) = [line for line in unit.read_text().splitlines() if line.startswith(f"{key}=")]
    return line.split("=", 1)[1]


def _local(unit: Path, tmp_path) -> str:
    """The unit with this machine's program and environment file."""
    program = Path(sys.executable).with_name("sempervirens")
    return (unit.read_text().replace("/opt/sempervirens/bin/sempervirens", str(program))
            .replace("/etc/sempervirens/sempervirens.env", str(tmp_path / "env")))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_the_unit_is_hardened_and_systemd_accepts_every_line(tmp_path):
    text = UNIT.read_text()
    for line in HARDENING:
        assert re.search(rf"^{re.escape(line)}$", text, re.M), line
    # The same units with this machine's paths: systemd checks that the programs exist.
    (tmp_path / "env").write_text(ENV_FILE.read_text())
    for unit in (UNIT, BACKUP_UNIT, BACKUP_TIMER):
        (tmp_path / unit.name).write_text(_local(unit, tmp_path))
    done = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / u.name) for u in
                                                          (UNIT, BACKUP_UNIT, BACKUP_TIMER))],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # an unknown key or a bad value is only a warning


def test_the_backup_unit_makes_a_backup_and_removes_those_past_retention(tmp_path):
    data, backups = tmp_path / "data", tmp_path / "backups"
    open_stores(data).dispose()
    old = backups / "2026-01-01T0430"
    old.mkdir(parents=True)
    os.utime(old, (time.time() - 31 * 86400,) * 2)
    environment = {"PATH": "/usr/bin:/bin", "SEMPERVIRENS_DATA_DIR": str(data)}
    if "PYTHONPATH" in os.environ:
        environment["PYTHONPATH"] = os.environ["PYTHONPATH"]
    for key in ("ExecStart", "ExecStartPost"):
        # systemd's own unescaping of the line, then the shell's words, as systemd runs it
        line = (_unit_value(key, BACKUP_UNIT).replace("$$", "$").replace("%%", "%")
                .replace("/opt/sempervirens/bin/sempervirens", f"{sys.executable} -m sempervirens")
                .replace("/var/lib/sempervirens-backups", str(backups)))
        done = subprocess.run(shlex.split(line), capture_output=True, text=True, env=environment,
                              timeout=120)
        assert done.returncode == 0, done.stderr
    (made,) = list(backups.iterdir())  # the new one; the 31-day-old one is gone
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d{4}", made.name)
    assert (made / "manifest.json").is_file() and (made / "telemetry.sqlite").is_file()


def test_the_unit_and_its_environment_file_name_real_commands_and_settings():
    command = shlex.split(_unit_value("ExecStart"))
    assert command[0].endswith("/sempervirens")
    args = cli.build_parser().parse_args(command[1:])
    assert args.command == "serve"
    environment = {}
    for line in ENV_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, value = line.split("=", 1)
            environment[name] = value
    known = {s.env_var for s in settings.SETTINGS.values()}
    assert set(environment) <= known, set(environment) - known
    values = settings.resolve(environ=environment)  # every value parses as its setting
    assert values["host"] == "127.0.0.1" and values["port"] == 8000
    # nginx passes to that address and port, from an address the server trusts.
    assert f"server {values['host']}:{values['port']};" in NGINX.read_text()
    assert "127.0.0.1" in values["trusted_proxies"]
    assert len(values["secret_key"]) >= 32
    size = re.search(r"client_max_body_size (\d+)m;", NGINX.read_text())
    assert size and int(size[1]) << 20 == MAX_BODY_BYTES  # nginx refuses what the server would
    refusal = re.search(r"return 413 '(.*)';", NGINX.read_text())
    assert refusal and json.loads(refusal[1]) == error_body(
        413, "payload_too_large", f"body is over {MAX_BODY_BYTES} bytes")  # the server's own answer


def _nginx_config(tmp_path, upstream_port: int, http_port: int, https_port: int, cert: str, key: str) -> Path:
    site = NGINX.read_text()
    site = "\n".join(line for line in site.splitlines() if "[::]" not in line)  # IPv4 loopback only
    site = (site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")
            .replace("listen 80;", f"listen 127.0.0.1:{http_port};")
            .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
            .replace("/etc/letsencrypt/live/telemetry.example.org/fullchain.pem", cert)
            .replace("/etc/letsencrypt/live/telemetry.example.org/privkey.pem", key)
            .replace("/var/log/nginx/sempervirens-error.log", str(tmp_path / "error.log")))
    (tmp_path / "site.conf").write_text(site)
    main = tmp_path / "nginx.conf"
    main.write_text(f"""
user {getpass.getuser()};
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{}}
http {{
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {tmp_path}/site.conf;
}}
""")
    return main


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                    reason="nginx not installed (make test installs it)")
def test_nginx_in_front_of_a_real_server_passes_the_true_client_address(tmp_path, tls_ca):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    cert = tls_ca.issue_cert("localhost")
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    server = start_server(tmp_path / "data", extra_args=("--trusted-proxies", "127.0.0.1,::1",
                                                         "--aggregate-interval-seconds", "0"))
    http_port, https_port = free_port(), free_port()
    config = _nginx_config(tmp_path, int(server.url.rsplit(":", 1)[1]), http_port, https_port,
                           str(cert_path), str(key_path))
    tested = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert tested.returncode == 0, tested.stderr
    proxy = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(config), "-g", "daemon off;"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"https://localhost:{https_port}"
        trust = ssl.create_default_context()
        tls_ca.configure_trust(trust)
        with httpx.Client(verify=trust, timeout=10) as client:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if client.get(url + "/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, (tmp_path / "error.log").read_text()
                time.sleep(0.1)
            document_id = new_id()
            forged = {"X-Forwarded-For": "203.0.113.9"}  # what any client can write
            reply = post(client, url, usage(), document_id=document_id, headers=forged)
            assert reply.status_code == 202, reply.text
            too_big = post(client, url, None, raw=b"x" * (MAX_BODY_BYTES + 10))
            assert too_big.status_code == 413
            assert too_big.json()["error"]["code"] == "payload_too_large"
            assert post(client, url, None, raw=b"x" * (MAX_BODY_BYTES - 100)).status_code == 400
            plain = httpx.get(f"http://127.0.0.1:{http_port}/healthz", follow_redirects=False)
            assert plain.status_code == 301 and plain.headers["location"].startswith("https://")
    finally:
        proxy.send_signal(signal.SIGQUIT)  # nginx's graceful stop
        proxy.wait(timeout=20)
        server.stop()
    (logged,) = [row for row in server.access_log() if row["document_id"] == document_id]
    assert logged["ip"] == "127.0.0.1"  # the TCP peer of nginx, not the forged header
