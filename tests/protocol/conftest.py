"""Every validator test of this folder also holds the server's fast path (protocol/fast.py) to
the validator's answers: each body a test validates is sent, as JSON, through both."""

from __future__ import annotations

import json

import pytest

from _differential import assert_same


@pytest.fixture(autouse=True, scope="module")
def _through_the_fast_path_too(request):
    original = getattr(request.module, "validate_ping", None)
    if original is None or request.module.__name__.endswith("test_fast"):
        yield
        return

    def validate_ping(ping_type, body):
        try:
            data = json.dumps(body).encode()
        except (TypeError, ValueError):  # not JSON (bytes, sets): no client can send it
            data = None
        if data is not None:
            assert_same(ping_type, data)
        return original(ping_type, body)

    request.module.validate_ping = validate_ping
    yield
    request.module.validate_ping = original
