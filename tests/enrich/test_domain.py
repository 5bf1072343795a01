"""Hostname -> registered domain (Public Suffix List, ICANN section, shipped in the package)."""

from __future__ import annotations

import pytest

from sempervirens.enrich import registered_domain


@pytest.mark.parametrize(
    ("hostname", "domain"),
    [
        ("node1.cs.stanford.edu", "stanford.edu"),
        ("ws1.physics.ox.ac.uk", "ox.ac.uk"),  # a two-label public suffix
        ("v6host.cs.u-tokyo.ac.jp", "u-tokyo.ac.jp"),
        ("host.example-corp.com", "example-corp.com"),
        ("Node1.CS.Stanford.EDU.", "stanford.edu"),  # case and the final dot
        ("x.nrc-cnrc.gc.ca", "nrc-cnrc.gc.ca"),
        ("stanford.edu", "stanford.edu"),
        # ICANN section only: private suffixes count as their operator's domain
        ("ec2-198-51-100-5.compute-1.amazonaws.com", "amazonaws.com"),
        ("someone.github.io", "github.io"),
        ("bücher.example.de", "example.de"),
        ("host.bücher.de", "xn--bcher-kva.de"),
    ],
)
def test_registered_domain(hostname, domain):
    assert registered_domain(hostname) == domain


@pytest.mark.parametrize(
    "hostname",
    [
        None, "", ".",
        "192.0.2.10", "192.0.2.10.", "010.000.002.010", "[2001:db8::1]", "2001:db8::1",
        "fe80::1%eth0",
        "10.2.0.192.in-addr.arpa",  # a reverse-zone name is no hostname
        "edu", "ac.uk", "co.uk",  # public suffixes themselves
        "printer.lan", "host.internal",  # no such TLD: no guessing
        "bad..name.com", "-dash.example.com", "space in.example.com",
    ],
)
def test_no_registered_domain(hostname):
    assert registered_domain(hostname) is None
