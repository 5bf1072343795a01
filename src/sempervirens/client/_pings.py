"""Ping bodies of protocol v1, built from what the client knows; nothing else goes in.

Every body built here is accepted by `sempervirens.protocol.validate_ping`
(tests/client/test_pings.py checks each kind).
"""

from __future__ import annotations

import json

from .. import __version__
from . import _environment, _wire

LIBRARY = {"name": "sempervirens-python", "version": __version__}


def encode(body: dict) -> bytes:
    """The exact bytes sent: compact, ASCII-only JSON."""
    return json.dumps(body, separators=(",", ":")).encode("ascii")


def _merge_dropped(*sources: dict) -> dict:
    merged: dict = {}
    for source in sources:
        for reason, n in source.items():
            if _wire.valid_name(reason) and type(n) is int and n > 0:
                merged[reason] = min(_wire.MAX_COUNT, merged.get(reason, 0) + n)
    # The protocol takes at most MAX_DROPPED_REASONS reasons: keep the largest.
    return dict(sorted(merged.items(), key=lambda kv: -kv[1])[: _wire.MAX_DROPPED_REASONS])


def usage(
    client_id: str,
    version: str,
    start: float,
    end: float,
    metrics: dict,
    dropped: dict,
    previously_dropped: dict,
) -> dict:
    body = {
        "client_id": client_id,
        "project_version": version,
        "library": LIBRARY,
        "period": {"start": _wire.rfc3339(start), "end": _wire.rfc3339(max(start, end))},
        "environment": _environment.environment(),
        "metrics": dict(metrics),
    }
    peak = _environment.peak_rss_bytes()
    if peak:
        body["metrics"]["memory"] = {"peak_rss_bytes": min(peak, _wire.MAX_COUNT)}
    merged = _merge_dropped(dropped, previously_dropped)
    if merged:
        body["dropped"] = merged
    return body


def crash(client_id: str, version: str, exception_type: str, traceback: str) -> dict:
    return {
        "client_id": client_id,
        "project_version": version,
        "library": LIBRARY,
        "environment": _environment.environment(),
        "crash": {"exception_type": exception_type, "traceback": traceback},
    }


def opt_out(version: str) -> dict:
    # No client_id, no environment: the server counts an opt-out event, not who.
    return {"project_version": version, "library": LIBRARY}


def deletion_request(client_id: str) -> dict:
    return {"client_id": client_id, "library": LIBRARY}


def clean_version(version: object) -> str:
    return _wire.clean_string(version) or "unknown"
