"""Ping bodies for tests: the minimal ones from the protocol and a realistic one."""

from __future__ import annotations

import gzip
import json
import uuid

MINIMAL_USAGE = {"client_id": None, "project_version": "1.2.3", "metrics": {"counters": {"io.read_csv": 3}}}
MINIMAL_OPT_OUT = {"project_version": "1.2.3"}


def new_id() -> str:
    return str(uuid.uuid4())


def usage(client_id: str | None = None, **overrides) -> dict:
    """A realistic usage ping of about 600 bytes."""
    body = {
        "client_id": client_id or new_id(),
        "project_version": "1.2.3",
        "library": {"name": "sempervirens-python", "version": "0.1.0"},
        "period": {"start": "2026-11-29T10:00:00Z", "end": "2026-11-29T11:00:00Z"},
        "environment": {"os": "Linux", "arch": "x86_64", "python_implementation": "CPython",
                        "python_version": "3.11.7", "cpu_count": 8, "memory_total": 16_000_000_000,
                        "ci": False, "platform_tag": "manylinux_2_36_x86_64"},
        "metrics": {"counters": {"io.read_csv": 3, "io.write_csv": 1, "core.fit": 10},
                    "labeled_counters": {"io.read": {"csv": 3, "parquet": 1}},
                    "timings": {"solve": {"count": 3, "sum_us": 3000, "buckets": {"39": 3}}},
                    "memory": {"peak_rss_bytes": 123_456_789}},
    }
    body.update(overrides)
    return body


def post(client, base_url: str, body, *, project: str = "numpy", ping_type: str = "usage",
         document_id: str | None = None, gzipped: bool = False, headers: dict | None = None,
         raw: bytes | None = None):
    data = raw if raw is not None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", **(headers or {})}
    if gzipped:
        data = gzip.compress(data)
        sent["Content-Encoding"] = "gzip"
    path = f"/submit/{project}/{ping_type}/1/{document_id or new_id()}"
    return client.post(base_url + path, content=data, headers=sent)
