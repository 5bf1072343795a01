"""The privacy policy as versioned documents: the seed is version 1, `admin policy publish`
adds the next, every version stays reachable, and the diff page shows what changed."""

from __future__ import annotations

import re

from _services.server import start_server
from notice_helpers import CONTACT, admin, write


def test_the_seed_policy_is_version_1_and_the_privacy_page_links_it(notices_server, client):
    page = client.get(notices_server.url + "/privacy/policy")
    assert page.status_code == 200
    assert "Version 1, published" in page.text and "What do we mean by" in page.text
    assert client.get(notices_server.url + "/privacy/policy/v1").text == page.text
    privacy = client.get(notices_server.url + "/privacy").text
    assert 'href="/privacy/policy"' in privacy and f"mailto:{CONTACT}" in privacy
    assert "sempervirens forget PROJECT" in privacy
    listing = admin(notices_server, "policy", "list")
    assert listing.returncode == 0 and listing.stdout.startswith("1\t")


def test_a_new_version_keeps_the_old_one_and_its_diff_marks_the_changed_lines(notices_server, client,
                                                                             tmp_path):
    seed = admin(notices_server, "policy", "show").stdout
    changed = seed.replace("IP addresses will never be shared or displayed publicly.",
                           "IP addresses are deleted after 30 days <b>and never shared</b>.")
    assert changed != seed
    changed += "A new closing line.\n"
    published = admin(notices_server, "policy", "publish", write(tmp_path / "v2.md", changed),
                      "--summary", "Says when addresses are deleted.", "--material")
    assert published.returncode == 0, published.stderr
    assert "published version 2 (a material change)" in published.stderr

    current = client.get(notices_server.url + "/privacy/policy").text
    assert "Version 2, published" in current and "(a material change)" in current
    assert "deleted after 30 days &lt;b&gt;and never shared&lt;/b&gt;" in current  # raw HTML off
    old = client.get(notices_server.url + "/privacy/policy/v1").text
    assert "IP addresses will never be shared" in old and "the current version is 2" in old

    diff = client.get(notices_server.url + "/privacy/policy/v2/changes").text
    removed = re.findall(r'<del class="line removed">.*?</del>', diff, re.S)
    added = re.findall(r'<ins class="line added">.*?</ins>', diff, re.S)
    assert len(removed) == 1 and "will never be shared" in removed[0]
    assert len(added) == 2 and "&lt;b&gt;and never shared&lt;/b&gt;" in added[0]
    assert "A new closing line." in added[1]
    assert "<b>and never shared</b>" not in diff  # escaped, never markup
    assert 'data-testid="added">2<' in diff and 'data-testid="removed">1<' in diff

    versions = client.get(notices_server.url + "/api/v1/privacy/policy").json()
    assert versions["current"] == 2
    assert [v["version"] for v in versions["versions"]] == [2, 1]
    assert versions["versions"][0]["changes_url"].endswith("/privacy/policy/v2/changes")
    assert versions["versions"][0]["material"] is True

    # Publishing is announced as a public notice linking the diff.
    notices = client.get(notices_server.url + "/api/v1/notices").json()["notices"]
    assert notices[0]["kind"] == "policy-change" and "/privacy/policy/v2/changes" in notices[0]["body"]


def test_an_unchanged_policy_and_bad_input_are_refused_in_one_line(notices_server, tmp_path):
    seed = admin(notices_server, "policy", "show").stdout
    cases = [
        (("publish", write(tmp_path / "same.md", seed), "--summary", "nothing"), "unchanged"),
        (("publish", write(tmp_path / "empty.md", "  \n"), "--summary", "empty"), "empty"),
        (("publish", write(tmp_path / "new.md", seed + "x\n"), "--summary", "  "), "--summary"),
        (("publish", str(tmp_path / "missing.md"), "--summary", "s"), "cannot read"),
        (("show", "9"), "no version 9"),
        (("publish", write(tmp_path / "nul.md", seed + "a\x00b\n"), "--summary", "s"), "U+0000"),
        (("publish", write(tmp_path / "esc.md", seed + "x\n"), "--summary", "s \x1b[8m"), "U+001B"),
        (("publish", write(tmp_path / "rlo.md", seed + "\u202ex\n"), "--summary", "s"), "U+202E"),
    ]
    for args, expected in cases:
        result = admin(notices_server, "policy", *args)
        assert result.returncode != 0, args
        assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
    assert admin(notices_server, "policy", "list").stdout.count("\n") == 1  # still version 1 only


def test_unknown_versions_are_404(notices_server, client):
    for path in ("/privacy/policy/v2", "/privacy/policy/v0", "/privacy/policy/v2/changes",
                 "/privacy/policy/vx", "/notices/7", "/notices/x"):
        assert client.get(notices_server.url + path).status_code == 404, path
    first = client.get(notices_server.url + "/privacy/policy/v1/changes")
    assert first.status_code == 200 and "first version" in first.text


def test_ids_beyond_what_a_store_holds_are_404(tmp_path, database_args, client):
    """A version or notice id past the store's integer column is a page that does not
    exist (the driver refused to send it: a 500), on SQLite and PostgreSQL."""
    server = start_server(tmp_path / "data", extra_args=database_args)
    try:
        for number in (2**31, 2**63, 10**40):
            for path in (f"/privacy/policy/v{number}", f"/privacy/policy/v{number}/changes",
                         f"/notices/{number}"):
                reply = client.get(server.url + path)
                assert reply.status_code == 404 and "Not found" in reply.text, (path, reply.text)
        assert client.get(server.url + "/privacy/policy/v1").status_code == 200
    finally:
        server.stop()
