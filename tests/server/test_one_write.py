"""An answer leaves the server in one write: one system call and one TCP segment, not one
for its head and one for its body (server/_http.py, `_Gathered`)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from pings import post, usage

pytestmark = pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="counts writes in /proc")


def _writes(pid: int) -> int:
    """System calls of the write family the process has made (Linux: /proc/<pid>/io)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("syscw:"):
            return int(line.split()[1])
    raise AssertionError("no syscw in /proc/<pid>/io")


def test_each_answer_is_one_write(server):
    pid, n = server.process.pid, 50
    with httpx.Client(timeout=10) as client:
        for _ in range(3):  # the connection, the stores and the writer process are up
            assert post(client, server.url, usage()).status_code == 202
        before = _writes(pid)
        for _ in range(n):
            assert client.get(server.url + "/no/such/page").status_code == 404
        assert (_writes(pid) - before) / n < 1.5
        before = _writes(pid)
        for _ in range(n):  # each one its answer, and its batch to the writer process
            assert post(client, server.url, usage()).status_code == 202
        assert (_writes(pid) - before) / n < 2.5
