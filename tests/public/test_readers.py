"""What a reader of the public site meets without a browser: the ecosystem view, complete
periods only, the form's refusals, datasets by period, the privacy numbers, HTML 404s."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from public_helpers import table_rows
from sempervirens.model.domains import SHARED_BREAKDOWN_NAMES
from sempervirens.model.periods import period_end

pytestmark = pytest.mark.slow
PROJECT = "astroflux"


def get(published, path, **params) -> httpx.Response:
    return httpx.get(published.url + path, params=params, timeout=10)


@pytest.mark.parametrize("breakdown", SHARED_BREAKDOWN_NAMES)
def test_ecosystem_sums_every_projects_released_numbers(published, breakdown):
    answer = get(published, "/api/v1/ecosystem", interval="week", breakdown=breakdown).json()
    released = table_rows(published.server, "public_statistics", interval="week",
                          statistic="installs", key1=breakdown)
    assert answer["rows"], "the closed weeks are released"
    expected: dict[tuple, list] = {}
    for r in released:
        expected.setdefault((str(r["period_start"]), r["key2"]), []).append(r)
    assert {(r["period_start"], r["value"]) for r in answer["rows"]} == set(expected)
    for row in answer["rows"]:
        mine = expected[row["period_start"], row["value"]]
        assert row["projects"] == len(mine) == len({r["project"] for r in mine})
        assert row["installs"] == max(sum(r["value"] or 0 for r in mine), 0)
        # The interval covers every project's own: it is never narrower than their sum's.
        assert row["installs_low"] <= row["installs"] <= row["installs_high"]
        assert row["installs_high"] >= sum(r["high"] for r in mine if r["value"] is None)
        assert row["share_low"] <= row["share"] <= row["share_high"]
    for period in {r["period_start"] for r in answer["rows"]}:
        shares = [r["share"] for r in answer["rows"] if r["period_start"] == period]
        assert sum(shares) == pytest.approx(1, abs=0.01)


@pytest.mark.parametrize("params, field", [
    ({"breakdown": "version"}, "breakdown"),  # each project has its own versions
    ({"interval": "year"}, "interval"),
    ({"from": "2026-02-01", "to": "2026-01-01"}, "from"),
    ({"from": "yesterday"}, "from"),
])
def test_ecosystem_refuses_bad_parameters_with_one_line(published, params, field):
    answer = get(published, "/api/v1/ecosystem", **params)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["field"] == field and "\n" not in error["message"]


def test_ecosystem_page_says_whom_it_describes(published):
    html = get(published, "/ecosystem").text
    projects = [p["project"] for p in get(published, "/api/v1/projects").json()["projects"]]
    assert "Whom this describes" in html and "did not opt out" in html and "counts twice" in html
    assert all(p in html for p in projects)
    assert all(f'data-breakdown="{b}"' in html for b in SHARED_BREAKDOWN_NAMES)


def test_headline_compares_complete_periods_like_with_like(published):
    today = date.today()
    for row in get(published, "/api/v1/projects").json()["projects"]:
        for interval, step in (("week", 7), ("month", None)):
            part = row[interval]
            if part["period_start"] is None:
                continue
            start = date.fromisoformat(part["period_start"])
            assert period_end(interval, start) <= today, f"{interval} of {start} is not over"
            if part["previous"] is not None:
                before = date.fromisoformat(part["previous"]["period_start"])
                assert period_end(interval, before) == start
                if step:
                    assert (start - before).days == step
        days = [date.fromisoformat(r["period_start"]) for r in row["daily"]]
        assert days and max(days) < today


def test_project_page_refuses_a_reversed_range_and_offers_ranges(published):
    html = get(published, f"/projects/{PROJECT}", **{"from": "2026-03-10", "to": "2026-03-01"}).text
    assert "The range is reversed" in html
    html = get(published, f"/projects/{PROJECT}", metric="timings").text
    # Only the choices that mean something for a timing are offered.
    assert '<label data-for="installs" hidden>' in html
    assert '<label data-for="features" hidden>' in html
    assert '<label data-for="timings">' in html
    released = max(date.fromisoformat(str(r["period_start"])) for r in table_rows(
        published.server, "public_releases", interval="day"))
    start = (released - timedelta(days=29)).isoformat()
    assert f"metric=timings&amp;interval=day&amp;from={start}" in html


def test_datasets_page_lists_periods_with_a_latest_link_per_kind(published):
    html = get(published, "/datasets").text
    releases = table_rows(published.server, "public_releases", project=PROJECT)
    for interval in ("day", "week"):
        newest = max(str(r["period_start"]) for r in releases if r["interval"] == interval)
        assert f'data-testid="period-{interval}-{newest}"' in html
        latest = httpx.get(f"{published.url}/datasets/latest/{PROJECT}/{interval}/statistics.csv",
                           follow_redirects=True, timeout=10)
        assert latest.status_code == 200 and latest.text.startswith("project,interval,")
        assert f"/{interval}-{newest}-v" in str(latest.url)
    assert "sha256" not in html.lower().replace("sha-256", "")  # hashes are one link away
    assert get(published, f"/datasets/latest/{PROJECT}/year/statistics.csv").status_code == 404


def test_privacy_page_states_the_numbers(published):
    html = get(published, "/privacy").text
    assert 'data-testid="retention">30 days<' in html
    assert "Deletion" in html
    # A year's guarantee for one project, and for an installation in every project
    # (one installation id serves all the projects of a machine)
    budget = get(published, "/api/v1/privacy/budget").json()
    assert budget["projects"] > 1
    assert f'data-testid="year-epsilon">{budget["per_project"]["year"][0]:.3g}<' in html
    assert f'data-testid="year-epsilon-all">{budget["configured"]["year"][0]:.3g}<' in html
    assert "max features" in html  # a contribution bound, in words


@pytest.mark.parametrize("path", ["/no-such-page", "/projects/no-such-project",
                                  "/projects/astroflux/no-such-page"])
def test_unknown_site_paths_get_an_html_page(published, path):
    answer = get(published, path)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in answer.text


@pytest.mark.parametrize("path", ["/api/v1/no-such-route",
                                  "/datasets/astroflux/week-2026-01-05-v1/x.csv"])
def test_unknown_api_and_download_paths_keep_json(published, path):
    answer = get(published, path)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
