"""The API answers what the releases hold, in JSON and CSV, with caching."""

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


def _released(published, statistic, interval, key1=None) -> list[dict]:
    where = {"project": PROJECT, "interval": interval, "statistic": statistic}
    if key1 is not None:
        where["key1"] = key1
    return table_rows(published.server, "public_statistics", **where)


@pytest.mark.parametrize("interval", ["day", "week", "month"])
@pytest.mark.parametrize("breakdown", ["", "version", "os", "arch", "python"])
def test_active_installs_equal_the_releases(published, interval, breakdown):
    answer = get(published, API + "/active-installs", interval=interval, breakdown=breakdown).json()
    expected = _released(published, "installs", interval, breakdown)
    if interval != "month":  # 22 days of history: no whole month since registration
        assert answer["rows"], "the simulated population's closed periods are released"
    assert sorted((r["period_start"], r["value"], r["installs"], r["installs_sd"],
                   r["installs_low"], r["installs_high"]) for r in answer["rows"]) == \
        sorted((r["period_start"], r["key2"], r["value"], r["noise_sd"], r["low"], r["high"])
               for r in expected)


@pytest.mark.parametrize("path, statistics, columns", [
    ("features", ("feature_users", "feature_events"), ("users", "events")),
    ("crashes", ("crash_users", "crash_events"), ("users", "crashes")),
])
def test_other_queries_equal_the_releases(published, path, statistics, columns):
    answer = get(published, f"{API}/{path}", interval="week").json()
    for statistic, column in zip(statistics, columns):
        expected = _released(published, statistic, "week")
        assert expected, f"{statistic} was released"
        shown = sorted((r["period_start"], *(r[c] for c in answer["columns"][1:3]), r[column],
                        r[f"{column}_low"], r[f"{column}_high"]) for r in answer["rows"])
        assert shown == sorted((r["period_start"], r["key1"], r["key2"], r["value"], r["low"],
                                r["high"]) for r in expected)


def test_timings_are_the_released_percentiles(published):
    answer = get(published, f"{API}/timings", interval="week").json()
    expected = _released(published, "timing_percentile", "week")
    assert answer["rows"] and expected
    for row in answer["rows"]:
        for r in (e for e in expected if e["key1"] == row["metric"]
                  and e["period_start"] == row["period_start"]):
            if r["value"] is not None:  # the bucket [2^i, 2^(i+1)) us, shown at its middle
                assert 2 ** r["value"] <= row[f"{r['key2']}_us"] < 2 ** (r["value"] + 1)


def test_csv_holds_the_same_rows_as_json(published):
    params = {"interval": "week", "breakdown": "os"}
    rows = get(published, API + "/active-installs", **params).json()["rows"]
    answer = get(published, API + "/active-installs", format="csv", **params)
    assert answer.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(answer.text)))
    number = lambda text: int(text) if text else None  # noqa: E731
    assert [(r["period_start"], r["value"], number(r["installs"])) for r in parsed] == \
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


@pytest.mark.parametrize("path", ["/api/v1/projects", API + "/features?format=csv", "/privacy"])
def test_a_weak_or_any_etag_revalidates(published, path):
    """A proxy that compresses an answer sends its ETag on as W/"..."; its clients revalidated
    with that and always got the whole answer again (RFC 9110 compares weakly here)."""
    etag = httpx.get(published.url + path, timeout=10).headers["etag"]
    for sent in (f"W/{etag}", "*", f'"other", W/{etag}'):
        again = httpx.get(published.url + path, headers={"If-None-Match": sent}, timeout=10)
        assert again.status_code == 304 and again.content == b"", sent
    for sent in ('"other"', "garbage", f"W/{etag[:-2]}\"", ""):
        assert httpx.get(published.url + path, headers={"If-None-Match": sent},
                         timeout=10).status_code == 200, sent


def test_projects_list_headlines_from_the_released_weeks(published):
    projects = get(published, "/api/v1/projects").json()["projects"]
    assert {p["project"] for p in projects} <= {"astroflux", "genomix", "climapy", "tensorlite"}
    mine = next(p for p in projects if p["project"] == PROJECT)
    week = get(published, API + "/active-installs", interval="week").json()["rows"]
    latest = max(week, key=lambda r: r["period_start"])
    assert mine["week"]["period_start"] == latest["period_start"]
    assert mine["week"]["installs"]["installs"] == latest["installs"]


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


def test_privacy_page_shows_the_parameters_and_the_guarantee(published):
    html = get(published, "/privacy").text
    assert f'data-testid="param-k">{published.k}<' in html
    assert 'data-testid="param-epsilon_day">0.5<' in html
    assert 'data-testid="guarantee"' in html
    assert "No IP" in html


def _releases(published) -> list[str]:
    directory = published.server.data_dir / "releases"
    return sorted(str(d.relative_to(directory)) for d in directory.glob("*/*-v*") if d.is_dir())


def test_datasets_are_listed_downloadable_and_match_their_manifests(published):
    releases = _releases(published)
    assert any("/week-" in r for r in releases), "some complete week was released"
    listing = get(published, "/datasets").text
    for release in releases[:5]:
        assert f"/datasets/{release}/statistics.csv" in listing
        manifest = get(published, f"/datasets/{release}/manifest.json").json()
        for name, digest in manifest["files"].items():
            body = get(published, f"/datasets/{release}/{name}").content
            assert hashlib.sha256(body).hexdigest() == digest


def test_csv_and_parquet_round_trip_the_releases(published, tmp_path):
    release = next(r for r in _releases(published) if "/week-" in r)
    csv_rows = list(csv.DictReader(io.StringIO(
        get(published, f"/datasets/{release}/statistics.csv").text)))
    path = tmp_path / "statistics.parquet"
    path.write_bytes(get(published, f"/datasets/{release}/statistics.parquet").content)
    parquet_rows = pq.read_table(path).to_pylist()
    start = release.split("/week-")[1][:10]
    expected = table_rows(published.server, "public_statistics", project=PROJECT,
                          interval="week", period_start=start)
    key = lambda r: (r["statistic"], r["key1"], r["key2"], str(r["value"] or ""))  # noqa: E731
    assert sorted(map(key, csv_rows)) == sorted(map(key, parquet_rows)) == sorted(map(key, expected))
    assert "noisy" not in csv_rows[0]  # the value below k stays unpublished


@pytest.mark.parametrize("path", [
    "/datasets/..%2F..%2Ftelemetry.db/x/y",
    "/datasets/astroflux/week-2026-01-05-v1/..%2F..%2F..%2Ftelemetry.db",
    "/datasets/../private.db",
    "/datasets/astroflux/week-2026-01-05-v1/%2e%2e%2fprivate.db",
    "/static/..%2F..%2F..%2Fsettings.py",
])
def test_no_path_reaches_files_outside_the_releases(published, path):
    answer = httpx.get(published.url + path, timeout=10)
    assert answer.status_code == 404
    assert b"SQLite format" not in answer.content
