"""The API answers what the public aggregate tables hold, in JSON and CSV, with caching."""

from __future__ import annotations

import csv
import hashlib
import io

import httpx
import pyarrow.parquet as pq
import pytest

from public_helpers import table_rows

pytestmark = pytest.mark.slow
PROJECT = "astroflux"
API = f"/api/v1/projects/{PROJECT}"


def get(published, path, **params) -> httpx.Response:
    return httpx.get(published.url + path, params=params, timeout=10)


@pytest.mark.parametrize("interval", ["day", "week", "month"])
@pytest.mark.parametrize("breakdown", ["", "version", "os", "arch", "python"])
def test_active_installs_equal_the_table(published, interval, breakdown):
    answer = get(published, API + "/active-installs", interval=interval, breakdown=breakdown).json()
    expected = table_rows(published.server, "public_active_installs", project=PROJECT,
                          interval=interval, breakdown=breakdown)
    assert answer["rows"], "the simulated population publishes something"
    assert sorted((r["period_start"], r["value"], r["installs"]) for r in answer["rows"]) == \
        sorted((r["period_start"], r["value"], r["installs"]) for r in expected)


@pytest.mark.parametrize("path, table, key", [
    ("features", "public_feature_usage", ("metric", "label", "events", "users")),
    ("timings", "public_timings", ("metric", "p50_us", "p90_us", "p99_us", "samples", "users")),
    ("crashes", "public_crashes", ("exception_type", "version", "crashes", "users")),
    ("opt-outs", "public_opt_outs", ("opt_outs", "active", "ratio")),
])
def test_other_queries_equal_their_tables(published, path, table, key):
    answer = get(published, f"{API}/{path}", interval="week").json()
    expected = table_rows(published.server, table, project=PROJECT, interval="week")
    shape = lambda rows: sorted((r["period_start"], *(r[c] for c in key)) for r in rows)  # noqa: E731
    assert shape(answer["rows"]) == shape(expected)


def test_csv_holds_the_same_rows_as_json(published):
    params = {"interval": "week", "breakdown": "os"}
    rows = get(published, API + "/active-installs", **params).json()["rows"]
    answer = get(published, API + "/active-installs", format="csv", **params)
    assert answer.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["period_start"], r["value"], int(r["installs"])) for r in parsed] == \
        [(r["period_start"], r["value"], r["installs"]) for r in rows]


def test_date_range_limits_the_periods(published):
    all_rows = get(published, API + "/active-installs").json()["rows"]
    days = sorted({r["period_start"] for r in all_rows})
    middle = days[len(days) // 3: 2 * len(days) // 3]
    rows = get(published, API + "/active-installs", **{"from": middle[0], "to": middle[-1]}).json()["rows"]
    assert sorted({r["period_start"] for r in rows}) == middle


def test_answers_carry_caching_headers_and_revalidate(published):
    first = get(published, "/api/v1/projects")
    assert "max-age=" in first.headers["cache-control"] and first.headers["etag"]
    again = httpx.get(published.url + "/api/v1/projects",
                      headers={"If-None-Match": first.headers["etag"]}, timeout=10)
    assert again.status_code == 304 and again.content == b""


def test_projects_list_headlines_from_weekly_rows(published):
    projects = get(published, "/api/v1/projects").json()["projects"]
    assert {p["project"] for p in projects} <= {"astroflux", "genomix", "climapy", "tensorlite"}
    mine = next(p for p in projects if p["project"] == PROJECT)
    week = table_rows(published.server, "public_active_installs", project=PROJECT,
                      interval="week", breakdown="", period_start=mine["week"])
    assert week[0]["installs"] == mine["weekly_installs"]


@pytest.mark.parametrize("path, params, status", [
    (API + "/active-installs", {"interval": "year"}, 400),
    (API + "/active-installs", {"breakdown": "hostname"}, 400),
    (API + "/active-installs", {"from": "yesterday"}, 400),
    ("/api/v1/projects/no-such-project/active-installs", {}, 404),
    ("/api/v1/projects/%2E%2E/active-installs", {}, 404),
])
def test_bad_queries_are_refused_with_json_errors(published, path, params, status):
    answer = get(published, path, **params)
    assert answer.status_code == status
    assert answer.json()["error"]["status"] == status


def test_pages_carry_security_headers(published):
    for path in ("/", f"/projects/{PROJECT}", "/privacy", "/datasets", "/api/v1/projects"):
        headers = get(published, path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_pages_have_no_inline_script_or_external_resource(published):
    for path in ("/", f"/projects/{PROJECT}", "/privacy", "/datasets"):
        html = get(published, path).text
        assert "<script>" not in html and " on" + "click=" not in html and "style=" not in html
        assert "http://" not in html.replace(published.url, "") and "https://" not in html


def test_openapi_documents_the_public_api(published):
    paths = get(published, "/openapi.json").json()["paths"]
    assert {"/api/v1/projects", API.replace(PROJECT, "{project}") + "/active-installs"} <= set(paths)


def test_privacy_page_shows_k(published):
    html = get(published, "/privacy").text
    assert f'data-testid="param-k">{published.k}<' in html
    assert "No IP" in html


def _releases(published) -> list[dict]:
    directory = published.server.data_dir / "releases"
    return [{"name": d.name, "path": d} for d in sorted(directory.iterdir()) if not d.name.startswith(".")]


def test_datasets_are_listed_downloadable_and_match_their_checksums(published):
    releases = _releases(published)
    assert releases, "some complete week was released"
    listing = get(published, "/datasets").text
    for release in releases:
        assert release["name"] in listing
        sums = get(published, f"/datasets/{release['name']}/SHA256SUMS").text
        for line in sums.splitlines():
            digest, name = line.split("  ")
            body = get(published, f"/datasets/{release['name']}/{name}").content
            assert hashlib.sha256(body).hexdigest() == digest


def test_csv_and_parquet_round_trip_the_table(published, tmp_path):
    release = _releases(published)[0]["name"]
    interval, _, start = release.partition("-")
    for table in ("public_active_installs", "public_feature_usage", "public_crashes"):
        expected = table_rows(published.server, table, interval=interval, period_start=start)
        csv_rows = list(csv.DictReader(io.StringIO(
            get(published, f"/datasets/{release}/{table}.csv").text)))
        path = tmp_path / f"{table}.parquet"
        path.write_bytes(get(published, f"/datasets/{release}/{table}.parquet").content)
        parquet_rows = [r for r in pq.read_table(path).to_pylist() if r["interval"] == interval]
        csv_rows = [r for r in csv_rows if r["interval"] == interval]
        columns = list(csv_rows[0]) if csv_rows else []
        as_text = lambda rows: sorted(tuple(str(r[c]) for c in columns) for r in rows)  # noqa: E731
        assert as_text(csv_rows) == as_text(parquet_rows) == as_text(expected)
        if table == "public_active_installs":
            assert expected, "a released week has active installations"


@pytest.mark.parametrize("path", [
    "/datasets/..%2F..%2Ftelemetry.db/x",
    "/datasets/week-2026-01-05/..%2F..%2Ftelemetry.db",
    "/datasets/../private.db",
    "/datasets/week-2026-01-05/%2e%2e%2fprivate.db",
    "/static/..%2F..%2F..%2Fsettings.py",
])
def test_no_path_reaches_files_outside_the_releases(published, path):
    answer = httpx.get(published.url + path, timeout=10)
    assert answer.status_code == 404
    assert b"SQLite format" not in answer.content
