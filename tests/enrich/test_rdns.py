"""Forward-confirmed reverse DNS against the real loopback DNS server."""

from __future__ import annotations

import asyncio
import socket

import pytest

from sempervirens.enrich import TTLCache, resolve_many, resolve_many_sync

FAST = {"timeout": 1.0, "batch_timeout": 5.0}


def resolve(dns_server, ips, **options):
    return resolve_many_sync(ips, nameserver=dns_server.nameserver,
                             **{"cache": TTLCache(), **FAST, **options})


def test_confirmed_ptr_names(dns_server):
    names = resolve(dns_server, ["192.0.2.10", "192.0.2.20", "198.51.100.5", "2001:db8::42"])
    assert names == {
        "192.0.2.10": "node1.cs.stanford.edu",
        "192.0.2.20": "ws1.physics.ox.ac.uk",
        "198.51.100.5": "host.example-corp.com",
        "2001:db8::42": "v6host.cs.u-tokyo.ac.jp",
    }


def test_spoofed_ptr_is_discarded(dns_server):
    # x.mit.edu resolves to another address; nowhere.mit.edu does not exist at all
    assert resolve(dns_server, ["198.51.100.66", "198.51.100.77"]) == {
        "198.51.100.66": None, "198.51.100.77": None,
    }


def test_of_several_ptr_names_the_confirmed_one_is_kept(dns_server):
    assert resolve(dns_server, ["192.0.2.50"]) == {"192.0.2.50": "real.example.org"}


def test_a_ptr_name_that_is_no_hostname_is_discarded_unchecked(dns_server):
    # Confirmed by its own forward records, but escaped bytes (776 characters of \\000,
    # an ESC): no host is named so, and the name is never asked for.
    from _services.dns import HOSTILE

    assert resolve(dns_server, list(HOSTILE)) == dict.fromkeys(HOSTILE)
    assert not [name for name, _ in dns_server.resolver.queries if "evil-example" in name]


def test_ipv6_needs_a_matching_aaaa_record(dns_server):
    # host.example-corp.com has an A record only, so an IPv6 PTR to it is not confirmed
    assert resolve(dns_server, ["2001:db8::bad"]) == {"2001:db8::bad": None}


def test_no_ptr_and_not_an_address(dns_server):
    assert resolve(dns_server, ["203.0.113.7", "not-an-ip", ""]) == {
        "203.0.113.7": None, "not-an-ip": None, "": None,
    }


def test_forward_name_behind_a_cname(dns_server):
    assert resolve(dns_server, ["192.0.2.70"]) == {"192.0.2.70": "cname.example-corp.com"}


def test_truncated_udp_answer_is_retried_over_tcp(dns_server):
    before = dns_server.resolver.queries["80.2.0.192.in-addr.arpa.", "PTR"]
    assert resolve(dns_server, ["192.0.2.80"]) == {"192.0.2.80": "big.example-corp.com"}
    assert dns_server.resolver.queries["80.2.0.192.in-addr.arpa.", "PTR"] >= before + 2


def test_ipv4_mapped_ipv6_is_looked_up_as_ipv4(dns_server):
    assert resolve(dns_server, ["::ffff:192.0.2.10"]) == {
        "::ffff:192.0.2.10": "node1.cs.stanford.edu",
    }


def test_answers_are_cached(dns_server):
    cache = TTLCache()
    queries = dns_server.resolver.queries
    owner = ("20.2.0.192.in-addr.arpa.", "PTR")
    first = resolve(dns_server, ["192.0.2.20", "203.0.113.7"], cache=cache)
    asked = queries[owner]
    second = resolve(dns_server, ["192.0.2.20", "203.0.113.7"], cache=cache)
    assert first == second
    assert queries[owner] == asked  # the second batch asked nobody
    assert len(cache) == 2  # a name and a definite "no PTR"


def test_cache_is_per_nameserver(dns_server, silent_udp_port):
    cache = TTLCache()
    assert resolve(dns_server, ["192.0.2.10"], cache=cache)["192.0.2.10"]
    # the same address asked of another (dead) server is not answered from the cache
    names = resolve_many_sync(["192.0.2.10"], nameserver=silent_udp_port, cache=cache,
                              timeout=0.3, batch_timeout=1.0)
    assert names == {"192.0.2.10": None}


def test_slow_answer_is_unknown_and_does_not_hold_up_the_batch(dns_server, elapsed):
    cache = TTLCache()
    names = resolve(dns_server, ["192.0.2.60", "192.0.2.10"], timeout=0.5, cache=cache)
    assert names == {"192.0.2.60": None, "192.0.2.10": "node1.cs.stanford.edu"}
    assert elapsed() < 2.5  # the server takes 3 s for slow.example-corp.com
    assert len(cache) == 1  # a timeout is not remembered: the next batch tries again


def test_silent_server_gives_unknown_within_the_time_limit(silent_udp_port, elapsed):
    ips = ["192.0.2.10", "198.51.100.5", "2001:db8::42"]
    names = resolve_many_sync(ips, nameserver=silent_udp_port, timeout=0.4,
                              batch_timeout=5.0, cache=None)
    assert names == dict.fromkeys(ips)
    assert elapsed() < 2.0


def test_batch_time_limit_bounds_many_slow_lookups(silent_udp_port, elapsed):
    ips = [f"192.0.2.{i}" for i in range(1, 41)]
    names = resolve_many_sync(ips, nameserver=silent_udp_port, timeout=5.0,
                              batch_timeout=0.5, concurrency=4, cache=None)
    assert names == dict.fromkeys(ips)
    assert elapsed() < 2.0


def test_nothing_listens_on_the_port(elapsed):
    # a closed loopback port answers with ICMP port unreachable
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    names = resolve_many_sync(["192.0.2.10"], nameserver=f"127.0.0.1:{port}",
                              timeout=0.5, batch_timeout=2.0, cache=None)
    assert names == {"192.0.2.10": None}
    assert elapsed() < 2.0


def test_async_api_and_sync_wrapper_inside_a_running_loop(dns_server):
    async def main():
        direct = await resolve_many(["192.0.2.30"], nameserver=dns_server.nameserver,
                                    cache=None, **FAST)
        wrapped = resolve_many_sync(["192.0.2.30"], nameserver=dns_server.nameserver,
                                    cache=None, **FAST)
        return direct, wrapped

    direct, wrapped = asyncio.run(main())
    assert direct == wrapped == {"192.0.2.30": "host.lbl.gov"}


def test_nameserver_on_ipv6_loopback(dns_server_v6):
    # the setting's [IPv6]:PORT form
    assert dns_server_v6.nameserver.startswith("[::1]:")
    assert resolve(dns_server_v6, ["192.0.2.10", "2001:db8::42"]) == {
        "192.0.2.10": "node1.cs.stanford.edu", "2001:db8::42": "v6host.cs.u-tokyo.ac.jp",
    }


def test_malformed_nameserver_is_a_configuration_error():
    with pytest.raises(ValueError, match="DNS server"):
        resolve_many_sync(["192.0.2.10"], nameserver="dns.example.com:53")


def test_empty_batch(dns_server):
    assert resolve(dns_server, []) == {}
