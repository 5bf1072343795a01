"""The spool keeps pings whole, bounded, and counts what it had to drop."""

import json
import os
import time

from client_helpers import read_spool, spooled

import sempervirens
from sempervirens.client._spool import Spool
from sempervirens.client._uploader import Uploader, uploader


def _ping(telemetry, name="x"):
    telemetry.count(name)
    telemetry._end_period()
    # Its upload pass (to the closed port) ends before the test looks at the spool: bounds
    # leave alone a ping being sent, by design, and a pass may pick up files the test adds.
    assert uploader.wait(uploader.request(), timeout=15)


def test_bounded_in_count_and_the_loss_is_reported_next_time(home, monkeypatch, closed_port):
    monkeypatch.setenv("SEMPERVIRENS_SPOOL_MAX_PINGS", "3")
    telemetry = sempervirens.Telemetry("bounded", version="1.0", endpoint=closed_port)
    for _ in range(5):
        _ping(telemetry)
    assert len(spooled(home)) == 3
    _ping(telemetry)
    last = json.loads(read_spool(home)[-1][1])
    assert last["dropped"] == {"spool_full": 1}  # the loss since the previous ping was built
    assert Spool(str(home)).dropped() == {
        "bounded": {"spool_full": 1}
    }  # this one's loss: next time


def test_bounded_in_bytes(home, monkeypatch, closed_port):
    monkeypatch.setenv("SEMPERVIRENS_SPOOL_MAX_BYTES", "2500")
    telemetry = sempervirens.Telemetry("bytes", version="1.0", endpoint=closed_port)
    for _ in range(6):
        _ping(telemetry)
    assert sum(p.stat().st_size for p in spooled(home)) <= 2500
    assert len(spooled(home)) >= 1


def test_old_pings_expire_and_are_counted(home, monkeypatch, closed_port):
    telemetry = sempervirens.Telemetry("aging", version="1.0", endpoint=closed_port)
    _ping(telemetry)
    [old] = spooled(home)
    stamp, rest = old.name.split(".", 1)
    old.rename(old.with_name(f"{int(stamp) - 40 * 86400 * 1000:013d}.{rest}"))  # 40 days ago
    _ping(telemetry)
    [young] = read_spool(home)
    assert json.loads(young[1]).get("dropped") is None
    assert Spool(str(home)).dropped() == {"aging": {"spool_expired": 1}}


def test_corrupted_and_half_written_files_are_harmless(home, closed_port):
    telemetry = sempervirens.Telemetry("broken", version="1.0", endpoint=closed_port)
    _ping(telemetry)
    spool_dir = home / "spool"
    (
        spool_dir / "0000000000001.0b7e5f0e-8a4d-4c43-9b7c-1d2e3f405162.usage.broken.ping"
    ).write_bytes(b"\x00garbage")
    (spool_dir / "whatever.ping.123.tmp").write_bytes(b"half a ping")  # a host killed mid-write
    (spool_dir / "not-ours.txt").write_text("ignored")
    result = Uploader().drain(str(home), timeout=1)
    assert result.kept == 1  # the real ping waits for the server
    assert Spool(str(home)).dropped() == {"broken": {"spool_corrupt": 1}}
    assert len(spooled(home)) == 1


def test_writes_are_atomic_renames(home, closed_port):
    telemetry = sempervirens.Telemetry("atomic", version="1.0", endpoint=closed_port)
    _ping(telemetry)
    assert [p.name for p in (home / "spool").iterdir() if p.name.endswith(".tmp")] == []
    [(header, body)] = read_spool(home)
    assert header["endpoint"] == closed_port and header["ping_type"] == "usage"
    assert json.loads(body)["metrics"]["counters"] == {"x": 1}
    mode = os.stat(spooled(home)[0]).st_mode & 0o777
    assert mode == 0o600


def test_document_id_is_fixed_when_spooled(home, closed_port):
    telemetry = sempervirens.Telemetry("resend", version="1.0", endpoint=closed_port)
    _ping(telemetry)
    before = read_spool(home)[0][0]["document_id"]
    for _ in range(2):
        Uploader().drain(str(home), timeout=1)
        time.sleep(0.01)
    assert read_spool(home)[0][0]["document_id"] == before
