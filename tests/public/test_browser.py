"""The pages in a real browser: Debian's chromium driven by Playwright (no browser download).

Opens / and a project page, changes the query, and checks that the charts' tables
show the numbers of the API (which test_api.py ties to the public tables); no
console error; screenshots go to test-artifacts/.
"""

from __future__ import annotations

import shutil

import httpx
import pytest

from sempervirens.model.statistics import PERCENTILES

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PROJECT = "astroflux"


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900}, timezone_id="UTC")
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: m.type in ("error", "warning") and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    yield page
    context.close()


def _table(page, testid: str) -> dict[str, dict[str, str]]:
    """period -> {series: cell text} of a chart's number table."""
    return page.evaluate("""(testid) => {
        const table = document.querySelector(`[data-testid="${testid}"]`);
        const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent).slice(1);
        const out = {};
        for (const tr of table.querySelectorAll("tbody tr")) {
            const cells = [...tr.querySelectorAll("td")].map((td) => td.textContent);
            out[cells[0]] = Object.fromEntries(names.map((n, i) => [n, cells[i + 1]]));
        }
        return out;
    }""", testid)


def _shown(number) -> str:
    return "–" if number is None else f"{number:,}"


def test_front_page_shows_each_projects_monthly_and_weekly_installs(published, page, artifacts):
    projects = httpx.get(published.url + "/api/v1/projects", timeout=10).json()["projects"]
    page.goto(published.url + "/")
    page.wait_for_selector(".spark canvas")
    for p in projects:
        for interval in ("week", "month"):
            shown = page.text_content(f'[data-testid="{interval}ly-{p["project"]}"]')
            released = p[interval]["installs"]
            assert shown == _shown(released["installs"] if released else None)
    # Each sparkline is drawn inside its card (it used to run past the card's right edge).
    overflow = page.evaluate("""() => [...document.querySelectorAll('.spark')].map((spark) => {
        const canvas = spark.querySelector('canvas').getBoundingClientRect();
        const card = spark.closest('.card').getBoundingClientRect();
        return canvas.right - (card.right - parseFloat(getComputedStyle(spark.closest('.card')).paddingRight));
    })""")
    assert overflow and max(overflow) <= 0.5, overflow
    page.screenshot(path=artifacts / "public-index.png", full_page=True)
    assert page.problems == []


def test_project_page_redraws_for_a_new_query(published, page, artifacts):
    page.goto(f"{published.url}/projects/{PROJECT}")
    page.wait_for_selector('[data-testid="main-table"] tbody tr', state="attached")
    daily = httpx.get(f"{published.url}/api/v1/projects/{PROJECT}/active-installs",
                      params={"interval": "day"}, timeout=10).json()["rows"]
    table = _table(page, "main-table")
    assert {p: v["installations"] for p, v in table.items()} == \
        {r["period_start"]: _shown(r["installs"]) for r in daily}

    # A new query: weekly, by operating system; the URL holds it, the chart redraws.
    page.select_option('select[name="interval"]', "week")
    page.select_option('select[name="breakdown"]', "os")
    page.wait_for_function("() => document.querySelector('#main-title').textContent.includes('operating system')")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=main-table] tbody tr').length < 10")
    assert "interval=week" in page.url and "breakdown=os" in page.url
    weekly = httpx.get(f"{published.url}/api/v1/projects/{PROJECT}/active-installs",
                       params={"interval": "week", "breakdown": "os"}, timeout=10).json()["rows"]
    shown = {(p, name): v for p, row in _table(page, "main-table").items()
             for name, v in row.items() if name != "95% interval" and v != "–"}
    assert shown == {(r["period_start"], r["value"]): _shown(r["installs"]) for r in weekly
                     if r["installs"] is not None}
    assert page.locator("#main-chart canvas").count() == 1
    # The glance's bars carry their 95% intervals too.
    page.wait_for_selector(".bars[data-breakdown=os] .bar .band", state="attached")
    assert page.locator(".bars[data-breakdown=os] .bar .band").count() == \
        page.locator(".bars[data-breakdown=os] .bar").count() > 0
    page.screenshot(path=artifacts / "public-project-weekly-os.png", full_page=True)

    # The shared URL opens the same view.
    page.goto(page.url)
    page.wait_for_selector('[data-testid="main-table"] tbody tr', state="attached")
    assert page.input_value('select[name="breakdown"]') == "os"
    assert {p for p in _table(page, "main-table")} == {r["period_start"] for r in weekly}
    assert page.problems == []


PAGES = {  # every page of the site, and what shows it has drawn
    "index": ("/", ".spark canvas"),
    "project": (f"/projects/{PROJECT}", "#main-chart canvas"),
    "project-features": (f"/projects/{PROJECT}?metric=features&interval=week", "#main-ranking .rank"),
    "project-os": (f"/projects/{PROJECT}?breakdown=os&interval=week", "#main-chart canvas"),
    "catalogue": (f"/projects/{PROJECT}/catalogue", "#metrics"),
    "ecosystem": ("/ecosystem", "[data-breakdown=python] .bar"),
    "privacy": ("/privacy", "#in-numbers"),
    "datasets": ("/datasets", "[data-testid=kind-week]"),
    "not-found": ("/no-such-page", "h1"),
}


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_fits_a_phone(published, browser, artifacts, name):
    """At 390 px the page itself never scrolls sideways, and no long table is open."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  device_scale_factor=2, timezone_id="UTC")
    page = context.new_page()
    path, drawn = PAGES[name]
    page.goto(published.url + path)
    page.wait_for_selector(drawn)
    page.wait_for_load_state("networkidle")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"{path}: the page scrolls sideways ({width} px)"
    longest = page.evaluate("""() => Math.max(0, ...[...document.querySelectorAll('table')].map(
        (t) => [...t.querySelectorAll('tbody tr')].filter((r) => r.checkVisibility()).length))""")
    assert longest < 30, f"{path} opens a table of {longest} rows"
    page.screenshot(path=artifacts / f"public-phone-{name}.png", full_page=True)
    context.close()


def test_query_form_offers_only_what_fits_the_metric(published, page):
    page.goto(f"{published.url}/projects/{PROJECT}?breakdown=os")
    page.wait_for_selector("#main-chart canvas")
    assert page.is_visible('select[name="breakdown"]')
    page.select_option('select[name="metric"]', "timings")
    page.wait_for_function("() => location.search.includes('metric=timings')")
    assert not page.is_visible('select[name="breakdown"]')
    assert page.is_visible('label[data-for="timings"] select')
    assert not page.is_visible('label[data-for="features"] select')
    assert "breakdown" not in page.url, "an irrelevant choice is dropped from the URL"
    # A reversed range is refused with a message, and the URL keeps the last good query.
    page.fill('input[name="from"]', "2026-03-10")
    page.wait_for_function("() => location.search.includes('from=2026-03-10')")
    before = page.url
    page.fill('input[name="to"]', "2026-03-01")
    page.click("button[type=submit]")
    page.wait_for_selector("#form-error:not([hidden])")
    assert "reversed" in page.text_content("#form-error")
    assert page.url == before
    assert page.problems == []


def test_timings_show_the_catalogues_percentiles(published, page):
    page.goto(f"{published.url}/projects/{PROJECT}?metric=timings&interval=week")
    page.wait_for_selector('table[data-testid="main-table"] tbody tr', state="attached")
    columns = page.eval_on_selector_all('table[data-testid="main-table"] thead th',
                                        "(hs) => hs.map((h) => h.textContent)")
    assert [c for c in columns if c not in ("period", "95% interval")] == [f"p{p}" for p in PERCENTILES]
    assert page.problems == []


def test_features_are_ranked_by_share_of_installations(published, page, artifacts):
    page.goto(f"{published.url}/projects/{PROJECT}?metric=features&interval=week")
    page.wait_for_selector("#main-ranking .rank")
    rows = httpx.get(f"{published.url}/api/v1/projects/{PROJECT}/features",
                     params={"interval": "week"}, timeout=10).json()["rows"]
    latest = max(r["period_start"] for r in rows)
    names = {r["metric"] + (f" [{r['label']}]" if r["label"] else "") for r in rows
             if r["period_start"] == latest}
    shown = page.eval_on_selector_all("#main-ranking .rank", "(rs) => rs.map((r) => r.dataset.feature)")
    assert set(shown) == names
    users = {r["metric"] + (f" [{r['label']}]" if r["label"] else ""): r["users"] for r in rows
             if r["period_start"] == latest}
    ranked = [users[n] if users[n] is not None else -1 for n in shown]
    assert ranked == sorted(ranked, reverse=True)
    assert page.locator("#main-chart canvas").count() == 0, "no overlapping lines"
    page.screenshot(path=artifacts / "public-project-features.png", full_page=True)
    assert page.problems == []


def test_a_single_period_is_shown_as_its_value(published, page):
    weeks = httpx.get(f"{published.url}/api/v1/projects/{PROJECT}/active-installs",
                      params={"interval": "week"}, timeout=10).json()["rows"]
    week = weeks[-1]
    page.goto(f"{published.url}/projects/{PROJECT}?interval=week&from={week['period_start']}"
              f"&to={week['period_start']}")
    page.wait_for_selector('#main-chart [data-testid="single-value"]')
    text = page.text_content('#main-chart [data-testid="single-value"]')
    assert _shown(week["installs"]) in text and "95%" in text
    assert page.locator("#main-chart canvas").count() == 0


def test_ecosystem_page_shows_shares_with_intervals(published, page, artifacts):
    page.goto(published.url + "/ecosystem")
    page.wait_for_selector("[data-breakdown=arch] .bar")
    rows = httpx.get(published.url + "/api/v1/ecosystem", params={"interval": "week",
                     "breakdown": "python"}, timeout=10).json()["rows"]
    latest = max(r["period_start"] for r in rows)
    shown = page.eval_on_selector_all("[data-breakdown=python] .bar", "(bs) => bs.map((b) => b.dataset.value)")
    assert set(shown) == {r["value"] for r in rows if r["period_start"] == latest}
    assert page.locator("[data-breakdown=python] .bar .band").count() == len(shown)
    page.screenshot(path=artifacts / "public-ecosystem.png", full_page=True)
    assert page.problems == []


def test_privacy_and_datasets_pages(published, page, artifacts):
    page.goto(published.url + "/privacy")
    assert page.text_content('[data-testid="param-k"]') == str(published.k)
    page.screenshot(path=artifacts / "public-privacy.png", full_page=True)
    page.goto(published.url + "/datasets")
    assert page.locator("a[href$='.parquet']").count() > 0
    page.screenshot(path=artifacts / "public-datasets.png", full_page=True)
    assert page.problems == []
