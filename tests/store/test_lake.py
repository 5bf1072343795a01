"""The lake: sealing closed days from real stores (SQLite files, the session's PostgreSQL),
row for row; idempotence; late pings; pruning; deletion rewrites; export; checksums."""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lake_helpers import (DAY, IN_EVERY_TABLE, add_pings, expected_tables, new_id, normalise, ping_row,
                          population, read_lake, store_rows)
from sempervirens.store import open_stores
from sempervirens.store.lake import Lake, LakeError, delete_clients, prune, seal
from sempervirens.store.lake import _seal as seal_module

# 03:00 on the day after DAY: DAY has ended more than the 2 h grace ago, that day has not.
NOW = datetime(DAY.year, DAY.month, DAY.day, 3, tzinfo=timezone.utc) + timedelta(days=1)
DAYS = [DAY - timedelta(days=2), DAY - timedelta(days=1), DAY]
TABLES = ("pings", "counters", "timings")


@pytest.fixture
def store(store_kind, request, tmp_path):
    urls = (None, None)
    if store_kind == "postgresql":
        cluster = request.getfixturevalue("postgres")
        urls = (cluster.create_database("telemetry"), cluster.create_database("private"))
    opened = open_stores(tmp_path / "data", *urls)
    yield opened.telemetry
    opened.dispose()


@pytest.fixture
def sqlite_store(tmp_path):
    opened = open_stores(tmp_path / "data")
    yield opened.telemetry
    opened.dispose()


@pytest.fixture
def small_chunks(monkeypatch):
    """Several chunks (row groups) per day, as a big day has."""
    monkeypatch.setattr(seal_module, "CHUNK_ROWS", 40)


def _lake_files(lake: Lake) -> set[str]:
    root = Path(lake.root)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.suffix == ".parquet"}


def test_sealing_matches_the_store_row_for_row(store, tmp_path, small_chunks):
    rows = population(store, DAYS, 150)
    today = add_pings(store, [ping_row(NOW.date()), ping_row(DAY + timedelta(days=1))])
    lake = Lake(tmp_path / "lake")

    report = seal(store, lake, now=NOW)

    assert report.days == DAYS  # not the day that has not ended (plus grace)
    stored = [r for r in store_rows(store) if r["day"] in DAYS]
    expected = expected_tables(stored)
    for table in TABLES:
        assert normalise(read_lake(lake, table)) == normalise(expected[table]), table
        assert report.rows[table] == len(expected[table])
    lake_documents = {r["document_id"] for r in read_lake(lake, "pings")}
    assert not lake_documents & {r["document_id"] for r in today}
    assert not lake_documents & {r["document_id"] for r in rows if r["ping_type"] == "deletion-request"}
    # each file is sorted by project, in several row groups (chunks)
    for path in lake.files("counters", [DAY]):
        projects = pq.read_table(path, columns=["project"]).column(0).to_pylist()
        assert projects == sorted(projects)
    assert pq.ParquetFile(lake.files("pings", [DAY])[0]).num_row_groups > 1
    assert lake.days() == DAYS and lake.verify() == []


def test_the_manifest_lists_every_file_with_rows_and_sha256(sqlite_store, tmp_path):
    population(sqlite_store, [DAY], 60)
    lake = Lake(tmp_path / "lake")
    seal(sqlite_store, lake, now=NOW)
    manifest = json.loads((tmp_path / "lake" / "manifest.json").read_text())
    files = manifest["days"][DAY.isoformat()]["files"]
    assert sorted(f["table"] for f in files) == sorted(TABLES)
    for f in files:
        assert f["path"].startswith(f"{f['table']}/day={DAY.isoformat()}/")
        assert pq.read_metadata(tmp_path / "lake" / f["path"]).num_rows == f["rows"]
        assert len(f["sha256"]) == 64 and f["bytes"] == (tmp_path / "lake" / f["path"]).stat().st_size
    assert _lake_files(lake) == {f["path"] for f in files}  # nothing else, temporaries gone


def test_sealing_twice_is_a_no_op(sqlite_store, tmp_path):
    population(sqlite_store, DAYS, 50)
    lake = Lake(tmp_path / "lake")
    seal(sqlite_store, lake, now=NOW)
    manifest = (tmp_path / "lake" / "manifest.json").read_bytes()
    files = _lake_files(lake)
    again = seal(sqlite_store, lake, now=NOW + timedelta(hours=1))
    assert again.days == [] and again.late == {} and again.rows == {}
    assert (tmp_path / "lake" / "manifest.json").read_bytes() == manifest
    assert _lake_files(lake) == files


def test_through_and_grace_limit_what_is_sealed(sqlite_store, tmp_path):
    population(sqlite_store, DAYS, 20)
    lake = Lake(tmp_path / "lake")
    assert seal(sqlite_store, lake, now=NOW, through=DAYS[0]).days == [DAYS[0]]
    # at 01:00 the day before NOW's has ended but not its 2 h grace
    early = NOW - timedelta(hours=2)
    assert seal(sqlite_store, lake, now=early).days == [DAYS[1]]
    assert seal(sqlite_store, lake, now=early, grace=timedelta(0)).days == [DAY]


def test_late_pings_of_a_sealed_day_are_sealed_as_an_extra_file(store, tmp_path):
    population(store, [DAY], 40)
    lake = Lake(tmp_path / "lake")
    seal(store, lake, now=NOW)
    add_pings(store, [ping_row(DAY, seconds=86399), ping_row(DAY, ping_type="crash")])

    report = seal(store, lake, now=NOW + timedelta(hours=5))

    assert report.days == [] and report.late == {DAY: 2}
    sealed = lake.manifest()["days"][DAY.isoformat()]
    assert [entry["pings"] for entry in sealed["late"]] == [2]
    assert len(lake.files("pings", [DAY])) == 2
    expected = expected_tables(store_rows(store, DAY))
    for table in TABLES:
        assert normalise(read_lake(lake, table)) == normalise(expected[table]), table
    assert seal(store, lake, now=NOW + timedelta(hours=6)).late == {}  # once


def _crash_at(step: str, hit: int, store_dir, lake_dir) -> int:
    """Run a seal in a subprocess that dies (os._exit, no clean-up) at the hit-th `step`."""
    import subprocess
    import sys

    script = f"""
import os, sys
from datetime import datetime
from sempervirens.store import open_stores
from sempervirens.store.lake import Lake, seal, _layout, _seal
_seal.CHUNK_ROWS = 40
seen = 0
def checkpoint(step):
    global seen
    if step == {step!r}:
        seen += 1
        if seen == {hit}:
            os._exit(17)
_layout.checkpoint = _seal.checkpoint = checkpoint
stores = open_stores({str(store_dir)!r})
seal(stores.telemetry, Lake({str(lake_dir)!r}), now=datetime.fromisoformat({NOW.isoformat()!r}))
"""
    return subprocess.run([sys.executable, "-c", script], timeout=60).returncode


@pytest.mark.slow
@pytest.mark.parametrize("step, hit, sealed", [
    # A new lake's first write is its empty manifest (hits 1), then the days'.
    ("manifest-written", 1, 0), ("manifest-renamed", 1, 0),
    ("chunk-written", 2, 0), ("files-written", 1, 0), ("file-published", 1, 0),
    ("file-published", 3, 0), ("manifest-written", 2, 0), ("manifest-renamed", 2, 1),
    ("chunk-written", 5, 1), ("manifest-written", 3, 1),
])
def test_a_crash_at_any_step_leaves_days_unsealed_or_sealed_completely(tmp_path, step, hit, sealed):
    opened = open_stores(tmp_path / "data")
    try:
        population(opened.telemetry, DAYS[1:], 100)
        lake = Lake(tmp_path / "lake")
        assert _crash_at(step, hit, tmp_path / "data", tmp_path / "lake") == 17
        sealed_before = lake.days()
        assert sealed_before == DAYS[1:1 + sealed]
        # what a reader sees meanwhile: complete days only, every listed file intact
        assert lake.verify() == []
        for day in lake.days():
            stored = expected_tables(store_rows(opened.telemetry, day))
            for table in TABLES:
                rows = [r for r in read_lake(lake, table) if str(r["day"]) == day.isoformat()]
                assert normalise(rows) == normalise(stored[table])

        report = seal(opened.telemetry, lake, now=NOW)  # the next run finishes the work

        assert set(report.days) == set(DAYS[1:]) - set(sealed_before)
        assert lake.days() == DAYS[1:] and lake.verify() == []
        expected = expected_tables(store_rows(opened.telemetry))
        for table in TABLES:
            assert normalise(read_lake(lake, table)) == normalise(expected[table])
        listed = {f["path"] for d in lake.manifest()["days"].values() for f in d["files"]}
        assert _lake_files(lake) == listed  # leftovers removed
        assert not list((tmp_path / "lake" / "_tmp").glob("*"))
    finally:
        opened.dispose()


def test_prune_keeps_unsealed_days_the_margin_and_what_the_lake_lacks(store, tmp_path):
    days = [DAY - timedelta(days=i) for i in range(5, -1, -1)]
    rows = population(store, days, 30)
    lake = Lake(tmp_path / "lake")
    seal(store, lake, now=NOW, through=DAY - timedelta(days=1))  # DAY stays unsealed
    late = add_pings(store, [ping_row(days[0])])  # not sealed yet: must survive pruning
    before = {r["document_id"] for r in store_rows(store)}

    report = prune(store, lake, now=NOW, margin_days=3)  # keeps NOW - 3 days and later

    oldest_kept = NOW.date() - timedelta(days=3)
    assert report.days == [d for d in days if d < oldest_kept]
    remaining = store_rows(store)
    for row in rows + late:
        if row["day"] >= oldest_kept or row["ping_type"] == "deletion-request" or row in late:
            assert row["document_id"] in {r["document_id"] for r in remaining}
        else:
            assert row["document_id"] not in {r["document_id"] for r in remaining}
    assert report.deleted == len(before) - len(remaining) > 0
    assert report.kept_unsealed == 1
    # the lake still holds every pruned ping
    lake_documents = {r["document_id"] for r in read_lake(lake, "pings")}
    assert {d for d in before - {r["document_id"] for r in remaining}} <= lake_documents
    # then the late ping is sealed, and the next prune removes it
    assert seal(store, lake, now=NOW, through=DAY - timedelta(days=1)).late == {days[0]: 1}
    assert prune(store, lake, now=NOW, margin_days=3).deleted == 1


def test_deleting_clients_rewrites_their_days_and_verifies(store, tmp_path):
    victim, other = new_id(), new_id()
    population(store, DAYS, 40)
    mine = add_pings(store, [ping_row(DAYS[0], client_id=victim, metrics=IN_EVERY_TABLE),
                             ping_row(DAY, client_id=victim, ping_type="crash")])
    # another client's traceback names the victim's UUID: redacted, not left behind
    add_pings(store, [ping_row(DAY, client_id=other, ping_type="crash",
                               crash_traceback=f"KeyError: '{victim.upper()}'"),
                      ping_row(DAYS[0], ping_type="crash", crash_traceback=f"id {mine[0]['document_id']}")])
    lake = Lake(tmp_path / "lake")
    seal(store, lake, now=NOW)
    untouched = set(lake.files("pings", [DAYS[1]]))
    old_files = set(lake.files("pings", [DAYS[0], DAY]))

    report = delete_clients(lake, [victim, new_id()])

    assert report.clients == 2 and report.days == [DAYS[0], DAY]
    assert report.rows["pings"] == 2 and report.rows["counters"] > 0 and report.redacted == 2
    assert set(lake.files("pings", [DAYS[1]])) == untouched  # a day without the client is kept
    assert not old_files & set(lake.files("pings"))
    assert not any(os.path.exists(p) for p in old_files)  # old files removed
    for table in TABLES:
        assert victim not in {r["client_id"] for r in read_lake(lake, table)}
    documents = {r["document_id"] for r in read_lake(lake, "pings")}
    assert not documents & {r["document_id"] for r in mine}
    traceback = [r for r in read_lake(lake, "pings") if r["client_id"] == other][0]["crash_traceback"]
    assert traceback == "KeyError: '[deleted]'"
    assert not [r for r in read_lake(lake, "pings") if mine[0]["document_id"] in (r["crash_traceback"] or "")]
    for path in _lake_files(lake):  # not even in the bytes, compressed or not
        data = (tmp_path / "lake" / path).read_bytes()
        assert victim.encode() not in data and victim.upper().encode() not in data
        assert mine[0]["document_id"].encode() not in data
    manifest = (tmp_path / "lake" / "manifest.json").read_text()
    assert victim not in manifest and victim.upper() not in manifest
    rewrites = lake.manifest()["days"][DAY.isoformat()]["rewrites"]
    assert len(rewrites) == 1 and rewrites[0]["clients"] == 1 and rewrites[0]["rows"]["pings"] == 1
    assert lake.verify() == []
    # everyone else's rows are all still there
    expected = expected_tables([r for r in store_rows(store) if r["client_id"] != victim and r["day"] in DAYS])
    assert len(read_lake(lake, "counters")) == len(expected["counters"])
    assert delete_clients(lake, [victim]).days == []  # nothing left to delete


def test_a_failed_verification_replaces_nothing(sqlite_store, tmp_path, monkeypatch):
    from sempervirens.store.lake import LakeDeletionIncomplete, _delete

    victim = new_id()
    add_pings(sqlite_store, [ping_row(DAY, client_id=victim), ping_row(DAY)])
    lake = Lake(tmp_path / "lake")
    seal(sqlite_store, lake, now=NOW)
    before = (tmp_path / "lake" / "manifest.json").read_bytes()
    # a writer that leaves the UUID in the file: verification must catch it
    monkeypatch.setattr(_delete, "_redact", lambda table, pattern: (table.set_column(
        table.column_names.index("os"), "os", pa.array([victim] * table.num_rows)), 0))
    with pytest.raises(LakeDeletionIncomplete):
        delete_clients(lake, [victim])
    assert (tmp_path / "lake" / "manifest.json").read_bytes() == before
    assert victim in {r["client_id"] for r in read_lake(lake, "pings")}
    assert lake.verify() == []
    listed = {f["path"] for d in lake.manifest()["days"].values() for f in d["files"]}
    assert _lake_files(lake) == listed


def test_client_rows_are_what_the_lake_holds_about_a_client(store, tmp_path):
    victim = new_id()
    population(store, [DAY], 30)
    mine = add_pings(store, [ping_row(DAYS[0], client_id=victim), ping_row(DAY, client_id=victim)])
    lake = Lake(tmp_path / "lake")
    seal(store, lake, now=NOW)

    rows = lake.client_rows([victim.upper()])

    expected = expected_tables(mine)
    for table in TABLES:
        assert normalise(rows[table]) == normalise(expected[table]), table
    assert lake.client_rows([new_id()]) == {"pings": [], "counters": [], "timings": []}
    with pytest.raises(ValueError, match="not a UUID"):
        lake.client_rows(["nope"])


def test_verify_detects_a_corrupted_or_missing_file(sqlite_store, tmp_path):
    population(sqlite_store, [DAYS[0], DAY], 30)
    lake = Lake(tmp_path / "lake")
    seal(sqlite_store, lake, now=NOW)
    assert lake.verify() == []
    first, second = lake.files("counters", [DAYS[0]])[0], lake.files("timings", [DAY])[0]
    data = bytearray(Path(first).read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit
    Path(first).write_bytes(bytes(data))
    Path(second).unlink()
    problems = lake.verify()
    assert len(problems) == 2
    assert "corrupted" in problems[0] and first.endswith(problems[0].split()[1].rstrip(":"))
    assert "missing" in problems[1]


def test_a_deletion_waits_for_a_running_seal(sqlite_store, tmp_path):
    population(sqlite_store, [DAY], 10)
    lake = Lake(tmp_path / "lake")
    done = threading.Event()

    def sealing():
        seal(sqlite_store, lake, now=NOW)
        done.set()

    with lake.lock():  # as a deletion rewriting the lake holds it
        thread = threading.Thread(target=sealing)
        thread.start()
        assert not done.wait(0.5)
        assert lake.days() == []
    thread.join(30)
    assert done.is_set() and lake.days() == [DAY]


def test_a_damaged_manifest_is_one_clear_error(tmp_path):
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "manifest.json").write_text("{not json")
    with pytest.raises(LakeError, match="manifest is damaged"):
        Lake(tmp_path / "lake").days()
    with pytest.raises(LakeError, match="no lake table"):
        Lake(tmp_path / "lake2").files("nope")


def test_a_lake_uri_opens_with_pyarrow(tmp_path, sqlite_store):
    population(sqlite_store, [DAY], 10)
    lake = Lake(f"file://{tmp_path}/lake")
    seal(sqlite_store, lake, now=NOW)
    assert lake.days() == [DAY] and lake.verify() == []
    assert Lake(tmp_path / "lake").files("pings") == lake.files("pings")


@pytest.mark.slow
@pytest.mark.parametrize("step", ["rewrite-published", "manifest-written", "manifest-renamed"])
def test_a_crash_during_a_deletion_is_finished_by_the_next_lake_write(sqlite_store, tmp_path, step):
    import subprocess
    import sys

    victim = new_id()
    population(sqlite_store, [DAY], 40)
    # rows in every table: the deletion replaces every file of the day
    add_pings(sqlite_store, [ping_row(DAY, client_id=victim, ping_type="crash",
                                      metrics=IN_EVERY_TABLE)])
    lake = Lake(tmp_path / "lake")
    seal(sqlite_store, lake, now=NOW)
    old = set(lake.files("pings") + lake.files("counters") + lake.files("timings"))
    script = f"""
import os
from sempervirens.store.lake import Lake, delete_clients, _layout, _delete
def checkpoint(step):
    if step == {step!r}:
        os._exit(17)
_layout.checkpoint = _delete.checkpoint = checkpoint
delete_clients(Lake({str(tmp_path / "lake")!r}), [{victim!r}])
"""
    assert subprocess.run([sys.executable, "-c", script], timeout=60).returncode == 17
    assert lake.verify() == []  # the manifest names complete files only, old or new
    replaced = step == "manifest-renamed"
    assert (victim in {r["client_id"] for r in read_lake(lake, "pings")}) is not replaced

    report = delete_clients(lake, [victim])  # run again, as docs/lake.md says

    assert report.days == ([] if replaced else [DAY])
    assert victim not in {r["client_id"] for r in read_lake(lake, "counters")}
    assert not any(os.path.exists(path) for path in old)  # leftovers removed
    listed = {f["path"] for d in lake.manifest()["days"].values() for f in d["files"]}
    assert _lake_files(lake) == listed


def test_a_deletion_of_thousands_of_clients_with_their_pings_on_one_day(sqlite_store, tmp_path):
    """What `admin restored` or a busy day of requests asks: 21,000 UUIDs to remove from
    one day (one regular expression of them all is too large for Arrow's engine)."""
    rng = __import__("random").Random(3)
    victims = [new_id() for _ in range(1000)]
    add_pings(sqlite_store, [ping_row(DAY, client_id=victim, rng=rng, seconds=rng.randrange(86400))
                             for victim in victims for _ in range(20)])
    other = add_pings(sqlite_store, [ping_row(DAY, ping_type="crash", crash_traceback=(
        f"KeyError: {victims[7].upper()}, {victims[8]} and {new_id()}"))])
    lake = Lake(tmp_path / "lake")
    seal(sqlite_store, lake, now=NOW)

    report = delete_clients(lake, victims)

    assert report.rows["pings"] == 20_000 and report.redacted == 1
    (left,) = read_lake(lake, "pings")
    assert left["document_id"] == other[0]["document_id"]
    assert left["crash_traceback"].startswith("KeyError: [deleted], [deleted] and ")
    assert lake.verify() == []


def test_a_lost_manifest_is_refused_not_taken_for_an_empty_lake(sqlite_store, tmp_path):
    """Without its manifest every file would look like a leftover of a crash: the next
    write would remove the whole lake (and the hot store no longer has those days)."""
    population(sqlite_store, [DAY], 10)
    lake = Lake(tmp_path / "lake")
    seal(sqlite_store, lake, now=NOW)
    files = _lake_files(lake)
    (tmp_path / "lake" / "manifest.json").rename(tmp_path / "manifest.json")
    for write in (lambda: seal(sqlite_store, lake, now=NOW),
                  lambda: delete_clients(lake, [new_id()]), lambda: lake.days()):
        with pytest.raises(LakeError, match="manifest.json is missing but the lake holds data"):
            write()
    assert _lake_files(lake) == files
    (tmp_path / "manifest.json").rename(tmp_path / "lake" / "manifest.json")
    assert lake.days() == [DAY] and lake.verify() == []


@pytest.mark.parametrize("manifest", ['{"format": 1}', '{"format": 1, "days": []}',
                                      '{"format": 1, "days": {"2026-11-30": {"files": [{}]}}}'])
def test_a_manifest_of_the_wrong_shape_is_one_clear_error(tmp_path, manifest):
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "manifest.json").write_text(manifest)
    with pytest.raises(LakeError, match="not a manifest of this lake"):
        Lake(tmp_path / "lake").days()


def test_a_ping_sent_again_after_its_day_left_the_hot_store_is_sealed_once(store, tmp_path):
    """A client that missed the 202 sends the same document again, days later: the hot
    store (a margin of days) no longer has it, the lake does."""
    first = add_pings(store, [ping_row(DAYS[0], seconds=600), ping_row(DAYS[0], ping_type="crash")])
    lake = Lake(tmp_path / "lake")
    seal(store, lake, now=NOW)
    prune(store, lake, now=NOW, margin_days=0)
    assert store_rows(store) == []
    again = [{**row, "day": DAY, "received_at": row["received_at"] + (DAY - DAYS[0])}
             for row in first]
    fresh = add_pings(store, [*again, ping_row(DAY)])
    seal(store, lake, now=NOW + timedelta(days=1))
    held = [r["document_id"] for r in read_lake(lake, "pings")]
    assert sorted(held) == sorted([r["document_id"] for r in first] + [fresh[-1]["document_id"]])


def test_a_damaged_file_of_a_sealed_day_stops_the_seal_instead_of_doubling_its_pings(
        sqlite_store, tmp_path):
    population(sqlite_store, [DAY], 30)
    lake = Lake(tmp_path / "lake")
    seal(sqlite_store, lake, now=NOW)
    (path,) = [f["path"] for f in lake.manifest()["days"][DAY.isoformat()]["files"]
               if f["table"] == "pings"]
    with open(tmp_path / "lake" / path, "r+b") as handle:  # one byte, inside a data page
        handle.seek(200)
        byte = handle.read(1)
        handle.seek(200)
        handle.write(bytes([byte[0] ^ 0xFF]))
    add_pings(sqlite_store, [ping_row(DAY)])  # a late ping: the seal reads the day's ids
    with pytest.raises(LakeError, match="sha256 differs from the manifest.*lake verify"):
        seal(sqlite_store, lake, now=NOW)
    assert len(lake.manifest()["days"][DAY.isoformat()]["files"]) == 3  # nothing added


def test_a_deletion_where_no_lake_is_makes_none(tmp_path):
    report = delete_clients(Lake(tmp_path / "typo"), [new_id()])
    assert report.days == [] and not (tmp_path / "typo").exists()


def test_a_lake_on_an_fsspec_filesystem_seals_aggregates_and_deletes(sqlite_store):
    """A filesystem pyarrow does not know (here fsspec's in-memory one, standing for
    abfs://, webdav://, ...): the lake is written, read by the engine and rewritten."""
    from sempervirens.aggregate.engine import compute

    victim = new_id()
    population(sqlite_store, [DAY], 30)
    add_pings(sqlite_store, [ping_row(DAY, client_id=victim)])
    lake = Lake(f"memory://lake-{new_id()}")
    seal(sqlite_store, lake, now=NOW)
    assert lake.days() == [DAY] and lake.verify() == []
    files = {table: lake.files(table) for table in TABLES}
    assert all(path.startswith("memory://") for path in files["pings"])
    installs = compute(files, "day", [DAY], [])["installs"]
    total = sum(n for project, _, key1, _, n in installs if key1 == "")
    usage = [r for r in store_rows(sqlite_store) if r["ping_type"] == "usage"]
    assert total == len({(r["project"], r["client_id"]) for r in usage})
    assert delete_clients(lake, [victim]).rows["pings"] == 1
    assert victim not in {r["client_id"] for r in read_lake(lake, "pings")}


def _readable_by_others(root: Path) -> list[str]:
    """Data files another local user could open: every directory on the way lets others in."""
    found = []
    for path in root.rglob("*.parquet"):
        relative = path.relative_to(root)
        way = [root / parent for parent in relative.parents]  # '.' is the root itself
        if all(directory.stat().st_mode & 0o005 == 0o005 for directory in way) \
                and path.stat().st_mode & 0o004:
            found.append(str(relative))
    return found


def test_a_lake_outside_the_data_directory_is_its_owners_alone(sqlite_store, tmp_path):
    """Under a umask of 022, a lake given outside the 0700 data directory was made 0755 with
    0644 files: every local user could read every installation id and ping in it."""
    add_pings(sqlite_store, [ping_row(DAY, client_id=new_id(), metrics=IN_EVERY_TABLE)])
    root = tmp_path / "elsewhere" / "lake"
    previous = os.umask(0o022)
    try:
        lake = Lake(root)
        seal(sqlite_store, lake, now=NOW)
        assert _lake_files(lake) and _readable_by_others(root) == []
        assert root.stat().st_mode & 0o077 == 0
        # a lake made so before (or copied back so): its next write closes it again
        for directory in (root, *(root / name for name in (*TABLES, "_tmp"))):
            os.chmod(directory, 0o755)
        assert _readable_by_others(root)
        delete_clients(lake, [new_id()])
        assert _readable_by_others(root) == []
    finally:
        os.umask(previous)


def test_the_lock_of_a_lake_off_the_local_disk_is_in_a_directory_of_its_own(
        sqlite_store, tmp_path, monkeypatch):
    """The lock of a lake on object storage was a file of a name anyone can compute
    straight in the shared temporary directory: another local user's link there was
    followed (a file made wherever it pointed), and their file stopped every write."""
    import hashlib
    import tempfile

    shared = tmp_path / "tmp"
    shared.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    location = f"memory://lake-{new_id()}"
    key = hashlib.sha256(location.encode()).hexdigest()[:16]
    planted = shared / f"sempervirens-lake-{key}.lock"
    elsewhere = tmp_path / "someone-elses-choice"
    planted.symlink_to(elsewhere)
    add_pings(sqlite_store, [ping_row(DAY)])
    seal(sqlite_store, Lake(location), now=NOW)
    assert Lake(location).days() == [DAY]
    assert not elsewhere.exists()
    own = shared / f"sempervirens-{os.getuid()}"
    assert own.is_dir() and own.stat().st_mode & 0o777 == 0o700
    os.chmod(own, 0o777)  # not this user's alone: refused in one line
    with pytest.raises(LakeError, match="not a directory of this user's alone"):
        delete_clients(Lake(location), [new_id()])
