"""Projects are onboarded by operators, under their PEP 503 name."""

from __future__ import annotations

import time

import httpx

from _services.server import start_server
from admin_helpers import bearer
from pings import post, usage
from sempervirens.cli import main


def test_add_normalises_names_and_gives_maintainers_tokens(tmp_path, capsys):
    data = ["--data-dir", str(tmp_path / "data")]
    assert main(["admin", "project", "add", "Scikit_Learn", "--maintainer", "alice", "--maintainer", "bob", *data]) == 0
    out = capsys.readouterr()
    assert "registered scikit-learn" in out.err
    issued = dict(line.split("\t") for line in out.out.splitlines())
    assert set(issued) == {"alice", "bob"} and all(t.startswith("svt_") for t in issued.values())

    assert main(["admin", "project", "add", "scikit-learn", *data]) == 0  # the same project
    assert "already registered" in capsys.readouterr().err
    assert main(["admin", "project", "add", "SCIKIT.learn", *data]) == 0
    assert main(["admin", "project", "list", *data]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 1 and listed[0].startswith("scikit-learn\t") and listed[0].endswith("alice, bob")

    assert main(["admin", "project", "add", "no spaces/allowed", *data]) == 2
    assert main(["admin", "project", "remove", "Scikit_Learn", *data]) == 0
    assert "2 maintainer token(s) revoked" in capsys.readouterr().err
    assert main(["admin", "project", "list", *data]) == 0
    assert capsys.readouterr().out == ""


def test_a_registered_only_server_accepts_the_project_under_any_spelling(tmp_path, capsys):
    data_dir = tmp_path / "data"
    assert main(["admin", "project", "add", "Scikit_Learn", "--maintainer", "alice", "--data-dir", str(data_dir)]) == 0
    token = capsys.readouterr().out.split("\t")[1].strip()
    server = start_server(data_dir, extra_args=("--registered-projects-only", "true"))
    try:
        with httpx.Client(timeout=10) as client:
            for spelling in ("scikit-learn", "Scikit_Learn", "scikit.LEARN"):
                assert post(client, server.url, usage(), project=spelling).status_code == 202
            assert post(client, server.url, usage(), project="numpy").status_code == 404
            assert client.get(server.url + "/api/v1/private/projects/Scikit_Learn/institutions",
                              headers=bearer(token)).status_code == 200

            # Removal unregisters the project and revokes its maintainers' tokens at once.
            assert main(["admin", "project", "remove", "scikit-learn", "--data-dir", str(data_dir)]) == 0
            assert client.get(server.url + "/api/v1/private/projects/scikit-learn/institutions",
                              headers=bearer(token)).status_code == 401
            time.sleep(1.1)  # the registry is reread at most every second
            assert post(client, server.url, usage(), project="scikit-learn").status_code == 404
    finally:
        server.stop()
    assert {row["project"] for row in server.pings()} == {"scikit-learn"}
