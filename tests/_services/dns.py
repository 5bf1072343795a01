"""A real DNS server on loopback (dnslib, UDP and TCP on one free port), for the enrich and
aggregate tests.

The addresses it knows are documentation addresses (RFC 5737, RFC 3849): they are
only names in its data, nothing ever connects to them.
"""

from __future__ import annotations

import collections
import ipaddress
import logging
import socket
import threading

from dnslib import AAAA, PTR as PTR_DATA, QTYPE, RCODE, RR, A, DNSLabel
from dnslib.server import DNSLogger, DNSServer, TCPServer, UDPServer

# address -> PTR names; name -> forward records (zone-file right-hand sides)
PTR = {
    "192.0.2.10": ["node1.cs.stanford.edu"],  # .edu, known to swot
    "192.0.2.20": ["ws1.physics.ox.ac.uk"],  # .ac.uk
    "192.0.2.30": ["host.lbl.gov"],  # a national lab: our curated list
    "192.0.2.40": ["gw.small-college.edu"],  # .edu, unknown to swot
    "192.0.2.50": ["fake.mit.edu", "real.example.org"],  # two PTRs, one confirmed
    "192.0.2.60": ["slow.example-corp.com"],  # its A query is slow
    "192.0.2.70": ["cname.example-corp.com"],  # forward name is a CNAME
    "192.0.2.80": ["big.example-corp.com"],  # PTR answer truncated over UDP: TCP
    "198.51.100.5": ["host.example-corp.com"],  # a company
    "198.51.100.66": ["x.mit.edu"],  # spoofed: x.mit.edu's A is another address
    "198.51.100.77": ["nowhere.mit.edu"],  # spoofed: the name does not exist
    "2001:db8::42": ["v6host.cs.u-tokyo.ac.jp"],  # IPv6, .ac.jp
    "2001:db8::bad": ["host.example-corp.com"],  # IPv6 PTR to a name with only an A
    # 203.0.113.7: no PTR at all
}
FORWARD = {
    "node1.cs.stanford.edu": ["A 192.0.2.10"],
    "ws1.physics.ox.ac.uk": ["A 192.0.2.20"],
    "host.lbl.gov": ["A 192.0.2.30", "AAAA 2001:db8::30"],
    "gw.small-college.edu": ["A 192.0.2.40"],
    "fake.mit.edu": ["A 198.51.100.1"],
    "real.example.org": ["A 192.0.2.50"],
    "slow.example-corp.com": ["A 192.0.2.60"],
    "cname.example-corp.com": ["CNAME web.example-corp.com."],
    "web.example-corp.com": ["A 192.0.2.70"],
    "big.example-corp.com": ["A 192.0.2.80"],
    "host.example-corp.com": ["A 198.51.100.5"],
    "x.mit.edu": ["A 198.51.100.99"],
    "v6host.cs.u-tokyo.ac.jp": ["AAAA 2001:db8::42"],
}
# A hostile operator's own zones: PTR names confirmed by their own forward records, but
# no plain hostname (bytes dnspython writes as \\DDD escapes, 4 characters each).
ESCAPED_NAME = DNSLabel([b"\x00" * 63] * 3 + [b"evil-example", b"com"])  # 776 characters
CONTROL_NAME = DNSLabel([b"a\x1b[2Jb", b"evil-example", b"com"])
HOSTILE = {"198.51.100.123": ESCAPED_NAME, "198.51.100.124": CONTROL_NAME,
           "2001:db8::123": ESCAPED_NAME}
SLOW_NAMES = {"slow.example-corp.com."}
SLOW_SECONDS = 3.0
# A hostile operator's reverse zone whose nameserver never answers in time: every PTR query
# under 2001:db8:bad::/48 (any of its /64s) waits SLOW_SECONDS.
SLOW_REVERSE = ".d.a.b.0.8.b.d.0.1.0.0.2.ip6.arpa."
TRUNCATED_OVER_UDP = {"80.2.0.192.in-addr.arpa."}
SERVFAIL_NAMES = {"90.2.0.192.in-addr.arpa."}  # 192.0.2.90: the server fails, every time

log = logging.getLogger("tests.dns")


def _zone() -> dict[tuple[str, str], list[str]]:
    zone: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for ip, names in PTR.items():
        owner = ipaddress.ip_address(ip).reverse_pointer + "."
        zone[owner, "PTR"] += [f"{owner} 300 PTR {name}." for name in names]
    for name, records in FORWARD.items():
        for record in records:
            rtype = record.split()[0]
            zone[name + ".", rtype].append(f"{name}. 300 {record}")
    return zone


def _hostile() -> dict[tuple[str, str], list[RR]]:
    records: dict[tuple[str, str], list[RR]] = collections.defaultdict(list)
    for ip, name in HOSTILE.items():
        address = ipaddress.ip_address(ip)
        owner = address.reverse_pointer + "."
        records[owner, "PTR"].append(RR(owner, QTYPE.PTR, rdata=PTR_DATA(name), ttl=300))
        rtype, data = ("A", A(ip)) if address.version == 4 else ("AAAA", AAAA(ip))
        record = RR(name, getattr(QTYPE, rtype), rdata=data, ttl=300)
        records[str(name).lower(), rtype].append(record)
    return records


class ZoneResolver:
    """Answers from the zone above; NXDOMAIN for names it does not hold at all."""

    def __init__(self) -> None:
        self.zone = _zone()
        self.hostile = _hostile()
        self.names = {owner for owner, _ in self.zone} | {owner for owner, _ in self.hostile}
        self.queries: collections.Counter[tuple[str, str]] = collections.Counter()
        self.stop = threading.Event()

    def resolve(self, request, handler):
        reply = request.reply()
        qname = str(request.q.qname).lower()
        qtype = QTYPE[request.q.qtype]
        self.queries[qname, qtype] += 1
        if qname in SLOW_NAMES or qname.endswith(SLOW_REVERSE):
            self.stop.wait(SLOW_SECONDS)
        if qname in SERVFAIL_NAMES:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if qname in TRUNCATED_OVER_UDP and handler.protocol == "udp":
            reply.header.tc = 1
            return reply
        if qname not in self.names:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for line in self.zone.get((qname, qtype), []) or self.zone.get((qname, "CNAME"), []):
            reply.add_answer(*RR.fromZone(line))
        for record in self.hostile.get((qname, qtype), []):
            reply.add_answer(record)
        if qtype != "CNAME":  # follow a CNAME within our zone, as a recursive resolver does
            for rr in list(reply.rr):
                if QTYPE[rr.rtype] == "CNAME":
                    for line in self.zone.get((str(rr.rdata).lower(), qtype), []):
                        reply.add_answer(*RR.fromZone(line))
        return reply


def _quiet_logger() -> DNSLogger:
    return DNSLogger(prefix=False, logf=lambda message: log.debug("%s", message))


class UDP6Server(UDPServer):
    address_family = socket.AF_INET6


class TCP6Server(TCPServer):
    address_family = socket.AF_INET6


class LoopbackDNS:
    """The zone served over UDP and TCP on one free port of a loopback address."""

    def __init__(self, address: str = "127.0.0.1") -> None:
        self.resolver = ZoneResolver()
        v6 = ":" in address
        udp_class, tcp_class = (UDP6Server, TCP6Server) if v6 else (UDPServer, TCPServer)
        for _ in range(20):  # the UDP port's TCP twin may be taken: pick another
            udp = DNSServer(self.resolver, address=address, port=0, server=udp_class,
                            logger=_quiet_logger())
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(self.resolver, address=address, port=port, server=tcp_class,
                                logger=_quiet_logger())
            except OSError:
                udp.server.server_close()
                continue
            break
        else:  # pragma: no cover
            raise RuntimeError("no free port pair for the test DNS server")
        self.servers = [udp, tcp]
        self.port = port
        self.nameserver = f"[{address}]:{port}" if v6 else f"{address}:{port}"
        self.threads = [
            threading.Thread(target=server.server.serve_forever, kwargs={"poll_interval": 0.05},
                             daemon=True)
            for server in self.servers
        ]
        for thread in self.threads:
            thread.start()

    def close(self) -> None:
        self.resolver.stop.set()
        for server, thread in zip(self.servers, self.threads):
            server.server.shutdown()
            server.server.server_close()
            thread.join(5)
