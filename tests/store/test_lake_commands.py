"""`sempervirens lake seal|list|verify`, run as an operator runs them (a subprocess),
and one clear line, no traceback, for every bad input."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from lake_helpers import population
from sempervirens import settings
from sempervirens.store import open_stores
from sempervirens.store.lake import Lake

TODAY = datetime.now(timezone.utc).date()
# Ended, grace included, whatever the time of day the test runs.
CLOSED = [TODAY - timedelta(days=3), TODAY - timedelta(days=2)]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {"PATH": "/usr/bin:/bin", **(env or {})}
    return subprocess.run([sys.executable, "-m", "sempervirens", *args], capture_output=True,
                          text=True, env=environ, timeout=120)


def one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    # argparse's usage block (first line "usage:", the rest indented) may precede the line
    lines = [line for line in result.stderr.splitlines()
             if line.strip() and not line.startswith(("usage:", " "))]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture
def data_dir(tmp_path):
    stores = open_stores(tmp_path / "data")
    population(stores.telemetry, [*CLOSED, TODAY], 30)
    stores.dispose()
    return tmp_path / "data"


def test_seal_says_what_it_sealed_then_list_and_verify(data_dir):
    result = run("lake", "seal", "--data-dir", str(data_dir), "--through", CLOSED[0].isoformat())
    assert result.returncode == 0, result.stderr
    assert f"sealed {CLOSED[0]}" in result.stdout and str(CLOSED[1]) not in result.stdout

    result = run("lake", "seal", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert f"sealed {CLOSED[1]}" in result.stdout and f"sealed {TODAY}" not in result.stdout
    assert Lake(data_dir / "lake").days() == CLOSED  # the default: <data_dir>/lake

    assert "nothing to seal" in run("lake", "seal", "--data-dir", str(data_dir)).stdout

    listing = run("lake", "list", "--data-dir", str(data_dir))
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split()[:6] == ["day", "pings", "counters", "timings", "files", "bytes"]
    manifest = Lake(data_dir / "lake").manifest()["days"]
    for line, day in zip(lines[1:], CLOSED):
        fields = line.split()
        files = manifest[day.isoformat()]["files"]
        assert fields[0] == day.isoformat()
        assert int(fields[1]) == sum(f["rows"] for f in files if f["table"] == "pings") > 0
        assert int(fields[4]) == len(files) and int(fields[5]) == sum(f["bytes"] for f in files)

    verified = run("lake", "verify", "--data-dir", str(data_dir))
    assert verified.returncode == 0 and "6 file(s) match" in verified.stdout


def test_verify_names_a_corrupted_file_and_fails(data_dir):
    assert run("lake", "seal", "--data-dir", str(data_dir)).returncode == 0
    victim = Lake(data_dir / "lake").files("pings")[0]
    with open(victim, "r+b") as file:
        file.seek(100)
        byte = file.read(1)
        file.seek(100)
        file.write(bytes([byte[0] ^ 0xFF]))
    result = run("lake", "verify", "--data-dir", str(data_dir))
    one_line_error(result, "corrupted", victim.rsplit("/", 1)[1])


def test_the_lake_setting_moves_the_lake(data_dir, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    result = run("lake", "seal", "--data-dir", str(data_dir), env={"SEMPERVIRENS_LAKE": str(elsewhere)})
    assert result.returncode == 0, result.stderr
    assert Lake(elsewhere).days() == CLOSED and not (data_dir / "lake").exists()


@pytest.mark.parametrize("args, env, words", [
    (("--through", "2026-13-01"), {}, ("not a day", "2026-13-01")),
    (("--through", (TODAY + timedelta(days=1)).isoformat()), {}, ("has not ended",)),
    (("--through", TODAY.isoformat()), {}, ("has not ended",)),
    ((), {"SEMPERVIRENS_SEAL_GRACE_HOURS": "-1"}, ("SEMPERVIRENS_SEAL_GRACE_HOURS", "from 0 to")),
    ((), {"SEMPERVIRENS_SEAL_GRACE_HOURS": "100000000000"}, ("SEMPERVIRENS_SEAL_GRACE_HOURS",
                                                             "from 0 to 8784 hours")),
    ((), {"SEMPERVIRENS_SEAL_GRACE_HOURS": "two"}, ("SEMPERVIRENS_SEAL_GRACE_HOURS", "whole number")),
    (("--seal-grace-hours", "-3"), {}, ("--seal-grace-hours",)),
    ((), {"SEMPERVIRENS_HOT_MARGIN_DAYS": "-1"}, ("SEMPERVIRENS_HOT_MARGIN_DAYS",)),
    ((), {"SEMPERVIRENS_LAKE": "nosuchscheme://x/y"}, ("cannot open the lake",)),
    (("--database", "postgresql://nobody@127.0.0.1:1/none"), {}, ("cannot reach the telemetry store",)),
])
def test_bad_input_is_one_clear_line(data_dir, args, env, words):
    one_line_error(run("lake", "seal", "--data-dir", str(data_dir), *args, env=env), *words)


def test_a_damaged_manifest_is_one_clear_line(tmp_path):
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "manifest.json").write_text("[1, 2")
    for command in ("list", "verify", "seal"):
        one_line_error(run("lake", command, "--data-dir", str(tmp_path / "data"),
                           "--lake", str(tmp_path / "lake")), "manifest")


def test_lake_settings_defaults_and_validation():
    values = settings.resolve(None, {})
    assert values["lake"].endswith("lake") and values["seal_grace_hours"] == 2 and values["hot_margin_days"] == 2
    values = settings.resolve(None, {"SEMPERVIRENS_SEAL_GRACE_HOURS": "0", "SEMPERVIRENS_HOT_MARGIN_DAYS": "7",
                                     "SEMPERVIRENS_LAKE": " s3://bucket/lake "})
    assert (values["seal_grace_hours"], values["hot_margin_days"], values["lake"]) == (0, 7, "s3://bucket/lake")
    with pytest.raises(SystemExit, match="HOT_MARGIN_DAYS: must be from 0 to 3660 days"):
        settings.resolve(None, {"SEMPERVIRENS_HOT_MARGIN_DAYS": "-2"})
    with pytest.raises(SystemExit, match="SEMPERVIRENS_LAKE: empty"):
        settings.resolve(None, {"SEMPERVIRENS_LAKE": "  "})


def test_list_of_an_empty_lake(tmp_path):
    (tmp_path / "lake").mkdir()
    result = run("lake", "list", "--data-dir", str(tmp_path))
    assert result.returncode == 0 and "no sealed day" in result.stdout


@pytest.mark.parametrize("command", ["list", "verify"])
def test_a_lake_that_is_not_there_is_said_not_listed_empty(tmp_path, command):
    """A typo in --lake must not pass for a lake with nothing sealed."""
    result = run("lake", command, "--lake", str(tmp_path / "typo"))
    assert result.returncode == 1 and result.stderr.strip() == (
        f"sempervirens lake {command}: no lake at {tmp_path / 'typo'} (nothing sealed there "
        f"yet; check --lake and --data-dir)")
    assert not (tmp_path / "typo").exists()


def test_a_manifest_naming_a_file_outside_the_lake_is_refused(data_dir, tmp_path):
    # Whoever can write the manifest (a shared filesystem, a bucket) must not make `lake
    # verify` read, nor a deletion's rewrite replace and remove, a file out of the lake.
    import json
    import os
    import shutil

    assert run("lake", "seal", "--data-dir", str(data_dir)).returncode == 0
    lake = data_dir / "lake"
    manifest = json.loads((lake / "manifest.json").read_text())
    entry = next(iter(manifest["days"].values()))["files"][0]
    outside = tmp_path / "outside.parquet"
    shutil.copy(lake / entry["path"], outside)
    entry["path"] = os.path.relpath(outside, lake)  # ../../outside.parquet, sha256 and all
    (lake / "manifest.json").write_text(json.dumps(manifest))
    here = {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}  # the source tree under test
    for command in ("list", "verify"):
        one_line_error(run("lake", command, "--data-dir", str(data_dir), env=here),
                       "not a manifest of this lake")
    before = outside.read_bytes()
    client_id = pq_client(outside)
    deleted = run("admin", "delete", client_id, "--data-dir", str(data_dir), env=here)
    assert deleted.returncode != 0 and outside.read_bytes() == before


def pq_client(path) -> str:
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=["client_id"])["client_id"][0].as_py()


def test_a_lake_that_is_a_symbolic_link_loop_is_one_clear_line(tmp_path):
    import os

    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    here = {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    for command in ("list", "verify"):  # was 'failed (RuntimeError: Symlink loop ...)'
        one_line_error(run("lake", command, "--lake", str(tmp_path / "a"), env=here),
                       "cannot open the lake", "loop")


def test_seal_leaves_out_a_deleted_clients_ping_committed_after_its_deletion(tmp_path):
    """As the cycle: a ping accepted just before the servers read a new tombstone, which a
    slow writer committed after the deletion, was sealed into the lake by `lake seal`."""
    import pyarrow.parquet as pq

    from lake_helpers import add_pings, new_id, ping_row
    from sempervirens.admin._secret import load_key
    from sempervirens.admin.deletion import delete_clients
    from sempervirens.cli import main

    data = tmp_path / "data"
    stores = open_stores(data)
    gone = new_id()
    add_pings(stores.telemetry, [ping_row(CLOSED[0], client_id=gone)])
    config = settings.resolve(None, {"SEMPERVIRENS_DATA_DIR": str(data)})
    delete_clients(stores, load_key(config), [gone], settle=0)
    add_pings(stores.telemetry, [ping_row(CLOSED[0], client_id=gone), ping_row(CLOSED[0])])
    stores.dispose()
    assert main(["lake", "seal", "--data-dir", str(data)]) == 0
    lake = Lake(data / "lake")
    held = {c for path in lake.files("pings") for c in pq.read_table(path)["client_id"].to_pylist()}
    assert held and gone not in held
