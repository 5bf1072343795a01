"""Public notices: posted by `admin notice post`, read through the page, the Atom feed (parsed
by feedparser, as a feed reader would), the JSON API and the home page; corrected only by a
new notice; and no notice route shows an address or an installation id."""

from __future__ import annotations

import html
import re

import feedparser
import pytest

from _services.server import start_server
from notice_helpers import admin, write
from pings import new_id, post, usage

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
NOTICE_ROUTES = ("/", "/notices", "/notices/1", "/notices/2", "/notices.atom", "/api/v1/notices",
                 "/privacy", "/privacy/policy", "/privacy/policy/v1", "/privacy/policy/v2",
                 "/privacy/policy/v2/changes", "/api/v1/privacy/policy", "/transparency",
                 "/api/v1/transparency")


def test_a_notice_is_on_the_page_the_feed_the_api_and_the_home_page(notices_server, client, tmp_path):
    body = write(tmp_path / "breach.md", "We learned of a breach on **1 December**.\n\n"
                                         "<script>alert(1)</script>\n\nRotate nothing: see the "
                                         "[policy](/privacy/policy).\n")
    posted = admin(notices_server, "notice", "post", "--kind", "security", "--title",
                   "A security breach", "--body", body)
    assert posted.returncode == 0 and "posted notice 1" in posted.stderr

    page = client.get(notices_server.url + "/notices/1")
    assert page.status_code == 200 and "A security breach" in page.text
    assert "<strong>1 December</strong>" in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert" not in page.text
    listing = client.get(notices_server.url + "/notices").text
    assert 'href="/notices/1"' in listing and 'href="/notices.atom"' in listing
    assert 'data-testid="latest-notice"' in client.get(notices_server.url + "/").text

    api = client.get(notices_server.url + "/api/v1/notices").json()["notices"]
    assert [(n["id"], n["kind"], n["title"]) for n in api] == [(1, "security", "A security breach")]
    assert api[0]["url"] == notices_server.url + "/notices/1" and api[0]["posted_at"].endswith("+00:00")

    reply = client.get(notices_server.url + "/notices.atom")
    assert reply.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(reply.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10" and feed.feed.title == "Sempervirens notices"
    assert feed.feed.id and feed.feed.updated_parsed
    assert any(link.rel == "self" and link.href.endswith("/notices.atom") for link in feed.feed.links)
    [entry] = feed.entries
    assert entry.title == "A security breach" and entry.id == notices_server.url + "/notices/1"
    assert entry.link == notices_server.url + "/notices/1" and entry.updated_parsed
    assert entry.tags[0].term == "security"
    assert "<strong>1 December</strong>" in entry.content[0].value
    assert "<script>" not in entry.content[0].value  # sanitised by the reader, escaped by us


def test_a_correction_is_a_new_notice_linked_both_ways(notices_server, client, tmp_path):
    first = write(tmp_path / "one.md", "Maintenance on Monday.\n")
    assert admin(notices_server, "notice", "post", "--kind", "service", "--title", "Maintenance",
                 "--body", first).returncode == 0
    fixed = write(tmp_path / "two.md", "Maintenance on Tuesday, not Monday.\n")
    corrected = admin(notices_server, "notice", "post", "--kind", "service", "--title",
                      "Maintenance (corrected day)", "--body", fixed, "--corrects", "1")
    assert corrected.returncode == 0, corrected.stderr

    original = client.get(notices_server.url + "/notices/1").text
    assert "Maintenance on Monday." in original  # never edited
    assert 'data-testid="corrected-by"' in original and 'href="/notices/2"' in original
    correction = client.get(notices_server.url + "/notices/2").text
    assert 'data-testid="corrects"' in correction and 'href="/notices/1"' in correction
    api = {n["id"]: n for n in client.get(notices_server.url + "/api/v1/notices").json()["notices"]}
    assert api[1]["corrected_by"] == [2] and api[2]["corrects"] == 1
    feed = feedparser.parse(client.get(notices_server.url + "/notices.atom").content)
    newest = feed.entries[0]
    assert any(link.rel == "related" and link.href.endswith("/notices/1") for link in newest.links)

    listed = admin(notices_server, "notice", "list")
    assert listed.returncode == 0 and listed.stdout.splitlines()[0].endswith("corrects 1")


def test_bad_notices_are_refused_in_one_line_and_nothing_is_posted(notices_server, client, tmp_path):
    good = write(tmp_path / "good.md", "Text.\n")
    cases = [
        (("--kind", "security", "--title", "t", "--body", write(tmp_path / "id.md",
          f"The installation {new_id()} was affected.\n")), "installation id"),
        (("--kind", "legal-request", "--title", "From 192.0.2.44", "--body", good), "IP address"),
        (("--kind", "service", "--title", "t", "--body", write(tmp_path / "v6.md", "from 2001:db8::7\n")),
         "IP address"),
        (("--kind", "service", "--title", " ", "--body", good), "--title"),
        (("--kind", "service", "--title", "x" * 201, "--body", good), "--title"),
        (("--kind", "service", "--title", "t", "--body", write(tmp_path / "empty.md", "\n")), "empty"),
        (("--kind", "service", "--title", "t", "--body", str(tmp_path / "missing.md")), "cannot read"),
        (("--kind", "service", "--title", "t", "--body", good, "--corrects", "5"), "no such notice"),
        # What no published text may hold (model/text.py): PostgreSQL cannot store a NUL,
        # XML (the Atom feed) no C0 control, a terminal reading `notice list` takes ESC and
        # CSI as escapes, and the bidirectional controls reorder what a reader sees.
        (("--kind", "service", "--title", "red \x1b[31m", "--body", good), "U+001B"),
        (("--kind", "service", "--title", "t", "--body", write(tmp_path / "nul.md", "a\x00b\n")),
         "U+0000"),
        (("--kind", "service", "--title", "t", "--body", write(tmp_path / "vt.md", "a\x0bb\n")),
         "U+000B"),
        (("--kind", "service", "--title", "t", "--body", write(tmp_path / "csi.md", "a\x9b2Jb\n")),
         "U+009B"),
        (("--kind", "service", "--title", "t", "--body", write(tmp_path / "rlo.md", "a\u202eb\n")),
         "U+202E"),
        (("--kind", "service", "--title", "isolate \u2066x", "--body", good), "U+2066"),
        (("--kind", "service", "--title", "t", "--body", write(tmp_path / "nc.md", "a\uffffb\n")),
         "U+FFFF"),
    ]
    for args, expected in cases:
        result = admin(notices_server, "notice", "post", *args)
        assert result.returncode != 0, args
        assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    usage_error = admin(notices_server, "notice", "post", "--kind", "gossip", "--title", "t", "--body", good)
    assert usage_error.returncode == 2 and "invalid choice: 'gossip'" in usage_error.stderr
    assert client.get(notices_server.url + "/api/v1/notices").json() == {"notices": []}


def test_no_reader_of_a_notice_fetches_anything_from_elsewhere(notices_server, client, tmp_path):
    """An image would be fetched from its host by every feed reader (no CSP there): a
    tracking pixel. It is published as a link, which a reader follows or not."""
    pixel = "https://tracker.example/p.png?notice=1"
    body = write(tmp_path / "img.md", f"Read this.\n\n![logo]({pixel})\n\n<img src=\"{pixel}\">\n")
    assert admin(notices_server, "notice", "post", "--kind", "service", "--title", "Images",
                 "--body", body).returncode == 0
    seed = admin(notices_server, "policy", "show").stdout
    assert admin(notices_server, "policy", "publish", write(tmp_path / "v2.md", f"{seed}![x]({pixel})\n"),
                 "--summary", "An image.").returncode == 0
    for path in ("/notices/1", "/privacy/policy", "/privacy/policy/v2/changes"):
        assert "<img" not in client.get(notices_server.url + path).text, path
    feed = client.get(notices_server.url + "/notices.atom").text
    assert "<img" not in html.unescape(feed)  # the entries' HTML, escaped once in the XML
    page = client.get(notices_server.url + "/notices/1").text
    assert f'<a href="{html.escape(pixel)}">logo</a>' in page
    entries = feedparser.parse(client.get(notices_server.url + "/notices.atom").content).entries
    [entry] = [e for e in entries if e.id.endswith("/notices/1")]
    assert pixel in entry.content[0].value


def test_a_file_saved_with_a_byte_order_mark_reads_as_without(notices_server, client, tmp_path):
    """Some editors begin UTF-8 with a BOM: it is not text (it hid the first heading)."""
    body = write(tmp_path / "bom.md", "\ufeff# Maintenance\n\nOn Monday.\n")
    assert admin(notices_server, "notice", "post", "--kind", "service", "--title", "Maintenance",
                 "--body", body).returncode == 0
    seed = admin(notices_server, "policy", "show").stdout
    policy = write(tmp_path / "v2.md", "\ufeff" + seed + "x\n")
    assert admin(notices_server, "policy", "publish", policy, "--summary", "A BOM.").returncode == 0
    assert "<h1>Maintenance</h1>" in client.get(notices_server.url + "/notices/1").text
    assert "\ufeff" not in client.get(notices_server.url + "/privacy/policy").text
    assert admin(notices_server, "policy", "show").stdout == seed + "x\n"


def test_a_notice_may_hold_any_language_tabs_and_line_breaks(notices_server, client, tmp_path):
    body = write(tmp_path / "intl.md",
                 "Zürich, 東京 und São Paulo 👩\u200d🔬\r\n\n\tIndented.\n")
    assert admin(notices_server, "notice", "post", "--kind", "service", "--title",
                 "Wartung in Zürich — 東京", "--body", body).returncode == 0
    page = client.get(notices_server.url + "/notices/1").text
    assert "Wartung in Zürich — 東京" in page and "👩\u200d🔬" in page
    assert not feedparser.parse(client.get(notices_server.url + "/notices.atom").content).bozo


def test_no_notice_route_shows_an_address_or_an_installation_id(notices_server, client, tmp_path):
    client_id, address = new_id(), "198.51.100.77"
    reply = post(client, notices_server.url, usage(client_id), headers={"X-Forwarded-For": address})
    assert reply.status_code == 202
    assert notices_server.access_log()[-1]["ip"] == address  # the server did see both
    seed = admin(notices_server, "policy", "show").stdout
    assert admin(notices_server, "policy", "publish", write(tmp_path / "v2.md", seed + "More.\n"),
                 "--summary", "One more line.").returncode == 0
    assert admin(notices_server, "notice", "post", "--kind", "service", "--title", "Hello",
                 "--body", write(tmp_path / "n.md", "Hello.\n")).returncode == 0
    for path in NOTICE_ROUTES:
        answer = client.get(notices_server.url + path, headers={"X-Forwarded-For": address})
        assert answer.status_code == 200, path
        assert address not in answer.text and client_id not in answer.text, path
        assert not UUID.search(answer.text), path


def test_a_host_header_never_becomes_a_link_a_cache_keeps(notices_server, client, tmp_path):
    """Host: evil.example made every link of the feed and the notices API point there, in
    answers marked `public`: a cache in front that does not key on Host gave them to every
    reader.  Without --public-url they are kept by no cache; with it, Host is not read."""
    body = write(tmp_path / "n.md", "Read the policy.\n")
    assert admin(notices_server, "notice", "post", "--kind", "security", "--title", "T",
                 "--body", body).returncode == 0
    linked = ("/notices.atom", "/api/v1/notices", "/api/v1/privacy/policy")
    for path in linked:
        reply = client.get(notices_server.url + path, headers={"Host": "evil.example"})
        assert reply.status_code == 200 and "http://evil.example/" in reply.text, path
        assert reply.headers["cache-control"] == "no-store", path
    public = start_server(tmp_path / "public", extra_args=(
        "--public-url", "https://stats.example.org/"))
    try:
        assert admin(public, "notice", "post", "--kind", "security", "--title", "T",
                     "--body", body).returncode == 0
        for path in linked:
            reply = client.get(public.url + path, headers={"Host": "evil.example"})
            assert "evil.example" not in reply.text and "https://stats.example.org/" in reply.text
            assert reply.headers["cache-control"].startswith("public, max-age="), path
        feed = feedparser.parse(client.get(public.url + "/notices.atom").content)
        assert [e.id for e in feed.entries] == ["https://stats.example.org/notices/1"]
    finally:
        public.stop()


@pytest.mark.parametrize("url", ["stats.example.org", "javascript:alert(1)", "ftp://x.org",
                                 "https://x.org/a b", "https://user@x.org", "https://x.org?a=1"])
def test_a_public_url_that_is_not_a_site_address_is_refused(url):
    from sempervirens.settings import check, resolve

    said = check(resolve(None, {}, public_url=url), ["public_url"])
    assert said == f"--public-url {url!r}: not an address such as https://stats.example.org"
