"""The simulated population's reverse DNS, served by a real DNS server on loopback.

Each simulated address has a PTR record to its hostname and the hostname an A or
AAAA record back to the address (forward-confirmed, as enrichment requires);
home addresses without a hostname get NXDOMAIN.  dnslib is a test/demo
dependency: it is imported only when a server is started.
"""

from __future__ import annotations

import ipaddress
import logging
import threading

log = logging.getLogger("sempervirens.simulate.dns")


def zone(addresses: dict[str, str | None]) -> dict[tuple[str, str], list[str]]:
    """(owner name, record type) -> zone-file lines, for these address -> hostname pairs."""
    records: dict[tuple[str, str], list[str]] = {}
    for ip, hostname in addresses.items():
        if not hostname:
            continue
        address = ipaddress.ip_address(ip)
        owner = address.reverse_pointer + "."
        records.setdefault((owner, "PTR"), []).append(f"{owner} 300 PTR {hostname}.")
        kind = "AAAA" if address.version == 6 else "A"
        forward = records.setdefault((hostname + ".", kind), [])
        line = f"{hostname}. 300 {kind} {ip}"
        if line not in forward:
            forward.append(line)
    return records


class LoopbackDNS:
    """Serves `zone(addresses)` over UDP and TCP on one free port of 127.0.0.1."""

    def __init__(self, addresses: dict[str, str | None], host: str = "127.0.0.1") -> None:
        from dnslib import QTYPE, RCODE, RR
        from dnslib.server import DNSLogger, DNSServer

        records = zone(addresses)
        names = {owner for owner, _ in records}

        class Resolver:
            def resolve(self, request, handler):
                reply = request.reply()
                qname = str(request.q.qname).lower()
                if qname not in names:
                    reply.header.rcode = RCODE.NXDOMAIN
                for line in records.get((qname, QTYPE[request.q.qtype]), []):
                    reply.add_answer(*RR.fromZone(line))
                return reply

        quiet = DNSLogger(prefix=False, logf=lambda message: log.debug("%s", message))
        for _ in range(20):  # the UDP port's TCP twin may be taken: try another
            udp = DNSServer(Resolver(), address=host, port=0, logger=quiet)
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(Resolver(), address=host, port=port, tcp=True, logger=quiet)
            except OSError:
                udp.server.server_close()
                continue
            break
        else:
            raise RuntimeError("no free port pair for the loopback DNS server")
        self.servers = (udp, tcp)
        self.nameserver = f"{host}:{port}"
        self._threads = [threading.Thread(target=s.server.serve_forever, daemon=True,
                                          kwargs={"poll_interval": 0.1}) for s in self.servers]
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        for server, thread in zip(self.servers, self._threads):
            server.server.shutdown()
            server.server.server_close()
            thread.join(5)
