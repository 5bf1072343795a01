"""The installation id: one per user, private, and never a reason to fail."""

import os
import stat
import subprocess
import sys

import pytest
from client_helpers import clean_env, read_spool

import sempervirens
from sempervirens.client import _identity


def test_created_once_private_and_shared_by_projects(home):
    a = sempervirens.Telemetry("alpha", version="1", endpoint="http://127.0.0.1:9")
    b = sempervirens.Telemetry("beta", version="1", endpoint="http://127.0.0.1:9")
    a.count("x")
    b.count("y")
    a._end_period()
    b._end_period()
    ids = {__import__("json").loads(body)["client_id"] for _, body in read_spool(home)}
    assert len(ids) == 1
    assert (home / "client_id").read_text().strip() == ids.pop()
    assert stat.S_IMODE(os.stat(home / "client_id").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700


@pytest.mark.parametrize(
    "content", [b"", b"not-a-uuid", b"\xff\xfe\x00garbage", b"6ba7b810-9dad-11d1-80b4-00c04fd430c8"]
)  # a v1 UUID
def test_corrupted_file_gives_a_fresh_valid_id(tmp_path, content):
    (tmp_path / "client_id").write_bytes(content)
    value = _identity.get_or_create(str(tmp_path))
    assert _identity.is_uuid4(value)
    assert _identity.get_or_create(str(tmp_path)) == value


def test_unreadable_id_file_is_a_silent_no_op(tmp_path):
    (
        tmp_path / "client_id"
    ).mkdir()  # a directory where the file should be: unreadable even by root
    assert _identity.get_or_create(str(tmp_path)) is None


def test_concurrent_first_runs_agree_on_one_id(tmp_path):
    code = (
        "import sys; from sempervirens.client import _identity; "
        "print(_identity.get_or_create(sys.argv[1]))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)],
            stdout=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )
        for _ in range(6)
    ]
    ids = {p.communicate(timeout=30)[0].strip() for p in procs}
    assert len(ids) == 1 and _identity.is_uuid4(ids.pop())
    assert [p.name for p in tmp_path.iterdir()] == ["client_id"]  # no temporary file left
