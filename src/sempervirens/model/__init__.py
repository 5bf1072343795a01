"""The catalogue: everything declared once, at the bottom of the package graph.

- `limits`: the wire format's limits (the protocol and the client's copy);
- `ping`: the ping's fields: type, limits, ping types, store and lake column;
- `periods`: days, ISO weeks and months;
- `domains`: the breakdowns and their public value domains;
- `declarations`: a project's metrics file (what it collects);
- `lake`: the lake's tables and columns;
- `statistics`: the public statistics, their keys and their share of the budget;
- `private`: the private aggregates' tables and the origins' kinds;
- `text`: what free text written for people may hold;
- `sources`: where pings come from, as counted (an IPv4 address, an IPv6 /64).

This package imports nothing else of the project and nothing outside the standard
library, so that every layer (the client's tests included) may import it.
"""
