"""The dns_server setting's forms."""

from __future__ import annotations

import pytest

from sempervirens.enrich import Nameserver, parse_nameserver
from sempervirens.settings import SETTINGS, resolve


@pytest.mark.parametrize(
    ("value", "parsed", "shown"),
    [
        ("127.0.0.1:5353", Nameserver("127.0.0.1", 5353), "127.0.0.1:5353"),
        ("[::1]:5353", Nameserver("::1", 5353), "[::1]:5353"),
        ("[2001:DB8::53]:53", Nameserver("2001:db8::53", 53), "[2001:db8::53]:53"),
        ("192.0.2.53", Nameserver("192.0.2.53", 53), "192.0.2.53:53"),
        ("2001:db8::53", Nameserver("2001:db8::53", 53), "[2001:db8::53]:53"),
        ("[::1]", Nameserver("::1", 53), "[::1]:53"),
        (" 127.0.0.1:53 ", Nameserver("127.0.0.1", 53), "127.0.0.1:53"),
    ],
)
def test_forms(value, parsed, shown):
    assert parse_nameserver(value) == parsed
    assert str(parse_nameserver(value)) == shown


@pytest.mark.parametrize(
    "value",
    ["", "dns.example.com:53", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000",
     "127.0.0.1:x", "[127.0.0.1]:53", "[::1", "[::1]53", "::1]:53"],
)
def test_malformed(value):
    with pytest.raises(ValueError, match="DNS server"):
        parse_nameserver(value)


def test_setting_and_environment_variable():
    setting = SETTINGS["dns_server"]
    assert setting.default is None  # the system resolver
    assert setting.env_var == "SEMPERVIRENS_DNS_SERVER"
    assert setting.flag == "--dns-server"
    values = resolve(environ={"SEMPERVIRENS_DNS_SERVER": "[::1]:5353"})
    assert parse_nameserver(values["dns_server"]) == Nameserver("::1", 5353)
