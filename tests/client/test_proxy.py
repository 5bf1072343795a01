"""Proxies as curl honours them, against a real forward proxy on loopback."""

import base64
import time

import pytest
from _proxy import Proxy
from client_helpers import assert_clean, clean_env, run_command, run_host

from sempervirens.client._transport import bypasses_proxy, proxy_for

pytestmark = pytest.mark.slow


@pytest.fixture
def proxy():
    running = Proxy()
    yield running
    running.close()


def _wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.05)
    return predicate()


def _send_one(endpoint, home, **env):
    code = f"""\
        import sempervirens
        t = sempervirens.Telemetry("hostpkg", version="1", endpoint={endpoint!r})
        t.opt_in()
        t.count("x")
    """
    environ = clean_env(SEMPERVIRENS_HOME=str(home), SEMPERVIRENS_EXIT_TIMEOUT="10", **env)
    assert_clean(run_host(code, environ))


def test_https_goes_through_a_connect_tunnel(tmp_path, proxy, tls_server, tls_ca):
    ca_file = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(ca_file))
    proxy_url = proxy.url.replace("http://", "http://ada:s%40cret@")
    _send_one(
        tls_server.url,
        tmp_path / "home",
        HTTPS_PROXY=proxy_url,
        SEMPERVIRENS_CA_BUNDLE=str(ca_file),
    )
    assert _wait_for(tls_server.pings)
    [request] = proxy.requests
    port = tls_server.url.rsplit(":", 1)[1]
    assert request["method"] == "CONNECT" and request["target"] == f"127.0.0.1:{port}"
    assert request["authorization"] == "Basic " + base64.b64encode(b"ada:s@cret").decode()


def test_plain_http_is_forwarded_in_absolute_form(tmp_path, proxy, server):
    _send_one(server.url, tmp_path / "home", http_proxy=proxy.url)
    assert _wait_for(server.pings)
    [request] = proxy.requests
    assert request["method"] == "POST" and request["target"].startswith(server.url + "/submit/")


def test_no_proxy_goes_direct(tmp_path, proxy, server):
    _send_one(server.url, tmp_path / "home", HTTP_PROXY=proxy.url, NO_PROXY="example.org,127.0.0.0/8")
    assert _wait_for(server.pings)
    assert proxy.requests == []


def test_an_unreachable_proxy_keeps_the_ping(tmp_path, closed_port, server):
    home = tmp_path / "home"
    _send_one(server.url, home, http_proxy=closed_port)
    time.sleep(0.3)
    assert server.pings() == [] and list((home / "spool").glob("*.ping"))


def test_proxy_variables_are_read_as_curl_reads_them():
    env = {"https_proxy": "http://low:1", "HTTPS_PROXY": "http://up:2", "HTTP_PROXY": "up:3"}
    assert proxy_for("https", "a.org", env) == ("low", 1, None)  # lower case wins
    assert proxy_for("http", "a.org", env) == ("up", 3, None)  # scheme optional
    assert proxy_for("http", "a.org", {**env, "REQUEST_METHOD": "GET"}) is None  # httpoxy
    assert proxy_for("http", "a.org", {"ALL_PROXY": "http://all:4"}) == ("all", 4, None)
    assert proxy_for("https", "a.org", {"https_proxy": "http://p"}) == ("p", 1080, None)
    for host in ("example.org", "www.example.org", "10.1.2.3", "[::1]"):
        assert bypasses_proxy(host, " .example.org, 10.0.0.0/8 ,::1")
    assert not bypasses_proxy("notexample.org", "example.org")
    assert not bypasses_proxy("example.org.evil", "example.org")
    assert bypasses_proxy("anything", "*")
    with pytest.raises(ValueError, match="only http://"):
        proxy_for("https", "a.org", {"https_proxy": "socks5://p:1080"})


SECRET = "s3cret-Pa55"


def _everything_said(tmp_path, env: dict, code: str) -> str:
    """All a host and the user's commands print, log and keep: a credential must be in none."""
    import textwrap

    logged = "import logging; logging.basicConfig(level=logging.DEBUG)\n"
    host = run_host(logged + textwrap.dedent(code), env, timeout=30)
    assert host.returncode == 0 and "Traceback" not in host.stderr, host.stderr
    said = [host.stdout, host.stderr]
    for command in ("status", "show", "send"):
        done = run_command(env, command)
        said += [done.stdout, done.stderr]
    kept = [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()]
    return "\n".join(said + kept)


@pytest.mark.parametrize(
    "endpoint",
    [
        f"http://telemetry:{SECRET}@127.0.0.1:{{port}}",
        f"http://{SECRET}@127.0.0.1:{{port}}",  # a token alone, as some mirrors take it
    ],
)
def test_credentials_in_the_endpoint_are_never_kept_shown_or_logged(tmp_path, server, endpoint):
    """They are never sent either: the server is reached as without them."""
    endpoint = endpoint.format(port=server.url.rsplit(":", 1)[1].split("/")[0])
    home = tmp_path / "home"
    env = clean_env(
        SEMPERVIRENS_HOME=str(home),
        SEMPERVIRENS_ENDPOINT=endpoint,
        SEMPERVIRENS_EXIT_TIMEOUT="2",
    )
    code = """\
        import sempervirens
        t = sempervirens.Telemetry("hostpkg", version="1")
        t.count("run")
    """
    said = _everything_said(tmp_path, env, code)
    assert SECRET not in said
    assert "127.0.0.1" in said  # the endpoint is shown, without its credentials
    deadline = time.monotonic() + 15
    while not server.pings() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p["project"] for p in server.pings()] == ["hostpkg"]


def test_a_broken_endpoint_or_proxy_is_named_without_its_credentials(tmp_path, closed_port):
    home = tmp_path / "home"
    env = clean_env(
        SEMPERVIRENS_HOME=str(home),
        SEMPERVIRENS_EXIT_TIMEOUT="1",
        http_proxy=f"http://proxyuser:{SECRET}@",  # no host: refused, and named
    )
    code = f"""\
        import sempervirens
        sempervirens.Telemetry("badport", endpoint="http://u:{SECRET}@127.0.0.1:99999").count("x")
        sempervirens.Telemetry("hostpkg", endpoint={closed_port!r}).count("run")
    """
    said = _everything_said(tmp_path, env, code)
    assert SECRET not in said
    assert "proxy URL without a host: 'http://'" in said and "bad port" in said
