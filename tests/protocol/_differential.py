"""The server's two ways to a validated ping, side by side: the fast path (protocol/fast.py)
and the one before it (orjson, then validate_ping)."""

from __future__ import annotations

import orjson

from sempervirens.protocol import ProtocolError, validate_ping
from sempervirens.protocol.fast import decode_ping


def _outcome(answer):
    """What a client and the store see of an answer: the values, or the error."""
    try:
        ping = answer()
    except ProtocolError as error:
        return ("refused", error.field, error.code, error.message)
    return ("accepted", ping, orjson.dumps(ping.metrics), orjson.dumps(ping.dropped))


def slow(ping_type, data):
    """The server's path before the fast one: orjson, then the validator."""
    def answer():
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise ProtocolError("", f"body is not valid UTF-8 JSON: {error}",
                                "malformed_json") from None
        return validate_ping(ping_type, body)
    return _outcome(answer)


def assert_same(ping_type, data):
    assert _outcome(lambda: decode_ping(ping_type, data)) == slow(ping_type, data), data[:300]
