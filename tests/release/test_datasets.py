"""Each release writes immutable dataset files: CSV, Parquet, a README, a manifest."""

from __future__ import annotations

import csv
import hashlib
import json

import pyarrow.parquet as pq
import pytest
from release_helpers import LATER, MONDAY, day_exact
from sqlalchemy import func, select

from sempervirens.release import (DatasetExists, PublishedUnrecorded, public_releases,
                                  release_period, write_release)


def test_a_release_writes_its_files_once(engine, domains, settings, tmp_path):
    out = tmp_path / "releases"
    released = release_period(engine, domains, "day", MONDAY, day_exact(MONDAY), settings,
                              now=LATER, datasets_dir=out)
    numpy = released[0]
    directory = out / "numpy" / "day-2026-11-02-v1"
    assert sorted(p.name for p in directory.iterdir()) == [
        "README.md", "manifest.json", "statistics.csv", "statistics.parquet"]
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["epsilon"] == numpy.epsilon and 0.49 < manifest["epsilon"] <= 0.5
    assert manifest["release_id"] == numpy.release_id and manifest["version"] == 1
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == digest
    with (directory / "statistics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(numpy.rows) and "noisy" not in rows[0]
    assert {"noise_sd", "low", "high"} <= set(rows[0])
    withheld = [r for r in rows if r["value"] == ""]
    assert withheld and all(r["low"] == "0" for r in withheld)
    table = pq.read_table(directory / "statistics.parquet")
    assert table.num_rows == len(rows) and "noisy" not in table.column_names
    readme = (directory / "README.md").read_text()
    assert "epsilon = 0.5" in readme and "95% interval" in readme
    with pytest.raises(DatasetExists, match="never rewritten"):
        write_release(out, numpy, settings["k_anonymity"])
    # a correction is a new directory beside the first
    release_period(engine, domains, "day", MONDAY, day_exact(MONDAY), settings, now=LATER,
                   correction=True, datasets_dir=out)
    assert (out / "numpy" / "day-2026-11-02-v2" / "manifest.json").exists()
    assert json.loads((directory / "manifest.json").read_text()) == manifest


def test_a_period_published_that_the_ledger_no_longer_records_is_not_released_again(
        engine, domains, settings, tmp_path):
    """A store put back to an older state (a database snapshot, a copied file) lacks the
    releases made since; their datasets are published. The next release of such a period
    committed a second version 1 with independent noise, served beside the first (their
    mean halves the noise's variance), spending budget the ledger did not show, and only
    then failed on its dataset directory."""
    out = tmp_path / "releases"
    database = tmp_path / "telemetry.db"
    before = database.read_bytes()  # the store as a snapshot holds it, before the release
    release_period(engine, domains, "day", MONDAY, day_exact(MONDAY), settings, now=LATER,
                   datasets_dir=out)
    published = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    engine.dispose()
    database.write_bytes(before)
    with pytest.raises(PublishedUnrecorded, match="numpy: day 2026-11-02 version 1 was published"):
        release_period(engine, domains, "day", MONDAY, day_exact(MONDAY), settings, now=LATER,
                       datasets_dir=out)
    with engine.connect() as connection:  # nothing released, nothing written
        assert connection.execute(select(func.count()).select_from(public_releases)).scalar() == 0
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == published
