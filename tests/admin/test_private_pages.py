"""The private pages over real HTTP: sign-in, session cookie, CSRF, 401/403/429, no-store,
audit of every read with its purpose; and a maintainer signing in with a real browser."""

from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path

import httpx
import pytest

from _services.server import start_server
from admin_helpers import (
    audit_rows,
    make_token,
    seed_private_aggregates,
    seed_small_institutions,
    stores_of,
)
from sempervirens.admin import tokens

_addresses = (f"203.0.113.{i}" for i in itertools.count(1))
IP = re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PROJECT_PAGE = "/private/projects/scikit-learn"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # Proxies are trusted so that each test speaks from an address of its own (the
    # failure slowdown of one test must not reach another).
    running = start_server(tmp_path_factory.mktemp("private-pages") / "data",
                           extra_args=("--trusted-proxies", "127.0.0.1"))
    seed_private_aggregates(running, "scikit-learn")
    seed_private_aggregates(running, "numpy")
    seed_small_institutions(running, "scikit-learn")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def maintainer_token(server):
    return make_token(server, "maintainer", "Scikit_Learn", holder="alice@scikit-learn.example")


@pytest.fixture(scope="module")
def admin_token(server):
    return make_token(server, "admin", holder="operator-ops")


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=10,
                      headers={"X-Forwarded-For": next(_addresses)}) as c:
        yield c


def _csrf(reply: httpx.Response) -> str:
    return CSRF.search(reply.text).group(1)


def sign_in(client: httpx.Client, token: str, **extra: str) -> httpx.Response:
    client.cookies.clear()  # signed out: /private shows the sign-in form
    form = client.get("/private")
    assert form.status_code == 200
    return client.post("/private", data={"token": token, "csrf": _csrf(form), **extra})


def _no_store(reply: httpx.Response) -> None:
    assert reply.headers["cache-control"] == "no-store", reply.request.url
    assert "script-src 'self'" in reply.headers["content-security-policy"]


def test_sign_in_sets_a_strict_httponly_session_cookie_that_is_not_the_token(server, client,
                                                                               maintainer_token):
    landing = client.get("/private")
    _no_store(landing)
    assert 'type="password"' in landing.text and "svt_" not in landing.text.replace("<code>svt_</code>", "")
    signin_cookie = landing.headers["set-cookie"].lower()
    assert "httponly" in signin_cookie and "samesite=strict" in signin_cookie
    assert "secure" not in signin_cookie  # plain HTTP: a Secure cookie would be dropped

    reply = client.post("/private", data={"token": maintainer_token, "csrf": _csrf(landing)})
    assert reply.status_code == 303 and reply.headers["location"] == PROJECT_PAGE
    _no_store(reply)
    session = next(v for v in reply.headers.get_list("set-cookie") if v.startswith("sv_session="))
    assert "httponly" in session.lower() and "samesite=strict" in session.lower()
    value = session.split(";", 1)[0].split("=", 1)[1]
    secret = maintainer_token.split("_", 2)[2]
    assert secret not in value and maintainer_token not in value
    assert tokens.hash_token(maintainer_token) not in value  # what the database holds is no key either

    page = client.get(PROJECT_PAGE)
    assert page.status_code == 200 and "alice@scikit-learn.example" in page.text
    _no_store(page)


def test_a_maintainer_sees_institutions_only_after_choosing_a_purpose_and_the_read_is_audited(
        server, client, maintainer_token):
    sign_in(client, maintainer_token)
    before = len(audit_rows(server))
    page = client.get(PROJECT_PAGE)
    assert 'data-testid="choose-purpose"' in page.text and "Stanford" not in page.text
    assert len(audit_rows(server)) == before  # nothing read, nothing to audit

    page = client.get("/private/projects/SCIKIT_learn",
                      params={"interval": "month", "purpose": "funding-report", "note": "NSF renewal"})
    assert page.status_code == 200
    _no_store(page)
    assert "Stanford University" in page.text and "example-corp.com" in page.text
    assert ">12<" in page.text  # academic count in the summary
    assert not IP.search(page.text) and not UUID.search(page.text)
    newest = audit_rows(server)[0]
    assert len(audit_rows(server)) == before + 1
    assert (newest["holder"], newest["role"], newest["action"], newest["project"], newest["category"],
            newest["purpose"]) == ("alice@scikit-learn.example", "maintainer", "institutions", "scikit-learn",
                                   "funding-report", "funding-report: NSF renewal")


def test_institutions_below_the_threshold_are_not_shown(server, client, maintainer_token):
    sign_in(client, maintainer_token)
    page = client.get("/private/projects/scikit-learn",
                      params={"interval": "week", "purpose": "research"})
    assert page.status_code == 200 and "Small College" in page.text
    assert "smith-consulting.com" not in page.text and "four-people" not in page.text
    assert 'data-testid="min-users"' in page.text


def test_a_maintainer_gets_403_for_another_project_and_the_admin_pages(server, client, maintainer_token):
    sign_in(client, maintainer_token)
    before = len(audit_rows(server))
    for path in ("/private/projects/numpy", "/private/anomalies", "/private/audit"):
        reply = client.get(path, params={"purpose": "research"})
        assert reply.status_code == 403, path
        _no_store(reply)
        assert "Stanford" not in reply.text and "198.51.100.200" not in reply.text
    assert len(audit_rows(server)) == before


def test_without_a_valid_session_every_private_page_is_401_with_the_sign_in_form(server, client,
                                                                                  maintainer_token):
    for path in (PROJECT_PAGE, "/private/anomalies", "/private/audit"):
        reply = client.get(path, params={"purpose": "research"})
        assert reply.status_code == 401 and 'type="password"' in reply.text, path
        _no_store(reply)
        assert "Stanford" not in reply.text
    # A tampered cookie (another token id, same signature) is refused too.
    sign_in(client, maintainer_token)
    value = client.cookies["sv_session"]
    client.cookies.set("sv_session", "0" * 12 + value[12:], domain=httpx.URL(server.url).host)
    reply = client.get(PROJECT_PAGE, params={"purpose": "research"})
    assert reply.status_code == 401 and "Stanford" not in reply.text


def test_a_revoked_token_ends_its_sessions(server, client):
    token = make_token(server, "maintainer", "scikit-learn", holder="bob")
    sign_in(client, token)
    assert client.get(PROJECT_PAGE).status_code == 200
    stores = stores_of(server)
    try:
        with stores.private.begin() as connection:
            assert tokens.revoke(connection, token)
    finally:
        stores.dispose()
    assert client.get(PROJECT_PAGE).status_code == 401


def test_csrf_sign_in_and_sign_out_need_the_form_token(server, client, maintainer_token):
    # No form token, a wrong one, or one without its cookie (a cross-site post): no session.
    landing = client.get("/private")
    for data, cookies in (({"token": maintainer_token}, True),
                          ({"token": maintainer_token, "csrf": "x" * 64}, True),
                          ({"token": maintainer_token, "csrf": _csrf(landing)}, False)):
        with httpx.Client(base_url=server.url, timeout=10, cookies=client.cookies if cookies else None,
                          headers=client.headers) as other:
            reply = other.post("/private", data=data)
            assert reply.status_code == 403, data
            assert "sv_session" not in reply.headers.get("set-cookie", "")
    # A JSON body is not a form.
    reply = client.post("/private", json={"token": maintainer_token, "csrf": _csrf(landing)})
    assert reply.status_code == 403

    page = client.get(PROJECT_PAGE) if sign_in(client, maintainer_token).status_code == 303 else None
    assert page.status_code == 200
    assert client.post("/private/sign-out", data={}).status_code == 403
    assert client.get(PROJECT_PAGE).status_code == 200  # still signed in
    reply = client.post("/private/sign-out", data={"csrf": _csrf(page)})
    assert reply.status_code == 303
    assert 'sv_session=""' in reply.headers["set-cookie"] or "max-age=0" in reply.headers["set-cookie"].lower()
    assert client.get(PROJECT_PAGE).status_code == 401


def test_repeated_failures_from_one_address_are_slowed_down(server, client):
    landing = client.get("/private")
    for _ in range(5):
        reply = client.post("/private", data={"token": "svt_000000000000_wrong", "csrf": _csrf(landing)})
        assert reply.status_code == 401 and "not valid" in reply.text
    # Now even a right answer is not looked at until the delay has passed.
    for reply in (client.post("/private", data={"token": "svt_000000000000_wrong", "csrf": _csrf(landing)}),
                  client.get("/private"), client.get(PROJECT_PAGE)):
        assert reply.status_code == 429 and int(reply.headers["retry-after"]) >= 1
        _no_store(reply)


def test_an_admin_sees_anomalies_and_the_audit_log(server, client, admin_token, maintainer_token):
    reply = sign_in(client, admin_token)
    assert reply.headers["location"] == "/private"
    home = client.get("/private")
    assert 'href="/private/projects/numpy"' in home.text and 'href="/private/anomalies"' in home.text
    anomalies = client.get("/private/anomalies", params={"purpose": "abuse"})
    assert anomalies.status_code == 200 and "198.51.100.200" in anomalies.text
    log = client.get("/private/audit", params={"purpose": "security", "note": "weekly review"})
    assert log.status_code == 200
    assert "operator-ops" in log.text and "weekly review" in log.text and "anomalies" in log.text
    assert client.get("/private/projects/numpy", params={"purpose": "operations"}).status_code == 200
    assert client.get("/private/audit", params={"purpose": "x", "month": "2026-13"}).status_code == 400


def test_behind_an_https_proxy_the_cookies_are_secure_and_host_prefixed(server, client, maintainer_token):
    client.headers["X-Forwarded-Proto"] = "https"
    landing = client.get("/private")
    assert landing.headers["set-cookie"].startswith("__Host-sv_signin=")
    assert "secure" in landing.headers["set-cookie"].lower()
    # (httpx, like a browser, keeps a Secure cookie off plain HTTP: the proxy's side is HTTPS.)
    nonce = landing.headers["set-cookie"].split(";", 1)[0]
    client.cookies.clear()
    reply = client.post("/private", data={"token": maintainer_token, "csrf": _csrf(landing)},
                        headers={"Cookie": nonce})
    assert reply.status_code == 303
    cookie = next(v for v in reply.headers.get_list("set-cookie") if v.startswith("__Host-sv_session="))
    assert "secure" in cookie.lower() and "path=/" in cookie.lower() and "domain" not in cookie.lower()


def test_sign_in_returns_only_to_a_private_page_of_this_site(server, client, admin_token):
    for target in ("//evil.example/private", "https://evil.example/", "/private/../admin", "/elsewhere"):
        reply = sign_in(client, admin_token, next=target)
        assert reply.headers["location"] == "/private", target
    assert sign_in(client, admin_token, next="/private/audit").headers["location"] == "/private/audit"


# -- a real browser ---------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.mark.browser
@pytest.mark.slow
def test_a_maintainer_signs_in_and_sees_the_institutions_in_a_browser(server, maintainer_token):
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900}, timezone_id="UTC",
                                          extra_http_headers={"X-Forwarded-For": next(_addresses)})
            page = context.new_page()
            problems: list[str] = []
            page.on("console", lambda m: m.type in ("error", "warning") and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(server.url + "/private")
            page.fill('input[name="token"]', maintainer_token)
            page.click('form.signin button[type="submit"]')
            page.wait_for_url("**" + PROJECT_PAGE)
            page.select_option('select[name="purpose"]', "maintenance")
            page.fill('input[name="note"]', "planning the 2.0 release")
            page.click('[data-testid="purpose-form"] button[type="submit"]')
            page.wait_for_selector('[data-testid="institutions-table"] tbody tr')
            rows = page.eval_on_selector_all('[data-testid="institutions-table"] tbody tr',
                                             "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
            assert [(r[1], r[3]) for r in rows] == [("Stanford University", "12"), ("example-corp.com", "7")]
            assert "purpose=maintenance" in page.url
            # The session cookie is out of the page's reach.
            assert page.evaluate("() => document.cookie") == ""
            assert "alice@scikit-learn.example" in page.text_content('[data-testid="private-bar"]')
            page.screenshot(path=artifacts / "private-project-maintainer.png", full_page=True)
            page.click('[data-testid="private-bar"] button[type="submit"]')
            page.wait_for_selector('input[name="token"]')
            assert problems == []
            context.close()
        finally:
            browser.close()


def test_openapi_documents_the_private_api_and_transparency(server):
    document = httpx.get(server.url + "/openapi.json", timeout=10).json()
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path in ("/api/v1/private/projects/{project}/institutions", "/api/v1/private/anomalies",
                 "/api/v1/private/audit"):
        operation = document["paths"][path]["get"]
        assert operation["security"] == [{"bearerAuth": []}], path
        assert {"200", "400", "401", "403", "429"} <= set(operation["responses"]), path
        assert "Retry-After" in operation["responses"]["429"]["headers"]
    transparency = document["paths"]["/api/v1/transparency"]["get"]
    assert "security" not in transparency and "200" in transparency["responses"]
    assert not any(path.startswith("/private") for path in document["paths"])  # pages are for people
