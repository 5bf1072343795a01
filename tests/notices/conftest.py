"""A real server with a contact address, behind 127.0.0.1 as a trusted proxy (so a ping's
address is the X-Forwarded-For it sends).  The helpers are in notice_helpers.py."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from _services.server import start_server  # noqa: E402
from notice_helpers import CONTACT  # noqa: E402


@pytest.fixture
def notices_server(tmp_path):
    running = start_server(tmp_path / "data", extra_args=("--contact", CONTACT,
                                                           "--trusted-proxies", "127.0.0.1"))
    yield running
    running.stop()


@pytest.fixture
def client():
    with httpx.Client(timeout=30) as http:
        yield http
