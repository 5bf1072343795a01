"""HTTPS with a real certificate authority made for the test (trustme)."""

from __future__ import annotations

import ssl

import httpx
import pytest

from pings import post, usage


def test_a_client_that_trusts_the_ca_is_served(tls_server, tls_ca):
    context = ssl.create_default_context()
    tls_ca.configure_trust(context)
    with httpx.Client(verify=context, timeout=10) as client:
        assert post(client, tls_server.url, usage()).status_code == 202
    assert len(tls_server.pings()) == 1


def test_a_client_that_does_not_trust_the_ca_is_refused(tls_server):
    with httpx.Client(verify=ssl.create_default_context(), timeout=10) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            post(client, tls_server.url, usage())
    assert tls_server.pings() == []
